package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/opstream/opstream/pluginsdk/wasm"
)

// module is the engine ABI without the WASM glue, so it can be tested natively: each method
// takes the call's input and returns a status and payload. It holds the live documents.
type module struct {
	e     Engine
	docs  map[uint32]Doc
	next  uint32
	frame [][]byte // reused by split

	parser  OpParser            // e, when it implements OpParser
	rebaser OpRebaser           // e, when it implements OpRebaser
	parsed  map[string]ParsedOp // decoded concurrent ops by their bytes, bounded by maxParsed
	others  []ParsedOp          // reused: the decoded concurrent ops of one apply, for RebaseOp
	out     []byte              // reused encoding buffer
}

// maxParsed bounds the cache of decoded concurrent ops.
const maxParsed = 1024

func newModule(e Engine) (*module, wasm.Manifest, error) {
	m := e.Manifest()
	m.ABI = wasm.ABIVersion
	m.Role = wasm.RoleEngine
	if m.Name == "" || m.DocType == "" {
		return nil, m, errors.New("engine manifest needs a name and a docType")
	}
	_, composes := e.(Composer)
	if composes != slices.Contains(m.Capabilities, CapabilityCompose) {
		return nil, m, fmt.Errorf("engine %s: the manifest must list the capability %q exactly when the engine implements Composer", m.Name, CapabilityCompose)
	}
	mod := &module{e: e, docs: make(map[uint32]Doc)}
	if p, ok := e.(OpParser); ok {
		mod.parser, mod.parsed = p, make(map[string]ParsedOp)
		mod.rebaser, _ = e.(OpRebaser)
	}
	return mod, m, nil
}

// status maps an error to a result status.
func status(err error) byte {
	if errors.Is(err, ErrInvalidOp) {
		return wasm.StatusRejected
	}
	return wasm.StatusError
}

func (m *module) empty() (byte, []byte) { return wasm.StatusOK, m.e.Empty() }

func (m *module) open(snapshot []byte) (byte, []byte) {
	d, err := m.e.Open(snapshot)
	if err != nil {
		return status(err), []byte(err.Error())
	}
	m.next++
	for m.docs[m.next] != nil || m.next == 0 {
		m.next++
	}
	m.docs[m.next] = d
	return wasm.StatusOK, binary.LittleEndian.AppendUint32(nil, m.next)
}

func (m *module) close(h uint32) {
	if d, ok := m.docs[h]; ok {
		delete(m.docs, h)
		if c, ok := d.(Closer); ok {
			c.Close()
		}
	}
}

func (m *module) doc(h uint32) (Doc, []byte) {
	d, ok := m.docs[h]
	if !ok {
		return nil, fmt.Appendf(nil, "unknown document handle %d", h)
	}
	return d, nil
}

func (m *module) snapshot(h uint32) (byte, []byte) {
	d, msg := m.doc(h)
	if d == nil {
		return wasm.StatusError, msg
	}
	return wasm.StatusOK, d.Snapshot()
}

// rebase validates frames[0] and transforms it over frames[1:].
func (m *module) rebase(in []byte, side int32) ([]byte, byte, []byte) {
	if side != wasm.SideLeft && side != wasm.SideRight {
		return nil, wasm.StatusError, fmt.Appendf(nil, "side %d is neither 0 (left) nor 1 (right)", side)
	}
	frames, err := m.split(in)
	if err != nil {
		return nil, wasm.StatusError, []byte(err.Error())
	}
	if len(frames) == 0 {
		return nil, wasm.StatusError, []byte("no op in the input")
	}
	op := frames[0]
	if err := m.e.Validate(op); err != nil {
		return nil, status(err), []byte(err.Error())
	}
	for i, c := range frames[1:] {
		if op, err = m.e.Transform(op, c, Side(side)); err != nil {
			return nil, status(err), fmt.Appendf(nil, "transform over op %d: %v", i+1, err)
		}
	}
	return op, wasm.StatusOK, nil
}

// applyParsed is apply for engines that implement OpParser and docs that implement OpApplier:
// the op stays decoded through every transform step, and concurrent ops come from the cache.
// With an OpRebaser the op is decoded by ParseOpScratch and rebased in one RebaseOp call.
func (m *module) applyParsed(d OpApplier, side int32, in []byte) (byte, []byte) {
	if side != wasm.SideLeft && side != wasm.SideRight {
		return wasm.StatusError, fmt.Appendf(nil, "side %d is neither 0 (left) nor 1 (right)", side)
	}
	frames, err := m.split(in)
	if err != nil {
		return wasm.StatusError, []byte(err.Error())
	}
	if len(frames) == 0 {
		return wasm.StatusError, []byte("no op in the input")
	}
	var op ParsedOp
	if m.rebaser != nil {
		op, err = m.rebaser.ParseOpScratch(frames[0])
	} else {
		op, err = m.parser.ParseOp(frames[0])
	}
	if err != nil {
		return status(err), []byte(err.Error())
	}
	if m.rebaser != nil {
		if op, err = m.rebaseParsed(op, frames[1:], Side(side)); err != nil {
			return status(err), []byte(err.Error())
		}
	} else {
		for i, c := range frames[1:] {
			other, err := m.parsedOp(c)
			if err != nil {
				return status(err), fmt.Appendf(nil, "concurrent op %d: %v", i+1, err)
			}
			if op, err = m.parser.TransformOp(op, other, Side(side)); err != nil {
				return status(err), fmt.Appendf(nil, "transform over op %d: %v", i+1, err)
			}
		}
	}
	if err := d.ApplyOp(op); err != nil {
		return status(err), []byte(err.Error())
	}
	m.out = m.parser.AppendOp(m.out[:0], op)
	return wasm.StatusOK, m.out
}

