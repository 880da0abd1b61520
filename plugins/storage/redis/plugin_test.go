package redis_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

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
	_, err := storage.Start(t.Context(), storage.ClientConfig{Cmd: cmd, Config: []byte(`{"addr": "` + shared.addr + `", "bogus": 1}`)})
	if !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("start with an unknown config key: %v, want ErrInvalid", err)
	}
	t.Log(err)
}

func TestPluginKilled(t *testing.T) {
	t.Parallel()
	c := startPlugin(t, configJSON(t))
	doc := storage.DocKey{Tenant: "acme", ID: "doc"}
	if _, err := c.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: doc, Type: "text", Epoch: 1, Ops: storagetest.Ops(1, 1, 0)},
	}}); err != nil {
		t.Fatalf("append: %v", err)
	}
	pid := c.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !c.Exited() {
		if time.Now().After(deadline) {
			t.Fatal("Exited() still false 5s after kill -9")
		}
		time.Sleep(5 * time.Millisecond)
	}
	calls := map[string]func(ctx context.Context) error{
		"append": func(ctx context.Context) error {
			_, err := c.Append(ctx, &storage.AppendRequest{Appends: []storage.Append{{Doc: doc, Type: "text", ExpectedRevision: 1, Epoch: 1, Ops: storagetest.Ops(2, 1, 0)}}})
			return err
		},
		"load":   func(ctx context.Context) error { _, err := c.Load(ctx, doc); return err },
		"health": func(ctx context.Context) error { return c.Health(ctx) },
	}
	for name, call := range calls {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		start := time.Now()
		err := call(ctx)
		cancel()
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s after kill: %v, want ErrUnavailable", name, err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("%s after kill took %v, want fast failure", name, d)
		}
	}
}

// TestPluginDiesMidCall checks a call in flight when the subprocess dies (before Exited is
// observed) also fails with ErrUnavailable rather than hanging.
func TestPluginDiesMidCall(t *testing.T) {
	t.Parallel()
	c := startPlugin(t, configJSON(t))
	if err := syscall.Kill(c.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := c.Health(ctx)
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("health right after kill: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("health right after kill took %v", d)
	}
}
