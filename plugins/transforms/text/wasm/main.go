//go:build wasip1

// Command wasm is the `text` engine as an OpStream WASM module: package text behind
// pluginsdk/engine. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bin/text.wasm ./plugins/transforms/text/wasm
package main

import (
	"errors"

	"github.com/opstream/opstream/plugins/transforms/text"
	"github.com/opstream/opstream/pluginsdk/engine"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

func init() { engine.Register(&textEngine{}) }

func main() {}

// version is the engine's version in its manifest.
const version = "1.0.0"

// textEngine adapts package text to engine.Engine. Its fields are the scratch memory of
// engine.OpRebaser: ParsedOp values it hands out are text.Op (from ParseOp, owned by the caller)
// or *text.Op (pointing into this memory, valid until the next ParseOpScratch or RebaseOp).
type textEngine struct {
	scratch text.Op      // the last op from ParseOpScratch
	rebaser text.Rebaser // holds RebaseOp's results
	result  text.Op      // the last RebaseOp result (in rebaser's memory)
	others  []text.Op    // reused: RebaseOp's others, unboxed
	snap    []byte       // reused by doc.Snapshot, for every document (see there)
}

// maxIdleSnap is the largest snapshot buffer kept between calls: a bigger one is dropped after
// its call, so one huge document does not pin its size in memory for the instance's lifetime.
const maxIdleSnap = 4 << 20

var (
	_ engine.Engine    = (*textEngine)(nil)
	_ engine.Composer  = (*textEngine)(nil)
	_ engine.OpParser  = (*textEngine)(nil)
	_ engine.OpRebaser = (*textEngine)(nil)
	_ engine.Doc       = (*doc)(nil)
	_ engine.OpApplier = (*doc)(nil)
)

// invalid maps text's errors onto the SDK's statuses.
func invalid(err error) error {
	if errors.Is(err, text.ErrInvalid) {
		return engine.Invalid("%s", err.Error())
	}
	return err
}

func (*textEngine) Manifest() wasm.Manifest {
	return wasm.Manifest{Name: "text", Version: version, DocType: "text", Capabilities: []string{engine.CapabilityCompose}}
}

func (*textEngine) Empty() []byte { return []byte(`""`) }

func (e *textEngine) Open(snapshot []byte) (engine.Doc, error) {
	s, err := text.ParseSnapshot(snapshot)
	if err != nil {
		return nil, invalid(err)
	}
	return &doc{d: text.NewDoc(s), e: e}, nil
}

func (*textEngine) Validate(op []byte) error {
	_, err := text.ParseOp(op)
	return invalid(err)
}

func (*textEngine) Transform(op, other []byte, s engine.Side) ([]byte, error) {
	a, err := text.ParseOp(op)
	if err != nil {
		return nil, invalid(err)
	}
	b, err := text.ParseOp(other)
	if err != nil {
		return nil, invalid(err)
	}
	out, err := text.Transform(a, b, side(s))
	if err != nil {
		return nil, invalid(err)
	}
	return out.AppendJSON(nil), nil
}

func (*textEngine) Compose(a, b []byte) ([]byte, error) {
	x, err := text.ParseOp(a)
	if err != nil {
		return nil, invalid(err)
	}
	y, err := text.ParseOp(b)
	if err != nil {
		return nil, invalid(err)
	}
	out, err := text.Compose(x, y)
	if err != nil {
		return nil, invalid(err)
	}
	return out.AppendJSON(nil), nil
}

// side maps the SDK's side onto text's.
func side(s engine.Side) text.Side {
	if s == engine.Right {
		return text.Right
	}
	return text.Left
}

// opOf unboxes a ParsedOp this engine handed out.
func opOf(op engine.ParsedOp) text.Op {
	if p, ok := op.(*text.Op); ok {
		return *p
	}
	return op.(text.Op)
}

// ParseOp implements engine.OpParser.
func (*textEngine) ParseOp(op []byte) (engine.ParsedOp, error) {
	o, err := text.ParseOp(op)
	if err != nil {
		return nil, invalid(err)
	}
	return o, nil
}

// TransformOp implements engine.OpParser.
func (*textEngine) TransformOp(op, other engine.ParsedOp, s engine.Side) (engine.ParsedOp, error) {
	out, err := text.Transform(opOf(op), opOf(other), side(s))
	if err != nil {
		return nil, invalid(err)
	}
	return out, nil
}

// AppendOp implements engine.OpParser.
func (*textEngine) AppendOp(dst []byte, op engine.ParsedOp) []byte {
	return opOf(op).AppendJSON(dst)
}

// ParseOpScratch implements engine.OpRebaser: it decodes into e.scratch, without allocating for
// a small op.
func (e *textEngine) ParseOpScratch(op []byte) (engine.ParsedOp, error) {
	o, err := text.ParseOpInto(e.scratch, op)
	if err != nil {
		return nil, invalid(err)
	}
	e.scratch = o
	return &e.scratch, nil
}

// RebaseOp implements engine.OpRebaser with text.Rebaser. The ops were checked when decoded, so
// the steps are not checked again: text.Rebaser cannot fail, and Doc.Apply checks its result.
func (e *textEngine) RebaseOp(op engine.ParsedOp, others []engine.ParsedOp, s engine.Side) (engine.ParsedOp, int, error) {
	e.others = e.others[:0]
	for _, o := range others {
		e.others = append(e.others, opOf(o))
	}
	e.result = e.rebaser.Rebase(opOf(op), e.others, side(s))
	clear(e.others) // keep no evicted op alive
	return &e.result, 0, nil
}

// doc is a live text document.
type doc struct {
	d *text.Doc
	e *textEngine // for its snapshot buffer
}

func (d *doc) Apply(op []byte) error {
	o, err := text.ParseOp(op)
	if err != nil {
		return invalid(err)
	}
	return invalid(d.d.Apply(o))
}

// ApplyOp implements engine.OpApplier.
func (d *doc) ApplyOp(op engine.ParsedOp) error { return invalid(d.d.Apply(opOf(op))) }

// Snapshot writes into a buffer shared by the engine's documents and reused across calls, so a
// snapshot of a large document neither allocates nor grows its output. This is safe because
// the SDK copies the result into its own result buffer before the call returns (engine_snapshot),
// and a WASM instance runs one call at a time.
func (d *doc) Snapshot() []byte {
	out := d.d.AppendSnapshot(d.e.snap[:0])
	if cap(out) <= maxIdleSnap {
		d.e.snap = out
	} else {
		d.e.snap = nil
	}
	return out
}
