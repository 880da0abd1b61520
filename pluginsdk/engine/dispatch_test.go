package engine

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/opstream/opstream/pluginsdk/wasm"
)

// seqEngine's ops are strings; a transform over other appends "|other" (with "<" for Right),
// so results show the order of the steps. "bad" does not parse; a transform over "fail" fails.
type seqEngine struct{}

func (*seqEngine) Manifest() wasm.Manifest { return wasm.Manifest{Name: "seq", DocType: "seq"} }
func (*seqEngine) Empty() []byte           { return nil }
func (*seqEngine) Open([]byte) (Doc, error) {
	return &seqDoc{}, nil
}
func (e *seqEngine) Validate(op []byte) error { _, err := e.ParseOp(op); return err }
func (e *seqEngine) Transform(op, other []byte, side Side) ([]byte, error) {
	out, err := e.TransformOp(string(op), string(other), side)
	if err != nil {
		return nil, err
	}
	return []byte(out.(string)), nil
}

func (*seqEngine) ParseOp(op []byte) (ParsedOp, error) {
	if string(op) == "bad" {
		return nil, Invalid("bad op")
	}
	return string(op), nil
}

func (*seqEngine) TransformOp(op, other ParsedOp, side Side) (ParsedOp, error) {
	if other == "fail" {
		return nil, Invalid("cannot transform")
	}
	if side == Right {
		return op.(string) + "|<" + other.(string), nil
	}
	return op.(string) + "|" + other.(string), nil
}

func (*seqEngine) AppendOp(dst []byte, op ParsedOp) []byte { return append(dst, op.(string)...) }

// rebasingEngine adds OpRebaser to seqEngine: a scratch op is a *string.
type rebasingEngine struct {
	seqEngine
	scratch, result string
	rebases         int
}

func (e *rebasingEngine) ParseOpScratch(op []byte) (ParsedOp, error) {
	o, err := e.ParseOp(op)
	if err != nil {
		return nil, err
	}
	e.scratch = o.(string)
	return &e.scratch, nil
}

func (e *rebasingEngine) RebaseOp(op ParsedOp, others []ParsedOp, side Side) (ParsedOp, int, error) {
	e.rebases++
	out := ParsedOp(*op.(*string))
	for i, o := range others {
		var err error
		if out, err = e.TransformOp(out, o, side); err != nil {
			return nil, i, err
		}
	}
	e.result = out.(string)
	return &e.result, 0, nil
}

func (e *rebasingEngine) AppendOp(dst []byte, op ParsedOp) []byte {
	if p, ok := op.(*string); ok {
		op = *p
	}
	return e.seqEngine.AppendOp(dst, op)
}

type seqDoc struct{ applied []string }

func (d *seqDoc) Apply(op []byte) error { d.applied = append(d.applied, string(op)); return nil }
func (d *seqDoc) Snapshot() []byte      { return []byte(strings.Join(d.applied, ";")) }
func (d *seqDoc) ApplyOp(op ParsedOp) error {
	if p, ok := op.(*string); ok {
		op = *p
	}
	d.applied = append(d.applied, op.(string))
	return nil
}

func frames(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = wasm.AppendFrame(b, []byte(p))
	}
	return b
}

// TestApplyParsed: an engine with OpRebaser and one without apply alike, with the same results,
// statuses and messages; the rebasing one in one RebaseOp call per apply.
func TestApplyParsed(t *testing.T) {
	cases := []struct {
		name string
		side int32
		in   []byte
		st   byte
		out  string
	}{
		{"alone", wasm.SideLeft, frames("a"), wasm.StatusOK, "a"},
		{"over two", wasm.SideLeft, frames("a", "b", "c"), wasm.StatusOK, "a|b|c"},
		{"right", wasm.SideRight, frames("a", "b", "c"), wasm.StatusOK, "a|<b|<c"},
		{"cached", wasm.SideLeft, frames("x", "c", "b"), wasm.StatusOK, "x|c|b"},
		{"bad op", wasm.SideLeft, frames("bad", "b"), wasm.StatusRejected, "bad op"},
		{"bad concurrent", wasm.SideLeft, frames("a", "b", "bad"), wasm.StatusRejected, "concurrent op 2: bad op"},
		{"failed step", wasm.SideLeft, frames("a", "b", "fail", "c"), wasm.StatusRejected, "transform over op 2: cannot transform"},
		{"bad side", 2, frames("a"), wasm.StatusError, "side 2 is neither 0 (left) nor 1 (right)"},
		{"no op", wasm.SideLeft, nil, wasm.StatusError, "no op in the input"},
	}
	plain, rebasing := &seqEngine{}, &rebasingEngine{}
	for _, e := range []Engine{plain, rebasing} {
		m, _, err := newModule(e)
		if err != nil {
			t.Fatal(err)
		}
		st, out := m.open(nil)
		if st != wasm.StatusOK {
			t.Fatalf("open: %s", out)
		}
		h := binary.LittleEndian.Uint32(out)
		for _, c := range cases {
			if st, out := m.apply(h, c.side, c.in); st != c.st || string(out) != c.out {
				t.Errorf("%T %s: apply = %d %q, want %d %q", e, c.name, st, out, c.st, c.out)
			}
		}
		if st, out := m.snapshot(h); st != wasm.StatusOK || string(out) != "a;a|b|c;a|<b|<c;x|c|b" {
			t.Errorf("%T: snapshot = %d %q", e, st, out)
		}
	}
	if rebasing.rebases != 4 { // over two, right, cached, failed step
		t.Errorf("RebaseOp called %d times, want 4", rebasing.rebases)
	}
}
