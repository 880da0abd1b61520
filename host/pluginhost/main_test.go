package pluginhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Test guests under testdata/, built for wasip1 by TestMain.
var guests = []string{"engine", "authorizer", "badabi", "forbidden", "noexports"}

var (
	wasmDir   string          // built guests: wasmDir/<name>.wasm
	cacheDir  string          // wazero compilation cache shared by the tests' runtimes
	testLogs  = &syncBuffer{} // output of the shared runtime's logger
	shared    *Runtime        // runtime shared by tests that need no special config
	modMu     sync.Mutex      // guards mods
	mods      = map[string]*Module{}
	extraWasm = map[string]string{} // shipped guests from other folders: name -> path
	extraErr  = map[string]error{}  // shipped guests that did not build: name -> why
)

// syncBuffer is a goroutine-safe bytes.Buffer for log output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		_ = shared.Close(context.Background())
	}
	if wasmDir != "" {
		_ = os.RemoveAll(wasmDir)
	}
	os.Exit(code)
}

var (
	setupOnce sync.Once
	setupErr  error
)

// mustSetup builds the guests and starts the shared runtime on first use, so tests that need
// no guest (and fuzz workers) do not pay for them.
func mustSetup(t testing.TB) {
	t.Helper()
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("test setup: %v", setupErr)
	}
}

func setup() error {
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		return err
	}
	wasmDir = dir
	// The compilation cache outlives the run (it is keyed by wazero version and module hash):
	// a cold compile of a Go guest takes seconds.
	cacheDir = filepath.Join(os.TempDir(), "opstream-pluginhost-test-cache")
	if ucd, err := os.UserCacheDir(); err == nil {
		cacheDir = filepath.Join(ucd, "opstream", "pluginhost-test-wazero")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(guests))
	for i, g := range guests {
		wg.Go(func() {
			errs[i] = buildGuest(root, "./host/pluginhost/testdata/"+g, filepath.Join(dir, g+".wasm"))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Guests written by other engineers: a test skips when their folder does not exist and
	// fails when it exists but does not build.
	for name, pkg := range map[string]string{
		"text":     "./plugins/transforms/text/wasm",
		"allowall": "./plugins/authorizers/allowall",
	} {
		out := filepath.Join(dir, name+".wasm")
		if err := buildGuest(root, pkg, out); err != nil {
			extraErr[name] = err
			fmt.Fprintf(os.Stderr, "pluginhost tests: guest %s not available: %v\n", pkg, firstLine(err.Error()))
			continue
		}
		extraWasm[name] = out
	}
	shared, err = NewRuntime(context.Background(), RuntimeConfig{
		CacheDir:         cacheDir,
		MemoryLimitPages: 1024, // 64 MiB: the memory bomb hits it quickly
		Logger:           slog.New(slog.NewTextHandler(testLogs, nil)),
	})
	return err
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// errNoSource reports a guest whose source folder does not exist (yet).
var errNoSource = errors.New("no source folder")

func buildGuest(root, pkg, out string) error {
	if _, err := os.Stat(filepath.Join(root, pkg)); err != nil {
		return fmt.Errorf("%s: %w", pkg, errNoSource)
	}
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

func readWasm(t testing.TB, name string) []byte {
	t.Helper()
	mustSetup(t)
	path := filepath.Join(wasmDir, name+".wasm")
	if p, ok := extraWasm[name]; ok {
		path = p
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read guest: %v", err)
	}
	return b
}

// module compiles a guest once on the shared runtime.
func module(t testing.TB, name string) *Module {
	t.Helper()
	mustSetup(t)
	modMu.Lock()
	defer modMu.Unlock()
	if m, ok := mods[name]; ok {
		return m
	}
	m, err := shared.Compile(context.Background(), name, readWasm(t, name))
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	mods[name] = m
	return m
}

func newTestEngine(t testing.TB, cfg EngineConfig) *Engine {
	t.Helper()
	e, err := NewEngine(context.Background(), module(t, "engine"), cfg)
	if err != nil {
		t.Fatalf("new engine: %v", err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}
