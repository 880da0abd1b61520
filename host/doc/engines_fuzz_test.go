package doc

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

// fuzzModule is the fuzz target of one engine module, run through the real wazero host: no op
// bytes (applied alone, or rebased over a valid concurrent op on either side) may make the
// module trap or fail other than by refusing the op (InvalidOp), and a refused op leaves the
// document unchanged. `go test` runs the seeds; `go test -fuzz FuzzTreeModule ./host/doc/`
// (etc.) explores.
func fuzzModule(f *testing.F, docType string) {
	var m model
	for _, x := range models() {
		if x.docType == docType {
			m = x
		}
	}
	if m.docType == "" {
		f.Fatalf("no model for %s", docType)
	}
	e := loadEngines(f, []model{m})[docType]
	ctx := context.Background()
	empty, err := e.Empty(ctx)
	if err != nil {
		f.Fatal(err)
	}
	if m.init != "" { // the model's skeleton document (json0)
		d, err := e.Open(ctx, empty)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := d.Apply(ctx, []byte(m.init), nil, wasm.SideLeft); err != nil {
			f.Fatalf("init op: %v", err)
		}
		if empty, err = d.Snapshot(ctx); err != nil {
			f.Fatal(err)
		}
		_ = d.Close(ctx)
	}
	// A valid history: each op made on the state the previous ones left.
	r := rand.New(rand.NewPCG(1, 2))
	scratch, err := e.Open(ctx, empty)
	if err != nil {
		f.Fatal(err)
	}
	valid := make([][]byte, 0, 4)
	snap := empty
	for i := 0; i < 4; i++ {
		op, err := m.randomOp(r, snap, int64(i+1), "seed")
		if err != nil {
			f.Fatal(err)
		}
		if _, err := scratch.Apply(ctx, op, nil, wasm.SideLeft); err != nil {
			f.Fatalf("seed op %s: %v", op, err)
		}
		if snap, err = scratch.Snapshot(ctx); err != nil {
			f.Fatal(err)
		}
		valid = append(valid, op)
		f.Add(op, uint8(2*i))
	}
	_ = scratch.Close(ctx)
	f.Add(valid[0], uint8(1))
	f.Add(valid[1], uint8(3|4))
	for _, bad := range []string{``, `null`, `{}`, `[]`, `"x"`, `[[[[[[[[`, `{"a":`, `1e999`, "\xff\xfe", `[{"p":[0],"si":"x"}]`, `{"ops":[{"retain":-1}]}`} {
		f.Add([]byte(bad), uint8(0))
	}
	f.Fuzz(func(t *testing.T, op []byte, mode uint8) {
		d, err := e.Open(ctx, empty)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close(ctx)
		// mode: bit 0 picks a concurrent op (the last of a prefix of the valid history, whose
		// other ops are applied first), bit 1 the side, the rest the prefix length.
		var concurrent [][]byte
		if mode&1 == 1 {
			n := 1 + int(mode>>2)%len(valid)
			for _, c := range valid[:n] {
				if _, err := d.Apply(ctx, c, nil, wasm.SideLeft); err != nil {
					t.Fatalf("seed op %s: %v", c, err)
				}
			}
			concurrent = [][]byte{valid[n-1]}
		}
		before, err := d.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		side := wasm.SideLeft
		if mode&2 == 2 {
			side = wasm.SideRight
		}
		_, err = d.Apply(ctx, op, concurrent, side)
		if err == nil {
			return
		}
		if !errors.Is(err, pluginhost.ErrRejected) {
			t.Fatalf("op %q: the module failed instead of refusing it: %v", op, err)
		}
		after, serr := d.Snapshot(ctx)
		if serr != nil {
			t.Fatalf("snapshot after a refused op: %v", serr)
		}
		if !bytes.Equal(before, after) {
			t.Fatalf("refused op %q changed the document: %s -> %s", op, before, after)
		}
	})
}

func FuzzTextModule(f *testing.F)     { fuzzModule(f, "text") }
func FuzzRichTextModule(f *testing.F) { fuzzModule(f, "rich-text") }
func FuzzJSON0Module(f *testing.F)    { fuzzModule(f, "json0") }
func FuzzFormModule(f *testing.F)     { fuzzModule(f, "form") }
func FuzzJSONModule(f *testing.F)     { fuzzModule(f, "json") }
func FuzzTreeModule(f *testing.F)     { fuzzModule(f, "tree") }
func FuzzTableModule(f *testing.F)    { fuzzModule(f, "table") }
func FuzzCounterModule(f *testing.F)  { fuzzModule(f, "counter") }
