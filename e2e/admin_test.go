package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opstream/opstream/client"
	"github.com/opstream/opstream/protocol"
)

const adminToken = "admin-token-0123456789abcdef"

type adminList struct {
	Tenant string `json:"tenant"`
	Docs   []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Revision int64  `json:"revision"`
	} `json:"docs"`
	Next string `json:"next"`
}

type adminDiag struct {
	ID                 string   `json:"id"`
	Node               string   `json:"node"`
	Owner              string   `json:"owner"`
	Loaded             bool     `json:"loaded"`
	Type               string   `json:"type"`
	Revision           int64    `json:"revision"`
	Peers              []string `json:"peers"`
	SnapshotRevision   int64    `json:"snapshotRevision"`
	SnapshotAgeSeconds float64  `json:"snapshotAgeSeconds"`
	Ops                []struct {
		Revision int64 `json:"revision"`
	} `json:"ops"`
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestAdminDeniedByDefault: without admin.token or plugins.management the management API
// refuses everything, with or without a token.
func TestAdminDeniedByDefault(t *testing.T) {
	s := startServer(t, "")
	if code, _ := postOp(t, s, "secret", 0, []any{"x"}, "c", 1); code != 200 {
		t.Fatalf("post op: %d", code)
	}
	for _, req := range []struct{ method, path, token string }{
		{"GET", "/v1/admin/docs", ""},
		{"GET", "/v1/admin/docs", adminToken},
		{"GET", "/v1/admin/docs/secret/diag", adminToken},
		{"DELETE", "/v1/admin/docs/secret", adminToken},
	} {
		var e apiError
		if code := httpJSONAuth(t, req.method, s.url(req.path), req.token, nil, &e); code != 403 || e.Error.Code != "Forbidden" {
			t.Errorf("%s %s: %d %+v, want 403 Forbidden", req.method, req.path, code, e)
		}
	}
	if code, d := getDoc(t, s, "secret"); code != 200 || d.Revision != 1 {
		t.Fatalf("the document changed: %d %+v", code, d)
	}
}

// TestAdminWithToken: the admin token opens list, diag and delete; deleting a document with
// live peers drops them with a clear reason before the document goes; the CLI speaks the API.
func TestAdminWithToken(t *testing.T) {
	s := startServer(t, "", "--config", writeConfig(t, "admin: {token: "+adminToken+"}\n"))
	for i, id := range []string{"a1", "a2", "a3"} {
		for seq := uint64(1); seq <= uint64(i+1); seq++ {
			if code, _ := postOp(t, s, id, int64(seq-1), []any{"x"}, "c", seq); code != 200 {
				t.Fatalf("post op: %d", code)
			}
		}
	}
	var e apiError
	if code := httpJSONAuth(t, "GET", s.url("/v1/admin/docs"), "", nil, &e); code != 401 || e.Error.Code != "Unauthenticated" {
		t.Errorf("no token: %d %+v, want 401", code, e)
	}
	if code := httpJSONAuth(t, "GET", s.url("/v1/admin/docs"), adminToken+"x", nil, &e); code != 403 {
		t.Errorf("wrong token: %d %+v, want 403", code, e)
	}

	var page adminList
	if code := httpJSONAuth(t, "GET", s.url("/v1/admin/docs?limit=2"), adminToken, nil, &page); code != 200 {
		t.Fatalf("list: %d", code)
	}
	if len(page.Docs) != 2 || page.Docs[0].ID != "a1" || page.Docs[1].ID != "a2" || page.Next != "a2" || page.Tenant != "default" {
		t.Fatalf("first page: %+v", page)
	}
	after := page.Next
	page = adminList{}
	if code := httpJSONAuth(t, "GET", s.url("/v1/admin/docs?limit=2&after="+after), adminToken, nil, &page); code != 200 {
		t.Fatalf("list: %d", code)
	}
	if len(page.Docs) != 1 || page.Docs[0].ID != "a3" || page.Docs[0].Revision != 3 || page.Docs[0].Type != "text" || page.Next != "" {
		t.Fatalf("second page: %+v", page)
	}
	page = adminList{}
	if code := httpJSONAuth(t, "GET", s.url("/v1/admin/docs?tenant=other"), adminToken, nil, &page); code != 200 || len(page.Docs) != 0 {
		t.Fatalf("other tenant: %d %+v", code, page)
	}

	// Two live peers on a3.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var docs []*client.Doc
	for i := 0; i < 2; i++ {
		c, err := client.Dial(ctx, s.wsURL(), client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		d, err := c.Join(ctx, "a3", "text")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range d.Events() {
			}
		}()
		docs = append(docs, d)
	}
	var diag adminDiag
	if code := httpJSONAuth(t, "GET", s.url("/v1/admin/docs/a3/diag?ops=2"), adminToken, nil, &diag); code != 200 {
		t.Fatalf("diag: %d", code)
	}
	if !diag.Loaded || diag.Node == "" || diag.Owner != diag.Node || diag.Revision != 3 || diag.Type != "text" ||
		len(diag.Peers) != 2 || len(diag.Ops) != 2 || diag.Ops[0].Revision != 2 || diag.Ops[1].Revision != 3 {
		t.Fatalf("diag of a loaded document: %+v", diag)
	}
	if code := httpJSONAuth(t, "GET", s.url("/v1/admin/docs/nope/diag"), adminToken, nil, &e); code != 404 {
		t.Errorf("diag of a missing document: %d %+v", code, e)
	}

	// The CLI, table and JSON.
	out := runAdminCLI(t, s, "list")
	for _, want := range []string{"ID", "REVISION", "a1", "a2", "a3"} {
		if !strings.Contains(out, want) {
			t.Errorf("admin docs list lacks %q:\n%s", want, out)
		}
	}
	var cliDiag adminDiag
	if err := json.Unmarshal([]byte(runAdminCLI(t, s, "diag", "a3", "--json")), &cliDiag); err != nil || cliDiag.Revision != 3 || len(cliDiag.Peers) != 2 {
		t.Errorf("admin docs diag --json: %+v %v", cliDiag, err)
	}
	out = runAdminCLI(t, s, "diag", "a3")
	for _, want := range append([]string{"revision", "owner", "snapshot"}, cliDiag.Peers...) {
		if !strings.Contains(out, want) {
			t.Errorf("admin docs diag table lacks %q:\n%s", want, out)
		}
	}

	// Delete a3 while both peers are live.
	var del struct {
		Deleted      bool  `json:"deleted"`
		Revision     int64 `json:"revision"`
		EvictedPeers int   `json:"evictedPeers"`
	}
	if code := httpJSONAuth(t, "DELETE", s.url("/v1/admin/docs/a3"), adminToken, nil, &del); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if !del.Deleted || del.Revision != 3 || del.EvictedPeers != 2 {
		t.Fatalf("delete answer: %+v", del)
	}
	for i, d := range docs {
		select {
		case <-d.Done():
		case <-ctx.Done():
			t.Fatalf("peer %d was not evicted", i)
		}
		var perr *protocol.Error
		if err := d.Err(); !errors.As(err, &perr) || perr.Code != protocol.CodeNotFound || !strings.Contains(perr.Message, "deleted by an administrator") {
			t.Errorf("peer %d ended with %v, want NotFound: ... deleted by an administrator", i, err)
		}
	}
	if code, _ := getDoc(t, s, "a3"); code != 404 {
		t.Errorf("GET the deleted document: %d, want 404", code)
	}
	page = adminList{}
	if code := httpJSONAuth(t, "GET", s.url("/v1/admin/docs"), adminToken, nil, &page); code != 200 || len(page.Docs) != 2 {
		t.Errorf("list after delete: %d %+v", code, page)
	}
	if code := httpJSONAuth(t, "DELETE", s.url("/v1/admin/docs/a3"), adminToken, nil, &e); code != 404 {
		t.Errorf("delete again: %d %+v, want 404", code, e)
	}
	if out := runAdminCLI(t, s, "delete", "a2"); !strings.Contains(out, "deleted a2") {
		t.Errorf("admin docs delete: %s", out)
	}
	// A bad token through the CLI is an error that names the code.
	cmd := exec.Command(binPath, "admin", "docs", "list", "--addr", s.addr, "--token", "wrong-token-0123456789")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "Forbidden") {
		t.Errorf("CLI with a wrong token: %v %s", err, stderr.String())
	}
}

