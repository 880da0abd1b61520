//go:build wasip1

// Command hostile is an engine for end-to-end sandbox tests, built with the Go SDK. A document
// is a number and an op is a number added to it, but some ops misbehave on purpose: "loop"
// spins forever, "bomb" allocates until memory runs out, "panic" panics, "big" rebased over another op answers 20 MiB.
package main

import (
	"strconv"

	"github.com/opstream/opstream/pluginsdk/engine"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

func init() { engine.Register(hostile{}) }

func main() {}

type hostile struct{}

var sink [][]byte

func (hostile) Manifest() wasm.Manifest {
	return wasm.Manifest{Name: "hostile", Version: "0.0.1", DocType: "hostile"}
}

func (hostile) Empty() []byte { return []byte("0") }

func (hostile) Open(snapshot []byte) (engine.Doc, error) {
	n, err := strconv.Atoi(string(snapshot))
	if err != nil {
		return nil, engine.Invalid("snapshot %q is not a number", snapshot)
	}
	return &doc{n: n}, nil
}

func (hostile) Validate(op []byte) error {
	switch string(op) {
	case `"loop"`, `"bomb"`, `"panic"`, `"big"`:
		return nil
	}
	if _, err := strconv.Atoi(string(op)); err != nil {
		return engine.Invalid("op %q is not a number", op)
	}
	return nil
}

// Transform is the identity, except that "big" rebased over anything answers 20 MiB.
func (hostile) Transform(op, _ []byte, _ engine.Side) ([]byte, error) {
	if string(op) == `"big"` {
		return make([]byte, 20<<20), nil
	}
	return op, nil
}

type doc struct{ n int }

func (d *doc) Apply(op []byte) error {
	switch string(op) {
	case `"loop"`:
		for i := 0; ; i++ {
			if i < 0 {
				break
			}
		}
	case `"bomb"`:
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	case `"panic"`:
		panic("hostile engine asked to panic")
	case `"big"`:
		return nil
	}
	n, _ := strconv.Atoi(string(op))
	d.n += n
	return nil
}

func (d *doc) Snapshot() []byte { return []byte(strconv.Itoa(d.n)) }
