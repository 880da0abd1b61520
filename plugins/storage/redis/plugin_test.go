package redis_test

import (
	"errors"
	"testing"

	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

func startPlugin(t testing.TB, config []byte) *storage.Client {
	t.Helper()
	return storagetest.StartChild(t, "redis", config)
}

func TestPluginConformance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) storage.Provider {
		return startPlugin(t, configJSON(t))
	})
}

func TestPluginBadConfig(t *testing.T) {
	t.Parallel()
	cmd := storagetest.ChildCommand(t, "redis")
	_, err := storage.Start(t.Context(), storage.ClientConfig{Cmd: cmd, Config: []byte(`{"addr": "` + shared.Addr() + `", "bogus": 1}`)})
	if !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("start with an unknown config key: %v, want ErrInvalid", err)
	}
	t.Log(err)
}

func TestPluginLifecycle(t *testing.T) {
	t.Parallel()
	storagetest.RunPluginLifecycle(t, func(t *testing.T) *storage.Client { return startPlugin(t, configJSON(t)) })
}
