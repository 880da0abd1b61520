//go:build wasip1

// Command wasm is the `tree` engine as an OpStream WASM module: package tree behind
// pluginsdk/engine. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bin/plugins/tree.wasm ./plugins/transforms/tree/wasm
package main

import (
	"errors"
	"fmt"

	"github.com/opstream/opstream/plugins/transforms/tree"
	"github.com/opstream/opstream/pluginsdk/engine"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

func init() { engine.Register(treeEngine{}) }

func main() {}

const version = "1.0.0"

type treeEngine struct{}

var (
	_ engine.Engine    = treeEngine{}
	_ engine.OpParser  = treeEngine{}
	_ engine.Doc       = (*doc)(nil)
	_ engine.OpApplier = (*doc)(nil)
)

func invalid(err error) error {
	if errors.Is(err, tree.ErrInvalid) {
		return engine.Invalid("%s", err.Error())
	}
	return err
}

func (treeEngine) Manifest() wasm.Manifest {
	return wasm.Manifest{Name: "tree", Version: version, DocType: "tree"}
}

func (treeEngine) Empty() []byte { return []byte(tree.Empty) }

func (treeEngine) Open(snapshot []byte) (engine.Doc, error) {
	d, err := tree.ParseSnapshot(snapshot)
	if err != nil {
		return nil, invalid(err)
	}
	return &doc{d: d}, nil
}

func (treeEngine) Validate(op []byte) error {
	_, err := tree.ParseOp(op)
	return invalid(err)
}

// Transform is the identity: ops commute (the log puts each in its place by stamp).
func (treeEngine) Transform(op, other []byte, _ engine.Side) ([]byte, error) {
	if _, err := tree.ParseOp(other); err != nil {
		return nil, invalid(err)
	}
	return op, nil
}

// ParseOp decodes and validates an op once per call; concurrent ops are cached by the SDK.
func (treeEngine) ParseOp(op []byte) (engine.ParsedOp, error) {
	o, err := tree.ParseOp(op)
	if err != nil {
		return nil, invalid(err)
	}
	return &o, nil
}

// TransformOp is the identity.
func (treeEngine) TransformOp(op, _ engine.ParsedOp, _ engine.Side) (engine.ParsedOp, error) {
	return op, nil
}

// AppendOp appends the op's canonical encoding: the op as applied.
func (treeEngine) AppendOp(dst []byte, op engine.ParsedOp) []byte {
	return op.(*tree.Op).Append(dst)
}

type doc struct{ d *tree.Doc }

func (d *doc) Apply(op []byte) error {
	o, err := tree.ParseOp(op)
	if err != nil {
		return invalid(err)
	}
	return invalid(d.d.Apply(o))
}

func (d *doc) ApplyOp(op engine.ParsedOp) error {
	o, ok := op.(*tree.Op)
	if !ok {
		return fmt.Errorf("tree: parsed op of type %T", op)
	}
	return invalid(d.d.Apply(*o))
}

func (d *doc) Snapshot() []byte { return d.d.AppendSnapshot(nil) }
