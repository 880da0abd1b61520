package doctype

import (
	"github.com/opstream/opstream/pluginsdk/engine"
)

// OT is a document type from its native functions. D is a decoded document, O a decoded op.
// Every function is required except TransformOp.
type OT[D, O any] struct {
	ParseDoc  func(snapshot []byte) (D, error)
	ParseOp   func(op []byte) (O, error)
	AppendDoc func(dst []byte, d D) []byte
	AppendOp  func(dst []byte, op O) []byte
	// ApplyOp returns d with op applied; it may modify d (a freshly parsed document).
	ApplyOp func(d D, op O) (D, error)
	// TransformOp rebases op over other, applied first; nil means the identity (ops commute).
	TransformOp func(op, other O, side engine.Side) (O, error)
	// InvertOp returns the op that undoes op applied to d. d was parsed for the call: InvertOp
	// may change it (to apply op and see what it changes).
	InvertOp func(op O, d D) (O, error)
}

// Apply returns snapshot with op applied.
func (t OT[D, O]) Apply(snapshot, op []byte) ([]byte, error) {
	d, o, err := t.parse(snapshot, op)
	if err != nil {
		return nil, err
	}
	if d, err = t.ApplyOp(d, o); err != nil {
		return nil, err
	}
	return t.AppendDoc(nil, d), nil
}

// Transform returns op transformed over other, applied first; side passes through to the
// type's own transform (docs/plugins.md, "Sides").
func (t OT[D, O]) Transform(op, other []byte, side engine.Side) ([]byte, error) {
	a, err := t.ParseOp(op)
	if err != nil {
		return nil, err
	}
	if t.TransformOp == nil {
		return t.AppendOp(nil, a), nil
	}
	b, err := t.ParseOp(other)
	if err != nil {
		return nil, err
	}
	out, err := t.TransformOp(a, b, side)
	if err != nil {
		return nil, err
	}
	return t.AppendOp(nil, out), nil
}

// Invert returns the op that undoes op applied to snapshot.
func (t OT[D, O]) Invert(op, snapshot []byte) ([]byte, error) {
	d, o, err := t.parse(snapshot, op)
	if err != nil {
		return nil, err
	}
	inv, err := t.InvertOp(o, d)
	if err != nil {
		return nil, err
	}
	return t.AppendOp(nil, inv), nil
}

func (t OT[D, O]) parse(snapshot, op []byte) (D, O, error) {
	var o O
	d, err := t.ParseDoc(snapshot)
	if err != nil {
		return d, o, err
	}
	o, err = t.ParseOp(op)
	return d, o, err
}

// CRDT is a CRDT document type whose ops carry a stamp (ts, peer), ordered by ts then peer:
// OT with a nil TransformOp (ops commute), plus what an undo of a CRDT needs. Every function
// is required.
type CRDT[D, O any] struct {
	OT[D, O]
	// Stamp returns op's stamp; WithStamp returns op with another.
	Stamp     func(op O) (ts int64, peer string)
	WithStamp func(op O, ts int64, peer string) O
	// Fresh returns a fresh stamp for an undo or redo: above every stamp the peer has seen.
	Fresh func() (ts int64, peer string)
	// Drop returns an undo step without what remote, another peer's op stamped after the step,
	// wrote, and false when nothing is left.
	Drop func(step, remote O) (O, bool)
}

// Restamp returns op with a fresh stamp: an undo or redo taken from a stack.
func (t CRDT[D, O]) Restamp(op []byte) ([]byte, error) {
	o, err := t.ParseOp(op)
	if err != nil {
		return nil, err
	}
	ts, peer := t.Fresh()
	return t.AppendOp(nil, t.WithStamp(o, ts, peer)), nil
}

