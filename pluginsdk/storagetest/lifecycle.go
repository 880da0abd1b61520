package storagetest

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// RunPluginLifecycle checks how a provider running as a go-plugin subprocess fails when the
// process dies: every call then fails fast with storage.ErrUnavailable, also right after the
// kill, before the client has noticed the exit. start starts a fresh provider subprocess (see
// StartChild).
func RunPluginLifecycle(t *testing.T, start func(t *testing.T) *storage.Client) {
	t.Run("killed", func(t *testing.T) {
		t.Parallel()
		pluginKilled(t, start)
	})
	t.Run("dies mid call", func(t *testing.T) {
		t.Parallel()
		pluginDiesMidCall(t, start)
	})
}

func pluginKilled(t *testing.T, startChild func(t *testing.T) *storage.Client) {
	c := startChild(t)
	doc := storage.DocKey{Tenant: "acme", ID: "doc"}
	if _, err := c.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: doc, Type: "text", Epoch: 1, Ops: Ops(1, 1, 0)},
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
			_, err := c.Append(ctx, &storage.AppendRequest{Appends: []storage.Append{{Doc: doc, Type: "text", ExpectedRevision: 1, Epoch: 1, Ops: Ops(2, 1, 0)}}})
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

func pluginDiesMidCall(t *testing.T, startChild func(t *testing.T) *storage.Client) {
	c := startChild(t)
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
