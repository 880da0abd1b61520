package pluginhost

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/opstream/opstream/pluginsdk/wasm"
)

// Defaults applied by NewEngine and NewAuthorizer.
const (
	// DefaultEngineCallTimeout bounds each engine call.
	DefaultEngineCallTimeout = time.Second
	// DefaultAuthorizerCallTimeout bounds each authorizer call.
	DefaultAuthorizerCallTimeout = 100 * time.Millisecond
	// DefaultMaxOutputBytes bounds a result's payload.
	DefaultMaxOutputBytes = 16 << 20
)

// EngineConfig configures an Engine.
type EngineConfig struct {
	// Instances is the pool size. Zero means runtime.GOMAXPROCS(0). Each Go guest instance
	// costs about 10 ms to make and 4.5 MiB of memory.
	Instances int
	// CallTimeout bounds each call into the guest, counted from when the call holds its
	// instance. Zero means DefaultEngineCallTimeout (1 s).
	CallTimeout time.Duration
	// MaxOutputBytes bounds a result's payload. Zero means DefaultMaxOutputBytes (16 MiB).
	MaxOutputBytes int
}

// Engine is a pool of instances of one engine module. It is safe for concurrent use.
//
// Each instance is guarded by its own mutex: calls on one instance serialize, calls on
// different instances run in parallel. Live documents (Doc) stay on the instance that opened
// them; stateless calls go to any healthy instance. An instance that traps or runs past its
// deadline is thrown away with all its documents, and a new one is made on the next call
// that needs that slot.
type Engine struct {
	mod      *Module
	cfg      EngineConfig
	slots    []*slot
	next     atomic.Uint32
	closed   atomic.Bool
	compose  bool
	manifest wasm.Manifest
}

// slot is one place in the pool.
type slot struct {
	mu   sync.Mutex
	inst *instance // nil: make one on demand
	docs atomic.Int32
}

// NewEngine makes a pool of cfg.Instances instances of mod, which must declare role engine.
func NewEngine(ctx context.Context, mod *Module, cfg EngineConfig) (*Engine, error) {
	if err := mod.requireRole(wasm.RoleEngine); err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	if cfg.Instances <= 0 {
		cfg.Instances = runtime.GOMAXPROCS(0)
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultEngineCallTimeout
	}
	if cfg.MaxOutputBytes <= 0 {
		cfg.MaxOutputBytes = DefaultMaxOutputBytes
	}
	e := &Engine{
		mod:      mod,
		cfg:      cfg,
		manifest: mod.Manifest(),
		compose:  slices.Contains(mod.Manifest().Capabilities, capabilityCompose),
	}
	for range cfg.Instances {
		in, err := newInstance(ctx, mod, cfg.MaxOutputBytes)
		if err != nil {
			_ = e.Close(ctx)
			return nil, fmt.Errorf("new engine %s: %w", mod.name, err)
		}
		e.slots = append(e.slots, &slot{inst: in})
	}
	return e, nil
}

// Manifest is the engine module's manifest.
func (e *Engine) Manifest() wasm.Manifest { return e.manifest }

// Close throws away every instance; their documents are lost. It waits for calls in flight
// (each bounded by CallTimeout). Close is idempotent.
func (e *Engine) Close(ctx context.Context) error {
	e.closed.Store(true)
	for _, s := range e.slots {
		s.mu.Lock()
		if s.inst != nil {
			s.inst.close(ctx)
			s.inst = nil
		}
		s.docs.Store(0)
		s.mu.Unlock()
	}
	return nil
}

// ready returns the slot's instance, making one when the last was thrown away. The caller
// holds s.mu.
func (e *Engine) ready(ctx context.Context, s *slot) (*instance, error) {
	if e.closed.Load() {
		return nil, fmt.Errorf("engine %s: %w", e.mod.name, ErrClosed)
	}
	if s.inst != nil && !s.inst.lost {
		return s.inst, nil
	}
	if s.inst != nil {
		e.mod.rt.logger.Warn("replacing lost engine instance", "module", e.mod.name, "lostDocs", s.inst.docs)
		e.mod.rt.metrics.PluginRestarted(ctx, e.mod.name)
	}
	s.inst = nil
	s.docs.Store(0)
	in, err := newInstance(ctx, e.mod, e.cfg.MaxOutputBytes)
	if err != nil {
		return nil, fmt.Errorf("engine %s: %w", e.mod.name, err)
	}
	s.inst = in
	return in, nil
}

