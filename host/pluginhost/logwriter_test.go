package pluginhost

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLogWriter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := newLogWriter(slog.New(slog.NewTextHandler(&buf, nil)), "stdout", 40)
	for _, s := range []string{"first ", "line\nsecond\n", "partial", strings.Repeat("x", 100), "\nnever"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	w.flush()
	out := buf.String()
	for _, want := range []string{`line="first line"`, "line=second", "line=partial" + strings.Repeat("x", 15) + "\n", "output limit reached"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "never") {
		t.Errorf("output past the limit was logged:\n%s", out)
	}
}

func FuzzLogWriter(f *testing.F) {
	f.Add([]byte("a\nb"), 10)
	f.Add(bytes.Repeat([]byte("y"), 3000), 5000)
	f.Fuzz(func(t *testing.T, p []byte, limit int) {
		if limit < 0 || limit > 1<<20 {
			return
		}
		var buf bytes.Buffer
		w := newLogWriter(slog.New(slog.NewTextHandler(&buf, nil)), "stderr", limit)
		half := len(p) / 2
		w.Write(p[:half])
		w.Write(p[half:])
		w.flush()
		if w.written > limit {
			t.Fatalf("forwarded %d bytes, limit %d", w.written, limit)
		}
	})
}