// TestAdminManagementAuthorizer: a WASM authorizer module asked with action "admin" opens
// the API per credential: read lists, write deletes, a tenant limits.
func TestAdminManagementAuthorizer(t *testing.T) {
	plugins, err := filepath.Abs(filepath.Join(filepath.Dir(binPath), "plugins"))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "--config", writeConfig(t, fmt.Sprintf(`plugins:
  management:
    module: %s/tokens.wasm
    config:
      tokens:
        ops-read: {access: read}
        ops-write: {access: write}
        acme-only: {access: write, tenant: acme}
`, plugins)))
	if code, _ := postOp(t, s, "m1", 0, []any{"x"}, "c", 1); code != 200 {
		t.Fatal(code)
	}
	var e apiError
	var page adminList
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/v1/admin/docs", "nobody", 403},
		{"GET", "/v1/admin/docs", "ops-read", 200},
		{"GET", "/v1/admin/docs/m1/diag", "ops-read", 200},
		{"DELETE", "/v1/admin/docs/m1", "ops-read", 403},
		{"GET", "/v1/admin/docs", "acme-only", 403},
		{"GET", "/v1/admin/docs?tenant=acme", "acme-only", 200},
		{"DELETE", "/v1/admin/docs/m1", "ops-write", 200},
	} {
		if code := httpJSONAuth(t, c.method, s.url(c.path), c.token, nil, &e); code != c.want {
			t.Errorf("%s %s as %s: %d %+v, want %d", c.method, c.path, c.token, code, e, c.want)
		}
	}
	if code := httpJSONAuth(t, "GET", s.url("/v1/admin/docs"), "ops-read", nil, &page); code != 200 || len(page.Docs) != 0 {
		t.Errorf("after delete: %d %+v", code, page)
	}
}

func runAdminCLI(t *testing.T, s *server, args ...string) string {
	t.Helper()
	full := append([]string{"admin", "docs"}, args...)
	full = append(full, "--addr", s.addr, "--token", adminToken)
	// Flags go after the document id; keep the id right after the command.
	cmd := exec.Command(binPath, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("opstream %s: %v\n%s", strings.Join(full, " "), err, stderr.String())
	}
	return stdout.String()
}
