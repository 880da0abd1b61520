package pluginhost

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/opstream/opstream/host/telemetry"
)

// Defaults applied by NewRuntime.
const (
	// DefaultMemoryLimitPages bounds each instance's linear memory: 16384 pages of 64 KiB,
	// 1 GiB.
	DefaultMemoryLimitPages = 16384
	// DefaultMaxLogBytes bounds what one instance may write to stdout and stderr together.
	DefaultMaxLogBytes = 64 << 10
)

// wasiModule is the only module guests may import from.
const wasiModule = wasi_snapshot_preview1.ModuleName

// RuntimeConfig configures a Runtime.
type RuntimeConfig struct {
	// CacheDir is the compilation cache directory (about 3.7x each .wasm's size, keyed by the
	// wazero version). Empty means no cache: each start compiles every module again (about
	// 2.4 s for a 3.3 MB Go guest against 82 ms warm).
	CacheDir string
	// MemoryLimitPages bounds each instance's linear memory in 64 KiB pages. Zero means
	// DefaultMemoryLimitPages (1 GiB). A Go guest needs about 3.3 MiB just to start.
	MemoryLimitPages uint32
	// MaxLogBytes bounds, per instance, what the guest may write to stdout and stderr; the
	// rest is dropped. Zero means DefaultMaxLogBytes (64 KiB).
	MaxLogBytes int
	// Trusted turns off WithCloseOnContextDone for every module of this runtime: calls run
	// 3-4.5x faster (the text engine's apply with 5 concurrent ops: 22 µs instead of 99 µs),
	// but a call's deadline can no longer stop a guest that loops forever, and a cancelled
	// context does not interrupt a call in flight. Use it only for modules the operator trusts
	// as much as the server itself (the built-in ones, or ones configured as trusted); hostile
	// or unknown modules belong in a sandboxed (default) runtime.
	Trusted bool
	// Logger receives module output and pool events. Nil means slog.Default().
	Logger *slog.Logger
	// Metrics counts calls and traps per module (plugin label: the module's name) and
	// instances replaced after a trap; nil means none.
	Metrics *telemetry.Metrics
}

// Runtime is the one wazero runtime of a server: it owns the compiled modules and every
// instance made from them. It is safe for concurrent use.
//
// Every call into a guest runs under a deadline, enforced by wazero's
// WithCloseOnContextDone: the only thing that stops a guest in an infinite loop. It costs
// about 1.3 µs per call and 2.6-9x on loop-heavy guests (wazero v1.12, measured), a price
// paid for every module since the setting is per runtime.
type Runtime struct {
	rt          wazero.Runtime
	cache       wazero.CompilationCache
	logger      *slog.Logger
	maxLogBytes int
	wasiFuncs   map[string]bool
	metrics     *telemetry.Metrics
	trusted     bool // no WithCloseOnContextDone: a deadline cannot stop a guest

	mu     sync.Mutex
	closed bool
}

// NewRuntime starts a wazero runtime (compiler engine) and instantiates WASI in it with no
// filesystem, no environment, no arguments and wazero's deterministic fake clocks.
func NewRuntime(ctx context.Context, cfg RuntimeConfig) (*Runtime, error) {
	if cfg.MemoryLimitPages == 0 {
		cfg.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if cfg.MemoryLimitPages > 65536 {
		return nil, fmt.Errorf("new plugin runtime: MemoryLimitPages %d is above the wasm32 maximum of 65536", cfg.MemoryLimitPages)
	}
	if cfg.MaxLogBytes == 0 {
		cfg.MaxLogBytes = DefaultMaxLogBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithCloseOnContextDone(!cfg.Trusted).
		WithMemoryLimitPages(cfg.MemoryLimitPages)
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		var err error
		cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("new plugin runtime: compilation cache %s: %w", cfg.CacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("new plugin runtime: instantiate wasi: %w", err)
	}
	if err := instantiateHostFuncs(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("new plugin runtime: instantiate host functions: %w", err)
	}
	wasi := map[string]bool{}
	for name := range rt.Module(wasiModule).ExportedFunctionDefinitions() {
		wasi[name] = true
	}
	return &Runtime{
		rt:          rt,
		cache:       cache,
		logger:      cfg.Logger.With("component", "pluginhost"),
		maxLogBytes: cfg.MaxLogBytes,
		wasiFuncs:   wasi,
		metrics:     cfg.Metrics,
		trusted:     cfg.Trusted,
	}, nil
}

// callCtx bounds a guest call by timeout. On a trusted runtime the deadline could not stop the
// guest anyway, so the timer is not made (a context with a deadline per call cost ~3% of the
// server's CPU at 20,000 ops/s): the parent context is used as is.
func (r *Runtime) callCtx(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if r.trusted {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}

// Close closes every module and instance made by this runtime, then the runtime. Calls in
// flight fail. Close is idempotent.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	err := r.rt.Close(ctx)
	if r.cache != nil {
		if cerr := r.cache.Close(ctx); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("close plugin runtime: %w", err)
	}
	return nil
}

func (r *Runtime) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}
