package pluginhost

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

// instantiateTimeout bounds making an instance, including the guest's _initialize.
const instantiateTimeout = 10 * time.Second

// fn indexes the exports an instance resolves once.
type fn int

const (
	fnABI fn = iota
	fnInfo
	fnBuffer
	fnEmpty
	fnOpen
	fnClose
	fnSnapshot
	fnApply
	fnTransform
	fnValidate
	fnCompose
	fnAuthInit
	fnAuthorize
	numFns
)

var fnNames = [numFns]string{
	fnABI:       wasm.ExportABIVersion,
	fnInfo:      wasm.ExportInfo,
	fnBuffer:    wasm.ExportBuffer,
	fnEmpty:     wasm.ExportEngineEmpty,
	fnOpen:      wasm.ExportEngineOpen,
	fnClose:     wasm.ExportEngineClose,
	fnSnapshot:  wasm.ExportEngineSnapshot,
	fnApply:     wasm.ExportEngineApply,
	fnTransform: wasm.ExportEngineTransform,
	fnValidate:  wasm.ExportEngineValidate,
	fnCompose:   wasm.ExportEngineCompose,
	fnAuthInit:  wasm.ExportAuthorizerInit,
	fnAuthorize: wasm.ExportAuthorize,
}

// instance is one instantiation of a Module. It is not goroutine-safe: its owner (an Engine
// slot under its mutex, or the Authorizer goroutine that took it from the idle channel) is
// the only caller. Once lost is set the instance is closed and must not be called again.
type instance struct {
	mod       api.Module
	mem       api.Memory
	fns       [numFns]api.Function
	stack     [3]uint64
	stdout    *logWriter
	stderr    *logWriter
	maxOutput int
	lost      bool
	docs      int // live documents (engines only)
	metrics   *telemetry.Metrics
	plugin    string // the module's name, the metrics' plugin label
	// bufPtr and bufSize are the last input buffer the guest handed out: the ABI keeps it
	// valid until the next opstream_buffer call, so inputs that fit reuse it without a call.
	bufPtr, bufSize uint32
}

// newInstance instantiates m, running _initialize when the module exports it.
func newInstance(ctx context.Context, m *Module, maxOutput int) (*instance, error) {
	logger := m.rt.logger.With("module", m.name)
	in := &instance{
		stdout:    newLogWriter(logger, "stdout", m.rt.maxLogBytes),
		stderr:    newLogWriter(logger, "stderr", m.rt.maxLogBytes),
		maxOutput: maxOutput,
		metrics:   m.rt.metrics,
		plugin:    m.name,
	}
	cfg := wazero.NewModuleConfig().WithName("").WithStdout(in.stdout).WithStderr(in.stderr)
	if m.hasInit {
		cfg = cfg.WithStartFunctions(wasm.ExportInitialize)
	} else {
		cfg = cfg.WithStartFunctions()
	}
	ictx, cancel := context.WithTimeout(ctx, instantiateTimeout)
	defer cancel()
	mod, err := m.rt.rt.InstantiateModule(ictx, m.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate module %s: %w", m.name, classify(ictx, wasm.ExportInitialize, err))
	}
	in.mod = mod
	in.mem = mod.Memory()
	if in.mem == nil {
		in.close(ctx)
		return nil, fmt.Errorf("instantiate module %s: %w: no exported memory", m.name, ErrBadModule)
	}
	for i, name := range fnNames {
		in.fns[i] = mod.ExportedFunction(name)
	}
	return in, nil
}

// close throws the instance away. It is safe to call more than once.
func (in *instance) close(ctx context.Context) {
	in.lost = true
	if in.mod != nil {
		_ = in.mod.Close(context.WithoutCancel(ctx))
	}
	in.stdout.flush()
	in.stderr.flush()
}

// fail throws the instance away after a failed call and says why.
func (in *instance) fail(ctx context.Context, f fn, err error) error {
	in.close(ctx)
	return classify(ctx, fnNames[f], err)
}

// classify turns an error from api.Function.Call into ErrDeadline, the context's error or
// ErrTrap.
func classify(ctx context.Context, name string, err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return fmt.Errorf("call %s: %w (%w)", name, ErrDeadline, context.DeadlineExceeded)
		case sys.ExitCodeContextCanceled:
			return fmt.Errorf("call %s: %w", name, context.Canceled)
		}
	}
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return fmt.Errorf("call %s: %w (%w)", name, ErrDeadline, context.DeadlineExceeded)
	case context.Canceled:
		return fmt.Errorf("call %s: %w", name, context.Canceled)
	}
	return fmt.Errorf("call %s: %w: %w", name, ErrTrap, err)
}

