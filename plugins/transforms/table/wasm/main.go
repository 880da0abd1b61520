//go:build wasip1

// Command wasm is the `table` engine as an OpStream WASM module: package table behind
// pluginsdk/engine. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bin/plugins/table.wasm ./plugins/transforms/table/wasm
package main

import (
	"errors"
	"fmt"

	"github.com/opstream/opstream/plugins/transforms/table"
	"github.com/opstream/opstream/pluginsdk/engine"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

func init() { engine.Register(tableEngine{}) }

func main() {}

const version = "1.0.0"

type tableEngine struct{}

var (
	_ engine.Engine    = tableEngine{}
	_ engine.OpParser  = tableEngine{}
	_ engine.Doc       = (*doc)(nil)
	_ engine.OpApplier = (*doc)(nil)
)

func invalid(err error) error {
	if errors.Is(err, table.ErrInvalid) {
		return engine.Invalid("%s", err.Error())
	}
	return err
}

func (tableEngine) Manifest() wasm.Manifest {
	return wasm.Manifest{Name: "table", Version: version, DocType: "table"}
}

func (tableEngine) Empty() []byte { return []byte(table.Empty) }

func (tableEngine) Open(snapshot []byte) (engine.Doc, error) {
	d, err := table.ParseSnapshot(snapshot)
	if err != nil {
		return nil, invalid(err)
	}
	return &doc{d: d}, nil
}

func (tableEngine) Validate(op []byte) error {
	_, err := table.ParseOp(op)
	return invalid(err)
}

// Transform is the identity: ops commute, convergence comes from the join in Apply.
func (tableEngine) Transform(op, other []byte, _ engine.Side) ([]byte, error) {
	if _, err := table.ParseOp(other); err != nil {
		return nil, invalid(err)
	}
	return op, nil
}

// ParseOp decodes and validates an op once per call; concurrent ops are cached by the SDK.
func (tableEngine) ParseOp(op []byte) (engine.ParsedOp, error) {
	o, err := table.ParseOp(op)
	if err != nil {
		return nil, invalid(err)
	}
	return &o, nil
}

// TransformOp is the identity.
func (tableEngine) TransformOp(op, _ engine.ParsedOp, _ engine.Side) (engine.ParsedOp, error) {
	return op, nil
}

// AppendOp appends the op's canonical encoding: the op as applied.
func (tableEngine) AppendOp(dst []byte, op engine.ParsedOp) []byte {
	return op.(*table.Op).Append(dst)
}

type doc struct{ d *table.Doc }

func (d *doc) Apply(op []byte) error {
	o, err := table.ParseOp(op)
	if err != nil {
		return invalid(err)
	}
	return invalid(d.d.Apply(o))
}

func (d *doc) ApplyOp(op engine.ParsedOp) error {
	o, ok := op.(*table.Op)
	if !ok {
		return fmt.Errorf("table: parsed op of type %T", op)
	}
	return invalid(d.d.Apply(*o))
}

func (d *doc) Snapshot() []byte { return d.d.AppendSnapshot(nil) }