// RebaseStep returns step without what remote wrote when remote is stamped after it (it wins
// over the change the step reverts, so undoing must not revert it), or nil when nothing is
// left; an older remote op leaves the step as it is.
func (t CRDT[D, O]) RebaseStep(step, remote []byte) ([]byte, error) {
	s, err := t.ParseOp(step)
	if err != nil {
		return nil, err
	}
	r, err := t.ParseOp(remote)
	if err != nil {
		return nil, err
	}
	sts, speer := t.Stamp(s)
	rts, rpeer := t.Stamp(r)
	if rts < sts || rts == sts && rpeer <= speer {
		return append([]byte(nil), step...), nil
	}
	s, ok := t.Drop(s, r)
	if !ok {
		return nil, nil
	}
	return t.AppendOp(nil, s), nil
}

// Type is what UndoRoundTrip needs: client/undo.Type.
type Type interface {
	Apply(snapshot, op []byte) ([]byte, error)
	Invert(op, snapshot []byte) ([]byte, error)
}

// UndoRoundTrip inverts op against snapshot (inv, before any restamp), applies op, then the
// inverse (restamped when t is a CRDT), and returns the inverse, the document after op and the
// document after the undo: for engine tests, which compare back with snapshot as their type
// defines equality.
func UndoRoundTrip(t Type, snapshot, op []byte) (inv, after, back []byte, err error) {
	if inv, err = t.Invert(op, snapshot); err != nil {
		return nil, nil, nil, err
	}
	undo := inv
	if r, ok := t.(interface{ Restamp([]byte) ([]byte, error) }); ok {
		if undo, err = r.Restamp(inv); err != nil {
			return nil, nil, nil, err
		}
	}
	if after, err = t.Apply(snapshot, op); err != nil {
		return nil, nil, nil, err
	}
	back, err = t.Apply(after, undo)
	return inv, after, back, err
}

// LiveDoc is a decoded document that applies ops in place, like the engines' live documents.
type LiveDoc[O any] interface {
	Apply(op O) error
	AppendSnapshot(dst []byte) []byte
}

// JSONOp is a decoded op that writes itself as JSON.
type JSONOp interface {
	AppendJSON(dst []byte) []byte
}

// Live returns the OT of an engine whose documents are LiveDocs and whose ops are JSONOps, with
// no TransformOp (its ops commute) and invert as InvertOp (nil leaves it unset).
func Live[D LiveDoc[O], O JSONOp](parseDoc func([]byte) (D, error), parseOp func([]byte) (O, error), invert func(op O, d D) (O, error)) OT[D, O] {
	return OT[D, O]{
		ParseDoc:  parseDoc,
		ParseOp:   parseOp,
		AppendDoc: func(dst []byte, d D) []byte { return d.AppendSnapshot(dst) },
		AppendOp:  func(dst []byte, op O) []byte { return op.AppendJSON(dst) },
		ApplyOp:   func(d D, op O) (D, error) { return d, d.Apply(op) },
		InvertOp:  invert,
	}
}

// StampedOp is a JSONOp stamped (ts, peer), as the CRDT engines' ops are.
type StampedOp[O any] interface {
	JSONOp
	StampOf() (ts int64, peer string)
	WithStamp(ts int64, peer string) O
}

// InvertibleDoc is a LiveDoc that inverts an op against itself.
type InvertibleDoc[O any] interface {
	LiveDoc[O]
	// Inverse returns the op that undoes op on the document, which it may change; op itself
	// and false when op changes nothing.
	Inverse(op O) (inv O, ok bool, err error)
}

// NewCRDT returns the CRDT of an engine whose documents are InvertibleDocs and whose ops are
// StampedOps: fresh stamps undo steps, drop is the CRDT's Drop.
func NewCRDT[D InvertibleDoc[O], O StampedOp[O]](parseDoc func([]byte) (D, error), parseOp func([]byte) (O, error), fresh func() (ts int64, peer string), drop func(step, remote O) (O, bool)) CRDT[D, O] {
	return CRDT[D, O]{
		OT: Live(parseDoc, parseOp, func(op O, d D) (O, error) {
			inv, _, err := d.Inverse(op)
			return inv, err
		}),
		Stamp:     func(op O) (int64, string) { return op.StampOf() },
		WithStamp: func(op O, ts int64, peer string) O { return op.WithStamp(ts, peer) },
		Fresh:     fresh,
		Drop:      drop,
	}
}
