//go:build wasip1

// Command wasm is the `rich-text` engine as an OpStream WASM module: package richtext behind
// pluginsdk/engine. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bin/plugins/rich-text.wasm ./plugins/transforms/richtext/wasm
package main

import (
	"errors"

	"github.com/opstream/opstream/plugins/transforms/richtext"
	"github.com/opstream/opstream/pluginsdk/engine"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

func init() { engine.Register(richTextEngine{}) }

func main() {}

// version is the engine's version in its manifest.
const version = "1.0.0"

// richTextEngine adapts package richtext to engine.Engine.
type richTextEngine struct{}

var (
	_ engine.Engine    = richTextEngine{}
	_ engine.Composer  = richTextEngine{}
	_ engine.OpParser  = richTextEngine{}
	_ engine.Doc       = (*doc)(nil)
	_ engine.OpApplier = (*doc)(nil)
)

// invalid maps richtext's errors onto the SDK's statuses.
func invalid(err error) error {
	if errors.Is(err, richtext.ErrInvalid) {
		return engine.Invalid("%s", err.Error())
	}
	return err
}

func side(s engine.Side) richtext.Side {
	if s == engine.Right {
		return richtext.Right
	}
	return richtext.Left
}

func (richTextEngine) Manifest() wasm.Manifest {
	return wasm.Manifest{Name: "rich-text", Version: version, DocType: "rich-text", Capabilities: []string{engine.CapabilityCompose}}
}

func (richTextEngine) Empty() []byte { return []byte(`{"ops":[]}`) }

func (richTextEngine) Open(snapshot []byte) (engine.Doc, error) {
	s, err := richtext.ParseSnapshot(snapshot)
	if err != nil {
		return nil, invalid(err)
	}
	return &doc{d: richtext.NewDoc(s)}, nil
}

func (richTextEngine) Validate(op []byte) error {
	_, err := richtext.ParseOp(op)
	return invalid(err)
}

func (richTextEngine) Transform(op, other []byte, s engine.Side) ([]byte, error) {
	a, err := richtext.ParseOp(op)
	if err != nil {
		return nil, invalid(err)
	}
	b, err := richtext.ParseOp(other)
	if err != nil {
		return nil, invalid(err)
	}
	return richtext.Transform(a, b, side(s)).AppendJSON(nil), nil
}

func (richTextEngine) Compose(a, b []byte) ([]byte, error) {
	x, err := richtext.ParseOp(a)
	if err != nil {
		return nil, invalid(err)
	}
	y, err := richtext.ParseOp(b)
	if err != nil {
		return nil, invalid(err)
	}
	return richtext.Compose(x, y).AppendJSON(nil), nil
}

// ParseOp implements engine.OpParser.
func (richTextEngine) ParseOp(op []byte) (engine.ParsedOp, error) {
	o, err := richtext.ParseOp(op)
	if err != nil {
		return nil, invalid(err)
	}
	return o, nil
}

// TransformOp implements engine.OpParser.
func (richTextEngine) TransformOp(op, other engine.ParsedOp, s engine.Side) (engine.ParsedOp, error) {
	return richtext.Transform(op.(richtext.Op), other.(richtext.Op), side(s)), nil
}

// AppendOp implements engine.OpParser.
func (richTextEngine) AppendOp(dst []byte, op engine.ParsedOp) []byte {
	return op.(richtext.Op).AppendJSON(dst)
}

// doc is a live rich-text document.
type doc struct{ d *richtext.Doc }

func (d *doc) Apply(op []byte) error {
	o, err := richtext.ParseOp(op)
	if err != nil {
		return invalid(err)
	}
	return invalid(d.d.Apply(o))
}

// ApplyOp implements engine.OpApplier.
func (d *doc) ApplyOp(op engine.ParsedOp) error { return invalid(d.d.Apply(op.(richtext.Op))) }

func (d *doc) Snapshot() []byte { return d.d.AppendSnapshot(nil) }