// stateless runs f on a healthy instance: an idle one when there is one, otherwise it
// waits for the next in round-robin order.
func (e *Engine) stateless(ctx context.Context, f func(ctx context.Context, in *instance) ([]byte, error)) ([]byte, error) {
	if e.closed.Load() {
		return nil, fmt.Errorf("engine %s: %w", e.mod.name, ErrClosed)
	}
	start := int(e.next.Add(1))
	n := len(e.slots)
	var s *slot
	for i := range n {
		c := e.slots[(start+i)%n]
		if c.mu.TryLock() {
			if c.inst != nil && !c.inst.lost {
				s = c
				break
			}
			c.mu.Unlock()
		}
	}
	if s == nil {
		s = e.slots[start%n]
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	in, err := e.ready(ctx, s)
	if err != nil {
		return nil, err
	}
	cctx, cancel := e.mod.rt.callCtx(ctx, e.cfg.CallTimeout)
	defer cancel()
	out, err := f(cctx, in)
	if in.lost {
		s.docs.Store(0)
	}
	return out, err
}

// Empty returns the snapshot of a new, empty document.
func (e *Engine) Empty(ctx context.Context) ([]byte, error) {
	out, err := e.stateless(ctx, func(ctx context.Context, in *instance) ([]byte, error) {
		return in.call(ctx, fnEmpty)
	})
	if err != nil {
		return nil, fmt.Errorf("engine %s empty: %w", e.mod.name, err)
	}
	return out, nil
}

// Validate checks that op is well formed, without a document. An invalid op is a
// *GuestError matching ErrRejected.
func (e *Engine) Validate(ctx context.Context, op []byte) error {
	_, err := e.stateless(ctx, func(ctx context.Context, in *instance) ([]byte, error) {
		if err := in.writeInput(ctx, op); err != nil {
			return nil, err
		}
		return in.call(ctx, fnValidate, api.EncodeU32(uint32(len(op))))
	})
	if err != nil {
		return fmt.Errorf("engine %s validate: %w", e.mod.name, err)
	}
	return nil
}

// Transform returns op transformed over the concurrent ops in order, with side
// (wasm.SideLeft or wasm.SideRight).
func (e *Engine) Transform(ctx context.Context, op []byte, concurrent [][]byte, side int32) ([]byte, error) {
	if err := checkSide(side); err != nil {
		return nil, fmt.Errorf("engine %s transform: %w", e.mod.name, err)
	}
	out, err := e.stateless(ctx, func(ctx context.Context, in *instance) ([]byte, error) {
		if err := in.writeFrames(ctx, op, concurrent); err != nil {
			return nil, err
		}
		return in.call(ctx, fnTransform, api.EncodeI32(side), api.EncodeU32(uint32(framesLen(op, concurrent))))
	})
	if err != nil {
		return nil, fmt.Errorf("engine %s transform: %w", e.mod.name, err)
	}
	return out, nil
}

// Compose returns one op with the effect of a then b. Without the "compose" capability it
// returns ErrUnsupported.
func (e *Engine) Compose(ctx context.Context, a, b []byte) ([]byte, error) {
	if !e.compose {
		return nil, fmt.Errorf("engine %s compose: %w", e.mod.name, ErrUnsupported)
	}
	out, err := e.stateless(ctx, func(ctx context.Context, in *instance) ([]byte, error) {
		rest := [1][]byte{b}
		if err := in.writeFrames(ctx, a, rest[:]); err != nil {
			return nil, err
		}
		return in.call(ctx, fnCompose, api.EncodeU32(uint32(8+len(a)+len(b))))
	})
	if err != nil {
		return nil, fmt.Errorf("engine %s compose: %w", e.mod.name, err)
	}
	return out, nil
}

// checkSide refuses a side other than wasm.SideLeft and wasm.SideRight: a caller's bug.
func checkSide(side int32) error {
	if side != wasm.SideLeft && side != wasm.SideRight {
		return fmt.Errorf("side %d: want %d (left) or %d (right)", side, wasm.SideLeft, wasm.SideRight)
	}
	return nil
}

func framesLen(first []byte, rest [][]byte) int {
	n := 4 + len(first)
	for _, p := range rest {
		n += 4 + len(p)
	}
	return n
}

// Doc is a live document held in one engine instance. Its methods are safe for concurrent
// use but serialize with every other call on the same instance; the usual owner is the one
// goroutine that owns the document. After the instance is lost every method but Close
// returns ErrInstanceLost: reload the document from storage and Open it again.
type Doc struct {
	e      *Engine
	s      *slot
	inst   *instance
	handle uint32
	closed bool // guarded by s.mu
}

// Open loads snapshot as a live document on the instance holding the fewest documents.
// An invalid snapshot is a *GuestError matching ErrRejected.
func (e *Engine) Open(ctx context.Context, snapshot []byte) (*Doc, error) {
	if e.closed.Load() {
		return nil, fmt.Errorf("engine %s open: %w", e.mod.name, ErrClosed)
	}
	start := int(e.next.Add(1))
	n := len(e.slots)
	s := e.slots[start%n]
	for i := range n {
		c := e.slots[(start+i)%n]
		if c.docs.Load() < s.docs.Load() {
			s = c
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := e.ready(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("engine %s open: %w", e.mod.name, err)
	}
	cctx, cancel := e.mod.rt.callCtx(ctx, e.cfg.CallTimeout)
	defer cancel()
	out, err := e.openOn(cctx, in, snapshot)
	if in.lost {
		s.docs.Store(0)
	}
	if err != nil {
		return nil, fmt.Errorf("engine %s open: %w", e.mod.name, err)
	}
	in.docs++
	s.docs.Add(1)
	return &Doc{e: e, s: s, inst: in, handle: out}, nil
}

func (e *Engine) openOn(ctx context.Context, in *instance, snapshot []byte) (uint32, error) {
	if err := in.writeInput(ctx, snapshot); err != nil {
		return 0, err
	}
	out, err := in.call(ctx, fnOpen, api.EncodeU32(uint32(len(snapshot))))
	if err != nil {
		return 0, err
	}
	if len(out) != 4 {
		in.close(ctx)
		return 0, fmt.Errorf("call %s: %w: handle is %d bytes, want 4", wasm.ExportEngineOpen, ErrTrap, len(out))
	}
	return binary.LittleEndian.Uint32(out), nil
}

// use locks the document's instance and checks it still holds the document. On success the
// caller must unlock d.s.mu.
func (d *Doc) use() error {
	d.s.mu.Lock()
	switch {
	case d.closed:
		d.s.mu.Unlock()
		return ErrClosed
	case d.e.closed.Load():
		d.s.mu.Unlock()
		return fmt.Errorf("engine %w", ErrClosed)
	case d.s.inst != d.inst || d.inst.lost:
		d.s.mu.Unlock()
		return ErrInstanceLost
	}
	return nil
}

// Apply validates op, transforms it over the concurrent ops in order with side, validates
// the result against the document and applies it; it returns the op as applied. A refused op
// is a *GuestError matching ErrRejected and leaves the document unchanged. A trap or a
// deadline loses the document (and every other one on its instance): the error wraps
// ErrTrap or ErrDeadline, and later calls return ErrInstanceLost.
func (d *Doc) Apply(ctx context.Context, op []byte, concurrent [][]byte, side int32) ([]byte, error) {
	if err := checkSide(side); err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	if err := d.use(); err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	defer d.s.mu.Unlock()
	cctx, cancel := d.e.mod.rt.callCtx(ctx, d.e.cfg.CallTimeout)
	defer cancel()
	in := d.inst
	if err := in.writeFrames(cctx, op, concurrent); err != nil {
		d.lostIfDead()
		return nil, fmt.Errorf("apply: %w", err)
	}
	out, err := in.call(cctx, fnApply, api.EncodeU32(d.handle), api.EncodeI32(side), api.EncodeU32(uint32(framesLen(op, concurrent))))
	if err != nil {
		d.lostIfDead()
		return nil, fmt.Errorf("apply: %w", err)
	}
	return out, nil
}

// Snapshot returns the document's snapshot.
func (d *Doc) Snapshot(ctx context.Context) ([]byte, error) {
	if err := d.use(); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer d.s.mu.Unlock()
	cctx, cancel := d.e.mod.rt.callCtx(ctx, d.e.cfg.CallTimeout)
	defer cancel()
	out, err := d.inst.call(cctx, fnSnapshot, api.EncodeU32(d.handle))
	if err != nil {
		d.lostIfDead()
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return out, nil
}

// Close frees the document in the guest. Closing a document whose instance was lost, or
// closing twice, does nothing and returns nil.
func (d *Doc) Close(ctx context.Context) error {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.s.inst != d.inst || d.inst.lost {
		return nil
	}
	d.inst.docs--
	d.s.docs.Add(-1)
	cctx, cancel := d.e.mod.rt.callCtx(ctx, d.e.cfg.CallTimeout)
	defer cancel()
	if err := d.inst.callVoid(cctx, fnClose, api.EncodeU32(d.handle)); err != nil {
		d.lostIfDead()
		return fmt.Errorf("close document: %w", err)
	}
	return nil
}

// lostIfDead resets the slot's document count after the instance was thrown away. The
// caller holds d.s.mu.
func (d *Doc) lostIfDead() {
	if d.inst.lost {
		d.s.docs.Store(0)
		d.e.mod.rt.logger.Warn("engine instance lost", "module", d.e.mod.name, "lostDocs", d.inst.docs)
	}
}
