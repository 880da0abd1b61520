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

func init() { engine.Register(textEngine{}) }

func main() {}

// version is the engine's version in its manifest.
const version = "1.0.0"

// textEngine adapts package text to engine.Engine.
type textEngine struct{}

var (
	_ engine.Engine    = textEngine{}
	_ engine.Composer  = textEngine{}
	_ engine.OpParser  = textEngine{}
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

func (textEngine) Manifest() wasm.Manifest {
	return wasm.Manifest{Name: "text", Version: version, DocType: "text", Capabilities: []string{engine.CapabilityCompose}}
}

func (textEngine) Empty() []byte { return []byte(`""`) }

func (textEngine) Open(snapshot []byte) (engine.Doc, error) {
	s, err := text.ParseSnapshot(snapshot)
	if err != nil {
		return nil, invalid(err)
	}
	return &doc{d: text.NewDoc(s)}, nil
}

func (textEngine) Validate(op []byte) error {
	_, err := text.ParseOp(op)
	return invalid(err)
}

func (textEngine) Transform(op, other []byte, side engine.Side) ([]byte, error) {
	a, err := text.ParseOp(op)
	if err != nil {
		return nil, invalid(err)
	}
	b, err := text.ParseOp(other)
	if err != nil {
		return nil, invalid(err)
	}
	s := text.Left
	if side == engine.Right {
		s = text.Right
	}
	out, err := text.Transform(a, b, s)
	if err != nil {
		return nil, invalid(err)
	}
	return out.AppendJSON(nil), nil
}

func (textEngine) Compose(a, b []byte) ([]byte, error) {
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

// ParseOp implements engine.OpParser.
func (textEngine) ParseOp(op []byte) (engine.ParsedOp, error) {
	o, err := text.ParseOp(op)
	if err != nil {
		return nil, invalid(err)
	}
	return o, nil
}

// TransformOp implements engine.OpParser.
func (textEngine) TransformOp(op, other engine.ParsedOp, side engine.Side) (engine.ParsedOp, error) {
	s := text.Left
	if side == engine.Right {
		s = text.Right
	}
	out, err := text.Transform(op.(text.Op), other.(text.Op), s)
	if err != nil {
		return nil, invalid(err)
	}
	return out, nil
}

// AppendOp implements engine.OpParser.
func (textEngine) AppendOp(dst []byte, op engine.ParsedOp) []byte {
	return op.(text.Op).AppendJSON(dst)
}

// doc is a live text document.
type doc struct{ d *text.Doc }

func (d *doc) Apply(op []byte) error {
	o, err := text.ParseOp(op)
	if err != nil {
		return invalid(err)
	}
	return invalid(d.d.Apply(o))
}

// ApplyOp implements engine.OpApplier.
func (d *doc) ApplyOp(op engine.ParsedOp) error { return invalid(d.d.Apply(op.(text.Op))) }

func (d *doc) Snapshot() []byte { return d.d.AppendSnapshot(nil) }
