package json0_test

import (
	"encoding/binary"
	"testing"

	"github.com/opstream/opstream/internal/wasmtest"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

func TestModule(t *testing.T) {
	g := wasmtest.Start(t, wasmtest.Build(t, "./wasm"))
	want := func(name string, st byte, out string, wantSt byte, wantOut string) {
		t.Helper()
		if st != wantSt || (wantOut != "*" && out != wantOut) {
			t.Fatalf("%s = %d %q, want %d %q", name, st, out, wantSt, wantOut)
		}
	}
	res, err := g.Mod.ExportedFunction(wasm.ExportABIVersion).Call(g.Ctx)
	if err != nil || res[0] != wasm.ABIVersion {
		t.Fatalf("abi version %v %v", res, err)
	}
	st, out := g.Call(wasm.ExportInfo, nil)
	want("info", st, out, 0, `{"abi":1,"role":"engine","name":"json0","version":"1.0.0","docType":"json0","capabilities":["compose"]}`)
	st, out = g.Call(wasm.ExportEngineEmpty, nil)
	want("empty", st, out, 0, `null`)

	st, out = g.Call(wasm.ExportEngineOpen, []byte(`{"title":"héllo 💃","tags":["a","b"],"n":1}`))
	want("open", st, out, 0, "*")
	h := uint64(binary.LittleEndian.Uint32([]byte(out)))
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[{"p":["title",8],"si":"!"}]`), h, 0)
	want("apply si after an astral char", st, out, 0, `[{"p":["title",8],"si":"!"}]`)
	// Rebased over a concurrent insert at the same list position: left goes first.
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[{"p":["tags",0],"li":"x"}]`, `[{"p":["tags",0],"li":"y"}]`), h, uint64(wasm.SideLeft))
	want("apply left", st, out, 0, `[{"p":["tags",0],"li":"x"}]`)
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[{"p":["n"],"na":2}]`, `[{"p":["n"],"na":3}]`), h, uint64(wasm.SideRight))
	want("apply na", st, out, 0, `[{"p":["n"],"na":2}]`)
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[{"p":["n"],"si":"x"}]`), h, 0)
	want("apply malformed", st, out, 1, "*")
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[{"p":["tags",0],"na":1}]`), h, 0)
	want("apply na on a string", st, out, 1, "*")
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[{"p":["q"],"t":"rich-text","o":[]}]`), h, 0)
	want("apply unknown subtype", st, out, 1, "*")
	st, out = g.Call(wasm.ExportEngineSnapshot, nil, h)
	want("snapshot", st, out, 0, `{"title":"héllo 💃!","tags":["x","a","b"],"n":3}`)

	st, out = g.Call(wasm.ExportEngineTransform, wasmtest.Frames(`[{"p":["a",1],"ld":1}]`, `[{"p":["a",0],"li":0}]`, `[{"p":["a"],"od":[],"oi":{}}]`), uint64(wasm.SideLeft))
	want("transform", st, out, 0, `[]`)
	st, out = g.Call(wasm.ExportEngineValidate, []byte(`[{"p":["x"],"oi":{}}]`))
	want("validate", st, out, 0, "")
	st, out = g.Call(wasm.ExportEngineValidate, []byte(`[{"p":"x","oi":1}]`))
	want("validate bad", st, out, 1, "*")
	st, out = g.Call(wasm.ExportEngineCompose, wasmtest.Frames(`[{"p":["n"],"na":1}]`, `[{"p":["n"],"na":2}]`))
	want("compose", st, out, 0, `[{"p":["n"],"na":3}]`)

	g.Call(wasm.ExportEngineClose, nil, h)
	st, out = g.Call(wasm.ExportEngineSnapshot, nil, h)
	want("snapshot closed", st, out, 2, "*")
	st, out = g.Call(wasm.ExportEngineOpen, []byte(`{"a":`))
	want("open bad", st, out, 1, "*")
}
