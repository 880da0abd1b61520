package storagetest

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// ServeEnv tells a re-executed test binary to serve a provider instead of running tests.
const ServeEnv = "OPSTREAM_TEST_SERVE_STORAGE"

// ServeIfChild is for a provider's TestMain: when the test binary was re-executed by
// ChildCommand or StartChild, it serves the provider named in ServeEnv (newProvider returns nil
// for names it does not know) and exits; otherwise it returns and the tests run. This is how a
// provider is tested through the real go-plugin boundary without building a second binary,
// the way the opstream binary re-executes itself as `opstream storage-plugin NAME`.
func ServeIfChild(newProvider func(name string) storage.Provider) {
	name := os.Getenv(ServeEnv)
	if name == "" {
		return
	}
	if p := newProvider(name); p != nil {
		storage.Serve(p)
		os.Exit(0)
	}
	os.Exit(3)
}

// ChildCommand re-executes the test binary as the provider name (see ServeIfChild).
func ChildCommand(t testing.TB, name string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	// A race-enabled child otherwise sleeps 1 s at exit.
	race := "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), race, ServeEnv+"="+name)
	return cmd
}

// StartChild starts the provider name as a go-plugin subprocess of the test binary with the
// config block, and kills it when the test ends. Its logs go to the test log.
func StartChild(t testing.TB, name string, config []byte) *storage.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := storage.Start(ctx, storage.ClientConfig{
		Cmd:    ChildCommand(t, name),
		Name:   name,
		Config: config,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatalf("start plugin %s: %v", name, err)
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
