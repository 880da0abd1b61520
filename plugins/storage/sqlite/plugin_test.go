package sqlite_test

import (
	"errors"
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