// rebaseParsed decodes the concurrent ops (from the cache when it has them) and rebases op over
// them with one RebaseOp call. Its errors carry the messages of applyParsed's loop.
func (m *module) rebaseParsed(op ParsedOp, concurrent [][]byte, side Side) (ParsedOp, error) {
	if len(concurrent) == 0 {
		return op, nil
	}
	others := m.others[:0]
	for i, c := range concurrent {
		other, err := m.parsedOp(c)
		if err != nil {
			clear(others)
			return nil, fmt.Errorf("concurrent op %d: %w", i+1, err)
		}
		others = append(others, other)
	}
	out, i, err := m.rebaser.RebaseOp(op, others, side)
	clear(others) // keep no evicted op alive
	m.others = others[:0]
	if err != nil {
		return nil, fmt.Errorf("transform over op %d: %w", i+1, err)
	}
	return out, nil
}

// parsedOp returns the concurrent op c decoded, from the cache or by ParseOp (then cached).
func (m *module) parsedOp(c []byte) (ParsedOp, error) {
	if other, ok := m.parsed[string(c)]; ok {
		return other, nil
	}
	other, err := m.parser.ParseOp(c)
	if err != nil {
		return nil, err
	}
	if len(m.parsed) >= maxParsed {
		clear(m.parsed)
	}
	m.parsed[string(c)] = other
	return other, nil
}

func (m *module) split(in []byte) ([][]byte, error) {
	m.frame = m.frame[:0]
	for len(in) > 0 {
		if len(in) < 4 {
			return nil, wasm.ErrBadFrame
		}
		n := binary.LittleEndian.Uint32(in)
		in = in[4:]
		if uint64(n) > uint64(len(in)) {
			return nil, wasm.ErrBadFrame
		}
		m.frame = append(m.frame, in[:n:n])
		in = in[n:]
	}
	return m.frame, nil
}

func (m *module) apply(h uint32, side int32, in []byte) (st byte, out []byte) {
	d, msg := m.doc(h)
	if d == nil {
		return wasm.StatusError, msg
	}
	defer func() {
		// A panic may leave the document half-changed: drop it, the host reopens it from its
		// snapshot.
		if r := recover(); r != nil {
			m.close(h)
			st, out = wasm.StatusError, fmt.Appendf(nil, "engine panicked applying an op (document %d closed): %v", h, r)
		}
	}()
	if m.parser != nil {
		if a, ok := d.(OpApplier); ok {
			return m.applyParsed(a, side, in)
		}
	}
	op, st, msg := m.rebase(in, side)
	if st != wasm.StatusOK {
		return st, msg
	}
	if err := d.Apply(op); err != nil {
		return status(err), []byte(err.Error())
	}
	return wasm.StatusOK, op
}

func (m *module) transform(side int32, in []byte) (byte, []byte) {
	op, st, msg := m.rebase(in, side)
	if st != wasm.StatusOK {
		return st, msg
	}
	return wasm.StatusOK, op
}

func (m *module) validate(op []byte) (byte, []byte) {
	if err := m.e.Validate(op); err != nil {
		return status(err), []byte(err.Error())
	}
	return wasm.StatusOK, nil
}

func (m *module) compose(in []byte) (byte, []byte) {
	c, ok := m.e.(Composer)
	if !ok {
		return wasm.StatusError, []byte("engine does not compose")
	}
	frames, err := m.split(in)
	if err != nil || len(frames) != 2 {
		return wasm.StatusError, []byte("compose takes two frames")
	}
	op, err := c.Compose(frames[0], frames[1])
	if err != nil {
		return status(err), []byte(err.Error())
	}
	return wasm.StatusOK, op
}

// guard runs f, turning a panic into a status-2 result.
func guard(f func() (byte, []byte)) (st byte, out []byte) {
	defer func() {
		if r := recover(); r != nil {
			st, out = wasm.StatusError, fmt.Appendf(nil, "engine panicked: %v", r)
		}
	}()
	return f()
}
