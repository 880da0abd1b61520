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
