package demo

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	h := Handler()
	get := func(method, p string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, p, nil))
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Code, string(b)
	}
	if !Built() {
		code, body := get("GET", "/")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "make build") {
			t.Fatalf("unbuilt: got %d %q", code, body)
		}
		t.Fatal("demo assets are not built: run make build (CI builds them before the tests)")
	}
	cases := []struct {
		name, method, path string
		code               int
		contains           string
	}{
		{"page", "GET", "/", 200, "<title>OpStream"},
		{"script", "GET", Prefix + "app.js", 200, ""},
		{"dotfile", "GET", Prefix + ".gitkeep", 404, ""},
		{"outside prefix", "GET", "/app.js", 404, ""},
		{"post", "POST", "/", 405, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := get(c.method, c.path)
			if code != c.code || !strings.Contains(body, c.contains) {
				t.Fatalf("%s %s: got %d (body %.80q), want %d containing %q", c.method, c.path, code, body, c.code, c.contains)
			}
		})
	}
}
