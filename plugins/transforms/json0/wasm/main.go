//go:build wasip1

// Command wasm is the `json0` engine (ShareDB's ot-json0) as an OpStream WASM module: package
// json0 behind pluginsdk/engine. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bin/plugins/json0.wasm ./plugins/transforms/json0/wasm
package main

import (
	"errors"

	"github.com/opstream/opstream/plugins/transforms/json0"
	"github.com/opstream/opstream/pluginsdk/engine"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

func init() { engine.Register(json0Engine{}) }

func main() {}

const version = "1.0.0"

type json0Engine struct{}

var (
	_ engine.Engine    = json0Engine{}
	_ engine.Composer  = json0Engine{}
	_ engine.OpParser  = json0Engine{}
	_ engine.Doc       = (*doc)(nil)
	_ engine.OpApplier = (*doc)(nil)
)

func invalid(err error) error {
	if errors.Is(err, json0.ErrInvalid) {
		return engine.Invalid("%s", err.Error())
	}
	return err
}

func (json0Engine) Manifest() wasm.Manifest {
	return wasm.Manifest{Name: "json0", Version: version, DocType: "json0", Capabilities: []string{engine.CapabilityCompose}}
}

// Empty is ot-json0's create(): null.
func (json0Engine) Empty() []byte { return []byte(`null`) }

func (json0Engine) Open(snapshot []byte) (engine.Doc, error) {
	v, err := json0.ParseValue(snapshot)
	if err != nil {
		return nil, invalid(err)
	}
	return &doc{v: v}, nil
}

func (json0Engine) Validate(op []byte) error {
	_, err := json0.ParseOp(op)
	return invalid(err)
}

func (json0Engine) Transform(op, other []byte, side engine.Side) ([]byte, error) {
	a, err := json0.ParseOp(op)
	if err != nil {
		return nil, invalid(err)
	}
	b, err := json0.ParseOp(other)
	if err != nil {
		return nil, invalid(err)
	}
	s := json0.Left
	if side == engine.Right {
		s = json0.Right
	}
	out, err := json0.Transform(a, b, s)
	if err != nil {
		return nil, invalid(err)
	}
	return out.AppendJSON(nil), nil
}

func (json0Engine) Compose(a, b []byte) ([]byte, error) {
	x, err := json0.ParseOp(a)
	if err != nil {
		return nil, invalid(err)
	}
	y, err := json0.ParseOp(b)
	if err != nil {
		return nil, invalid(err)
	}
	out, err := json0.Compose(x, y)
	if err != nil {
		return nil, invalid(err)
	}
	return out.AppendJSON(nil), nil
}

// ParseOp implements engine.OpParser.
func (json0Engine) ParseOp(op []byte) (engine.ParsedOp, error) {
	o, err := json0.ParseOp(op)
	if err != nil {
		return nil, invalid(err)
	}
	return o, nil
}

// TransformOp implements engine.OpParser. json0.Transform leaves both ops as they are (it copies
// what it changes; TestTransformOwned checks it), so the concurrent ops the SDK caches across
// calls are passed as they are.
func (json0Engine) TransformOp(op, other engine.ParsedOp, side engine.Side) (engine.ParsedOp, error) {
	out, err := json0.Transform(op.(json0.Op), other.(json0.Op), json0.Side(side == engine.Left))
	if err != nil {
		return nil, invalid(err)
	}
	return out, nil
}

// AppendOp implements engine.OpParser.
func (json0Engine) AppendOp(dst []byte, op engine.ParsedOp) []byte {
	return op.(json0.Op).AppendJSON(dst)
}

// doc is a live json0 document.
type doc struct{ v any }

func (d *doc) Apply(op []byte) error {
	o, err := json0.ParseOp(op)
	if err != nil {
		return invalid(err)
	}
	v, err := json0.ApplyOwned(d.v, o)
	if err != nil {
		return invalid(err)
	}
	d.v = v
	return nil
}

// ApplyOp implements engine.OpApplier. The op is the SDK's own (parsed from the input, or
// transformed from it, sharing values with no cached op), used after this only to encode it
// before the next change: its inserted values are kept without a copy.
func (d *doc) ApplyOp(op engine.ParsedOp) error {
	v, err := json0.ApplyOwned(d.v, op.(json0.Op))
	if err != nil {
		return invalid(err)
	}
	d.v = v
	return nil
}

func (d *doc) Snapshot() []byte { return json0.AppendValue(nil, d.v) }
