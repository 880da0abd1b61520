package pluginhost

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/opstream/opstream/pluginsdk/authorizer"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

// Access levels in a Decision (the same as pluginsdk/authorizer's).
const (
	AccessNone  = authorizer.AccessNone
	AccessRead  = authorizer.AccessRead
	AccessWrite = authorizer.AccessWrite
)

// defaultAuthorizerMaxOutput bounds a decision's size.
const defaultAuthorizerMaxOutput = 64 << 10

// Request is what an authorizer module decides on (docs/plugins.md); the type is shared with
// the guest SDK.
type Request = authorizer.Request

// Decision is an authorizer module's answer (docs/plugins.md); the type is shared with the
// guest SDK.
type Decision = authorizer.Decision

// AuthorizerConfig configures an Authorizer.
type AuthorizerConfig struct {
	// Instances is the pool size. Zero means runtime.GOMAXPROCS(0).
	Instances int
	// CallTimeout bounds each call into the guest. Zero means DefaultAuthorizerCallTimeout
	// (100 ms).
	CallTimeout time.Duration
}

// Authorizer is a pool of initialized instances of one authorizer module. It is safe for
// concurrent use: each call takes an idle instance from a channel and gives it back.
// Authorizers fail closed: every error comes with Decision{Access: AccessNone}.
type Authorizer struct {
	mod    *Module
	cfg    AuthorizerConfig
	config []byte
	idle   chan *instance // a nil entry is a slot whose instance was thrown away

	mu     sync.Mutex
	closed bool
}

// NewAuthorizer makes a pool of cfg.Instances instances of mod, which must declare role
// authorizer, and calls authorizer_init on each with config (JSON; nil means {}). A config
// the module rejects is an error carrying the module's message.
func NewAuthorizer(ctx context.Context, mod *Module, config []byte, cfg AuthorizerConfig) (*Authorizer, error) {
	if err := mod.requireRole(wasm.RoleAuthorizer); err != nil {
		return nil, fmt.Errorf("new authorizer: %w", err)
	}
	if cfg.Instances <= 0 {
		cfg.Instances = runtime.GOMAXPROCS(0)
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultAuthorizerCallTimeout
	}
	if len(config) == 0 {
		config = []byte("{}")
	}
	a := &Authorizer{
		mod:    mod,
		cfg:    cfg,
		config: append([]byte(nil), config...),
		idle:   make(chan *instance, cfg.Instances),
	}
	for range cfg.Instances {
		in, err := a.newInstance(ctx)
		if err != nil {
			for len(a.idle) < cap(a.idle) {
				a.idle <- nil
			}
			_ = a.Close(ctx)
			return nil, fmt.Errorf("new authorizer %s: %w", mod.name, err)
		}
		a.idle <- in
	}
	return a, nil
}

// newInstance makes and initializes one instance.
func (a *Authorizer) newInstance(ctx context.Context) (*instance, error) {
	in, err := newInstance(ctx, a.mod, defaultAuthorizerMaxOutput)
	if err != nil {
		return nil, err
	}
	cctx, cancel := a.mod.rt.callCtx(ctx, a.cfg.CallTimeout)
	defer cancel()
	if err := in.writeInput(cctx, a.config); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	if _, err := in.call(cctx, fnAuthInit, api.EncodeU32(uint32(len(a.config)))); err != nil {
		in.close(ctx)
		return nil, fmt.Errorf("init: %w", err)
	}
	return in, nil
}

// Authorize asks the module for a decision. Any failure (trap, deadline, rejected request,
// malformed decision, closed pool) returns Decision{Access: AccessNone} and the error.
func (a *Authorizer) Authorize(ctx context.Context, req Request) (Decision, error) {
	deny := Decision{Access: AccessNone}
	body := authorizer.AppendRequest(make([]byte, 0, 256), req)
	var in *instance
	select {
	case in = <-a.idle:
	case <-ctx.Done():
		return deny, fmt.Errorf("authorize: wait for an instance: %w", ctx.Err())
	}
	defer func() { a.idle <- in }()
	if a.isClosed() {
		return deny, fmt.Errorf("authorize: authorizer %s: %w", a.mod.name, ErrClosed)
	}
	if in == nil || in.lost {
		if in != nil {
			a.mod.rt.metrics.PluginRestarted(ctx, a.mod.name)
		}
		in = nil
		fresh, err := a.newInstance(ctx)
		if err != nil {
			return deny, fmt.Errorf("authorize: replace instance: %w", err)
		}
		in = fresh
	}
	cctx, cancel := a.mod.rt.callCtx(ctx, a.cfg.CallTimeout)
	defer cancel()
	if err := in.writeInput(cctx, body); err != nil {
		return deny, fmt.Errorf("authorize: %w", err)
	}
	out, err := in.call(cctx, fnAuthorize, api.EncodeU32(uint32(len(body))))
	if err != nil {
		return deny, fmt.Errorf("authorize: %w", err)
	}
	d, err := authorizer.ParseDecision(out)
	if err != nil {
		return deny, fmt.Errorf("authorize: %w: decision: %w", ErrGuest, err)
	}
	switch d.Access {
	case AccessNone, AccessRead, AccessWrite:
	default:
		return deny, fmt.Errorf("authorize: %w: decision has access %q", ErrGuest, d.Access)
	}
	return d, nil
}

func (a *Authorizer) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

// Close waits for calls in flight (each bounded by CallTimeout, or until ctx is done) and
// throws every instance away. Close is idempotent.
func (a *Authorizer) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	for range cap(a.idle) {
		select {
		case in := <-a.idle:
			if in != nil {
				in.close(ctx)
			}
		case <-ctx.Done():
			return fmt.Errorf("close authorizer %s: %w", a.mod.name, ctx.Err())
		}
	}
	// Refill with empty slots so later calls fail fast with ErrClosed instead of waiting.
	for range cap(a.idle) {
		a.idle <- nil
	}
	return nil
}
