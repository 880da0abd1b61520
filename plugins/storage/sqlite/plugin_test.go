package sqlite_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

func startPlugin(t testing.TB, config []byte) *storage.Client {
	t.Helper()
	return storagetest.StartChild(t, "sqlite", config)
}

func TestPluginConformance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) storage.Provider {
		return startPlugin(t, configJSON(t, t.TempDir()))
	})
}

func TestPluginBadConfig(t *testing.T) {
	t.Parallel()
	cmd := storagetest.ChildCommand(t, "sqlite")
	_, err := storage.Start(t.Context(), storage.ClientConfig{Cmd: cmd, Config: []byte(`{"path": "x.db", "bogus": 1}`)})
	if !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("start with an unknown config key: %v, want ErrInvalid", err)
	}
	t.Log(err)
}

func TestPluginLifecycle(t *testing.T) {
	t.Parallel()
	storagetest.RunPluginLifecycle(t, func(t *testing.T) *storage.Client { return startPlugin(t, configJSON(t, t.TempDir())) })
}

// TestPluginAppendsOverSocket: the host reaches the SQLite plugin's appends through its append
// socket, with several requests in flight answered in order.
func TestPluginAppendsOverSocket(t *testing.T) {
	t.Parallel()
	c := startPlugin(t, configJSON(t, t.TempDir()))
	doc := storage.DocKey{Tenant: "t", ID: "sock"}
	storagetest.AppendInOrder(t, c, doc, 20)
	if got := c.AppendTransport(); got != "socket" {
		t.Fatalf("append transport %q, want socket", got)
	}
}

// A provider killed with SIGKILL cannot remove its sockets (the append socket and go-plugin's):
// the host does, when it kills the client.
func TestKilledProviderSocketRemoved(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	cmd := storagetest.ChildCommand(t, "sqlite")
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	c, err := storage.Start(t.Context(), storage.ClientConfig{Cmd: cmd, Config: configJSON(t, t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	storagetest.AppendInOrder(t, c, storage.DocKey{Tenant: "t", ID: "doc"}, 3) // over the append socket
	dirs, _ := filepath.Glob(filepath.Join(tmp, "opstream-storage-*"))
	if len(dirs) != 1 {
		t.Fatalf("socket directories %v, want one", dirs)
	}
	if err := syscall.Kill(c.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.Kill()
	if _, err := os.Stat(dirs[0]); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket directory after the kill: %v, want removed", err)
	}
	// go-plugin's handshake socket (in the subprocess's TMPDIR) too.
	if left, _ := filepath.Glob(filepath.Join(tmp, "plugin*")); len(left) != 0 {
		t.Fatalf("left in the provider's TMPDIR: %v", left)
	}
}
