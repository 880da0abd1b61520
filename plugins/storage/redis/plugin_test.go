package redis_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

// serveEnv tells a re-executed test binary to serve the provider instead of running tests.
const serveEnv = "OPSTREAM_TEST_SERVE_STORAGE"

func startPlugin(t testing.TB, config []byte) *storage.Client {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), raceEnv(), serveEnv+"=redis")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := storage.Start(ctx, storage.ClientConfig{
		Cmd:    cmd,
		Name:   "redis",
		Config: config,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatalf("start plugin: %v", err)
	}
	t.Cleanup(c.Kill)
	return c
}

// testWriter sends log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func TestPluginConformance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) storage.Provider {
		return startPlugin(t, configJSON(t))
	})
}

func TestPluginBadConfig(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), raceEnv(), serveEnv+"=redis")
	_, err = storage.Start(t.Context(), storage.ClientConfig{Cmd: cmd, Config: []byte(`{"addr": "` + shared.addr + `", "bogus": 1}`)})
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

// raceEnv stops a -race subprocess from sleeping 1s at exit (the race runtime's default).
func raceEnv() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}
