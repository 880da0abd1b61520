package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestStorageChecksumPin pins the storage provider binary's SHA-256 (go-plugin SecureConfig):
// the right checksum serves, a wrong one refuses to start with a message saying so.
func TestStorageChecksumPin(t *testing.T) {
	f, err := os.Open(binPath)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, _ = io.Copy(h, f)
	f.Close()
	sum := hex.EncodeToString(h.Sum(nil))

	s := startServer(t, "", "--config", writeConfig(t, "storage: {provider: sqlite, sha256: "+sum+"}\n"))
	if code, _ := postOp(t, s, "pinned", 0, []any{"ok"}, "c", 1); code != 200 {
		t.Fatalf("pinned provider: %d", code)
	}

	wrong := strings.Repeat("0", 64)
	cmd := exec.Command(binPath, "serve", "--addr", freePort(t), "--data-dir", t.TempDir(),
		"--config", writeConfig(t, "storage: {provider: sqlite, sha256: "+wrong+"}\n"))
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("server with a wrong checksum did not exit")
	}
	if err == nil || !strings.Contains(string(out), "checksum") {
		t.Fatalf("wrong checksum: err %v\n%s", err, out)
	}
}
