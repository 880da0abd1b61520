//go:build wasip1

// Command wasm is the `json` engine as an OpStream WASM module: package jsoncrdt behind
// pluginsdk/engine. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bin/plugins/json.wasm ./plugins/transforms/jsoncrdt/wasm
package main

import (
	"errors"

	"github.com/opstream/opstream/plugins/transforms/jsoncrdt"
	"github.com/opstream/opstream/pluginsdk/engine"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

func init() { engine.Register(jsonEngine{}) }

func main() {}

const version = "1.0.0"

type jsonEngine struct{}

var (
	_ engine.Engine    = jsonEngine{}
	_ engine.OpParser  = jsonEngine{}
	_ engine.Doc       = (*doc)(nil)
	_ engine.OpApplier = (*doc)(nil)
)

func invalid(err error) error {
	if errors.Is(err, jsoncrdt.ErrInvalid) {
		return engine.Invalid("%s", err.Error())
	}
	return err
}

func (jsonEngine) Manifest() wasm.Manifest {
	return wasm.Manifest{Name: "json", Version: version, DocType: "json"}
}

func (jsonEngine) Empty() []byte { return []byte(jsoncrdt.Empty) }

func (jsonEngine) Open(snapshot []byte) (engine.Doc, error) {
	d, err := jsoncrdt.ParseSnapshot(snapshot)
	if err != nil {
		return nil, invalid(err)
	}
	return &doc{d: d}, nil
}

func (jsonEngine) Validate(op []byte) error {
	_, err := jsoncrdt.ParseOp(op)
	return invalid(err)
}

// Transform is the identity: ops commute, convergence comes from the join in Apply.
func (jsonEngine) Transform(op, other []byte, _ engine.Side) ([]byte, error) {
	if _, err := jsoncrdt.ParseOp(other); err != nil {
		return nil, invalid(err)
	}
	return op, nil
}

// parsedOp is a decoded op with its bytes: the applied op is the op as sent, as Apply returns it.
type parsedOp struct {
	op  jsoncrdt.Op
	raw []byte
}

// ParseOp decodes and validates an op once per call; concurrent ops are cached by the SDK.
func (jsonEngine) ParseOp(op []byte) (engine.ParsedOp, error) {
	o, err := jsoncrdt.ParseOp(op)
	if err != nil {
		return nil, invalid(err)
	}
	return &parsedOp{op: o, raw: append([]byte(nil), op...)}, nil
}

// TransformOp is the identity.
func (jsonEngine) TransformOp(op, _ engine.ParsedOp, _ engine.Side) (engine.ParsedOp, error) {
	return op, nil
}

// AppendOp appends the op as it was sent (what Apply without OpParser returns).
func (jsonEngine) AppendOp(dst []byte, op engine.ParsedOp) []byte {
	return append(dst, op.(*parsedOp).raw...)
}

type doc struct{ d *jsoncrdt.Doc }

func (d *doc) ApplyOp(op engine.ParsedOp) error {
	return invalid(d.d.Apply(op.(*parsedOp).op))
}

func (d *doc) Apply(op []byte) error {
	o, err := jsoncrdt.ParseOp(op)
	if err != nil {
		return invalid(err)
	}
	return invalid(d.d.Apply(o))
}

func (d *doc) Snapshot() []byte { return d.d.AppendSnapshot(nil) }
