package storage_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opstream/opstream/plugins/storage/memory"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

// serveEnv tells a re-executed test binary to serve a provider instead of running tests.
const serveEnv = "OPSTREAM_TEST_SERVE_STORAGE"

func TestMain(m *testing.M) {
	switch os.Getenv(serveEnv) {
	case "memory":
		storage.Serve(memory.New())
		os.Exit(0)
	case "memory-v2":
		storage.ServeVersion(memory.New(), storage.ProtocolVersion+1)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func command(t testing.TB, mode string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), raceEnv(), serveEnv+"="+mode)
	return cmd
}

// recorder is a slog.Handler keeping every record, for checking what reaches the host log.
type recorder struct {
	mu    sync.Mutex
	attrs []slog.Attr
	lines []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	for _, a := range r.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, b.String())
	return nil
}
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorderView{r: r, attrs: as}
}
func (r *recorder) WithGroup(string) slog.Handler { return r }

// recorderView is a recorder with attributes attached by Logger.With.
type recorderView struct {
	r     *recorder
	attrs []slog.Attr
}

func (v *recorderView) Enabled(context.Context, slog.Level) bool { return true }
func (v *recorderView) Handle(ctx context.Context, rec slog.Record) error {
	rec.AddAttrs(v.attrs...)
	return v.r.Handle(ctx, rec)
}
func (v *recorderView) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorderView{r: v.r, attrs: append(append([]slog.Attr(nil), v.attrs...), as...)}
}
func (v *recorderView) WithGroup(string) slog.Handler { return v }

func TestPluginConformance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) storage.Provider {
		c, err := storage.Start(t.Context(), storage.ClientConfig{Cmd: command(t, "memory"), Name: "memory"})
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		t.Cleanup(c.Kill)
		return c
	})
}

func TestVersionMismatch(t *testing.T) {
	t.Parallel()
	_, err := storage.Start(t.Context(), storage.ClientConfig{Cmd: command(t, "memory-v2"), Name: "future"})
	if err == nil {
		t.Fatal("start of a provider speaking another protocol version succeeded")
	}
	msg := err.Error()
	for _, want := range []string{
		fmt.Sprintf("host protocol version %d", storage.ProtocolVersion),
		fmt.Sprintf("Plugin version: %d", storage.ProtocolVersion+1),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}

func TestConfigForNonConfigurer(t *testing.T) {
	t.Parallel()
	_, err := storage.Start(t.Context(), storage.ClientConfig{Cmd: command(t, "memory"), Config: []byte(`{"x":1}`)})
	if !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("start with config for a provider without Configure: %v, want ErrInvalid", err)
	}
}

func TestStartNeedsCmd(t *testing.T) {
	t.Parallel()
	if _, err := storage.Start(t.Context(), storage.ClientConfig{}); err == nil {
		t.Fatal("start without a command succeeded")
	}
}

func TestStartCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := storage.Start(ctx, storage.ClientConfig{Cmd: command(t, "memory")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("start with a canceled context: %v, want context.Canceled", err)
	}
}

func TestLogsReachSlog(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	c, err := storage.Start(t.Context(), storage.ClientConfig{Cmd: command(t, "memory"), Name: "mem", Logger: slog.New(rec)})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	c.Kill()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	// The plugin's own hclog lines (from go-plugin's server) arrive through stderr.
	var fromPlugin bool
	for _, l := range rec.lines {
		if !strings.Contains(l, "plugin_id=mem") {
			t.Errorf("log line without plugin_id: %q", l)
		}
		if strings.Contains(l, "plugin address") {
			fromPlugin = true
		}
	}
	if !fromPlugin {
		t.Errorf("no line from the plugin process in %q", rec.lines)
	}
}

func TestKilledFailsFast(t *testing.T) {
	t.Parallel()
	c, err := storage.Start(t.Context(), storage.ClientConfig{Cmd: command(t, "memory")})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := c.Health(t.Context()); err != nil {
		t.Fatalf("health: %v", err)
	}
	c.Kill()
	if !c.Exited() {
		t.Fatal("Exited() false after Kill")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err = c.Load(ctx, storage.DocKey{ID: "x"})
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("load after kill: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("load after kill took %v", d)
	}
}

// raceEnv stops a -race subprocess from sleeping 1s at exit (the race runtime's default).
func raceEnv() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// TestAppendStreamWithoutAsyncProvider: a provider without AsyncAppender (memory) declines the
// append socket; the host then uses the AppendStream RPC, which answers requests in order.
func TestAppendStreamWithoutAsyncProvider(t *testing.T) {
	t.Parallel()
	c, err := storage.Start(t.Context(), storage.ClientConfig{Cmd: command(t, "memory"), Name: "memory"})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(c.Kill)
	doc := storage.DocKey{Tenant: "t", ID: "stream"}
	storagetest.AppendInOrder(t, c, doc, 10)
	if got := c.AppendTransport(); got != "stream" {
		t.Fatalf("append transport %q, want stream", got)
	}
}
