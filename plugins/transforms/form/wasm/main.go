//go:build wasip1

// Command wasm is the `form` engine as an OpStream WASM module: package form behind
// pluginsdk/engine. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bin/plugins/form.wasm ./plugins/transforms/form/wasm
package main

import (
	"errors"

	"github.com/opstream/opstream/plugins/transforms/form"
	"github.com/opstream/opstream/pluginsdk/engine"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

func init() { engine.Register(formEngine{}) }

func main() {}

const version = "1.0.0"

type formEngine struct{}

var (
	_ engine.Engine    = formEngine{}
	_ engine.OpParser  = formEngine{}
	_ engine.Doc       = (*doc)(nil)
	_ engine.OpApplier = (*doc)(nil)
)

func invalid(err error) error {
	if errors.Is(err, form.ErrInvalid) {
		return engine.Invalid("%s", err.Error())
	}
	return err
}

func (formEngine) Manifest() wasm.Manifest {
	return wasm.Manifest{Name: "form", Version: version, DocType: "form"}
}

func (formEngine) Empty() []byte { return []byte(form.Empty) }

func (formEngine) Open(snapshot []byte) (engine.Doc, error) {
	d, err := form.ParseSnapshot(snapshot)
	if err != nil {
		return nil, invalid(err)
	}
	return &doc{d: d}, nil
}

func (formEngine) Validate(op []byte) error {
	_, err := form.ParseOp(op)
	return invalid(err)
}

// Transform is the identity: ops commute, convergence comes from the join in Apply.
func (formEngine) Transform(op, other []byte, _ engine.Side) ([]byte, error) {
	if _, err := form.ParseOp(other); err != nil {
		return nil, invalid(err)
	}
	return op, nil
}

// parsedOp is a decoded op with its bytes: the applied op is the op as sent, as Apply returns it.
type parsedOp struct {
	op  form.Op
	raw []byte
}

// ParseOp decodes and validates an op once per call; concurrent ops are cached by the SDK.
func (formEngine) ParseOp(op []byte) (engine.ParsedOp, error) {
	o, err := form.ParseOp(op)
	if err != nil {
		return nil, invalid(err)
	}
	return &parsedOp{op: o, raw: append([]byte(nil), op...)}, nil
}

// TransformOp is the identity.
func (formEngine) TransformOp(op, _ engine.ParsedOp, _ engine.Side) (engine.ParsedOp, error) {
	return op, nil
}

// AppendOp appends the op as it was sent (what Apply without OpParser returns).
func (formEngine) AppendOp(dst []byte, op engine.ParsedOp) []byte {
	return append(dst, op.(*parsedOp).raw...)
}

type doc struct{ d *form.Doc }

func (d *doc) ApplyOp(op engine.ParsedOp) error {
	return invalid(d.d.Apply(op.(*parsedOp).op))
}

func (d *doc) Apply(op []byte) error {
	o, err := form.ParseOp(op)
	if err != nil {
		return invalid(err)
	}
	return invalid(d.d.Apply(o))
}

func (d *doc) Snapshot() []byte { return d.d.AppendSnapshot(nil) }
