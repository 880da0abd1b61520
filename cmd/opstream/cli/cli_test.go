package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPluginInspect(t *testing.T) {
	mod := filepath.Join("..", "..", "..", "bin", "plugins", "acl.wasm")
	if _, err := os.Stat(mod); err != nil {
		t.Fatalf("%s missing: run make build: %v", mod, err)
	}
	var out, errb bytes.Buffer
	if err := Plugin(context.Background(), []string{"inspect", mod}, &out, &errb); err != nil {
		t.Fatalf("inspect: %v\n%s", err, errb.String())
	}
	for _, want := range []string{"role:         authorizer", "name:         acl 1.0.0", "abi:          1", "authorize", "wasi_snapshot_preview1."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.wasm")
	if err := os.WriteFile(bad, []byte("\x00asm\x01\x00\x00\x00garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := Plugin(context.Background(), []string{"inspect", bad}, &out, &errb); err == nil || !strings.Contains(err.Error(), "module refused") {
		t.Fatalf("bad module: %v", err)
	}
	if code := Main(context.Background(), []string{"plugin", "inspect"}, &out, &errb); code != 1 {
		t.Fatalf("usage error exit %d", code)
	}
}

func TestPluginCheck(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join("..", "..", "..", "bin", "plugins", "text.wasm")
	ops := filepath.Join(dir, "ops.json")
	if err := os.WriteFile(ops, []byte(`[["a"], ["bc"], ["😀x"], ["xyz"]]`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := Plugin(context.Background(), []string{"check", "--samples", ops, text}, &out, &errb); err != nil {
		t.Fatalf("text engine check: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "converges on 12 ordered pairs") {
		t.Fatalf("output: %s", out.String())
	}
	acl := filepath.Join("..", "..", "..", "bin", "plugins", "acl.wasm")
	conf := filepath.Join(dir, "acl.json")
	if err := os.WriteFile(conf, []byte(`{"tokens":{"t":{"subject":"ann"}},"rules":[{"doc":"a*","subject":"ann","access":"write"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	reqs := filepath.Join(dir, "reqs.jsonl")
	good := `{"request":{"action":"join","docId":"abc","token":"t"},"access":"write"}
{"request":{"action":"join","docId":"zzz","token":"t"},"access":"none"}
`
	if err := os.WriteFile(reqs, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := Plugin(context.Background(), []string{"check", "--samples", reqs, "--config", conf, acl}, &out, &errb); err != nil {
		t.Fatalf("acl check: %v", err)
	}
	if err := os.WriteFile(reqs, []byte(`{"request":{"docId":"zzz","token":"t"},"access":"write"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Plugin(context.Background(), []string{"check", "--samples", reqs, "--config", conf, acl}, &out, &errb); err == nil || !strings.Contains(err.Error(), "want write") {
		t.Fatalf("a wrong expectation passed: %v", err)
	}
}
