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
	_ engine.Engine = jsonEngine{}
	_ engine.Doc    = (*doc)(nil)
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

type doc struct{ d *jsoncrdt.Doc }

func (d *doc) Apply(op []byte) error {
	o, err := jsoncrdt.ParseOp(op)
	if err != nil {
		return invalid(err)
	}
	return invalid(d.d.Apply(o))
}

func (d *doc) Snapshot() []byte { return d.d.AppendSnapshot(nil) }