// input asks the guest for an input buffer of n bytes and returns a write-through view of it
// in guest memory. The view is valid until the next call into the instance.
func (in *instance) input(ctx context.Context, n int) ([]byte, error) {
	if n > 1<<31-1 {
		return nil, fmt.Errorf("call %s: input of %d bytes: %w", wasm.ExportBuffer, n, ErrRejected)
	}
	if in.bufPtr != 0 && uint32(n) <= in.bufSize {
		if view, ok := in.mem.Read(in.bufPtr, uint32(n)); ok {
			return view, nil
		}
	}
	s := in.stack[:1]
	s[0] = api.EncodeI32(int32(n))
	if err := in.fns[fnBuffer].CallWithStack(ctx, s); err != nil {
		return nil, in.fail(ctx, fnBuffer, err)
	}
	ptr := api.DecodeU32(s[0])
	in.bufPtr, in.bufSize = ptr, uint32(n)
	view, ok := in.mem.Read(ptr, uint32(n))
	if !ok {
		in.close(ctx)
		return nil, fmt.Errorf("call %s: %w: buffer [%d, +%d) is outside guest memory", wasm.ExportBuffer, ErrTrap, ptr, n)
	}
	return view, nil
}

// writeInput hands b to the guest as the input of the next call.
func (in *instance) writeInput(ctx context.Context, b []byte) error {
	view, err := in.input(ctx, len(b))
	if err != nil {
		return err
	}
	copy(view, b)
	return nil
}

// writeFrames hands parts to the guest as frames, written straight into guest memory.
func (in *instance) writeFrames(ctx context.Context, first []byte, rest [][]byte) error {
	n := 4 + len(first)
	for _, p := range rest {
		n += 4 + len(p)
	}
	view, err := in.input(ctx, n)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(view, uint32(len(first)))
	off := 4 + copy(view[4:], first)
	for _, p := range rest {
		binary.LittleEndian.PutUint32(view[off:], uint32(len(p)))
		off += 4 + copy(view[off+4:], p)
	}
	return nil
}

// call invokes f with params and decodes its packed i64 result. The returned payload is a
// copy (nil when empty); a status other than 0 is a *GuestError. Any trap, deadline or
// malformed result throws the instance away.
func (in *instance) call(ctx context.Context, f fn, params ...uint64) ([]byte, error) {
	s := in.stack[:max(len(params), 1)]
	copy(s, params)
	err := in.fns[f].CallWithStack(ctx, s)
	in.metrics.WasmCall(ctx, in.plugin, err != nil)
	if err != nil {
		return nil, in.fail(ctx, f, err)
	}
	packed := s[0]
	ptr, n := uint32(packed>>32), uint32(packed)
	if n == 0 {
		in.close(ctx)
		return nil, fmt.Errorf("call %s: %w: empty result, no status byte", fnNames[f], ErrTrap)
	}
	if uint64(n)-1 > uint64(in.maxOutput) {
		in.close(ctx)
		return nil, fmt.Errorf("call %s: %w: %d bytes, limit %d", fnNames[f], ErrOutputTooLarge, n-1, in.maxOutput)
	}
	view, ok := in.mem.Read(ptr, n)
	if !ok {
		in.close(ctx)
		return nil, fmt.Errorf("call %s: %w: result [%d, +%d) is outside guest memory", fnNames[f], ErrTrap, ptr, n)
	}
	status, body := view[0], view[1:]
	switch status {
	case wasm.StatusOK:
		if len(body) == 0 {
			return nil, nil
		}
		return append([]byte(nil), body...), nil
	case wasm.StatusRejected, wasm.StatusError:
		return nil, fmt.Errorf("call %s: %w", fnNames[f], &GuestError{Status: status, Message: string(body)})
	}
	in.close(ctx)
	return nil, fmt.Errorf("call %s: %w: unknown status %d", fnNames[f], ErrTrap, status)
}

// callVoid invokes an export without results (engine_close).
func (in *instance) callVoid(ctx context.Context, f fn, params ...uint64) error {
	s := in.stack[:max(len(params), 1)]
	copy(s, params)
	err := in.fns[f].CallWithStack(ctx, s)
	in.metrics.WasmCall(ctx, in.plugin, err != nil)
	if err != nil {
		return in.fail(ctx, f, err)
	}
	return nil
}
