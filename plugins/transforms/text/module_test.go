package text_test

import (
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/opstream/opstream/internal/wasmtest"
	"github.com/opstream/opstream/plugins/transforms/text"
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
	want("info", st, out, 0, `{"abi":1,"role":"engine","name":"text","version":"1.0.0","docType":"text","capabilities":["compose"]}`)
	st, out = g.Call(wasm.ExportEngineEmpty, nil)
	want("empty", st, out, 0, `""`)

	st, out = g.Call(wasm.ExportEngineOpen, []byte(`"héllo 💃"`))
	want("open", st, out, 0, "*")
	h := uint64(binary.LittleEndian.Uint32([]byte(out)))
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[6,"big "]`), h, 0)
	want("apply", st, out, 0, `[6,"big "]`)
	// Rebased over a concurrent insert at the same position: left goes first.
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[6,"A"]`, `[6,"B"]`), h, uint64(wasm.SideLeft))
	want("apply left", st, out, 0, `[6,"A"]`)
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[6,"C"]`, `[6,"D"]`), h, uint64(wasm.SideRight))
	want("apply right", st, out, 0, `[7,"C"]`)
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[99,"x"]`), h, 0)
	want("apply too long", st, out, 1, "*")
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[1,2]`), h, 0)
	want("apply malformed", st, out, 1, "*")
	st, out = g.Call(wasm.ExportEngineSnapshot, nil, h)
	want("snapshot", st, out, 0, `"héllo ACbig 💃"`)

	// Over several concurrent ops (the log since the op's base), and a malformed one (rejected,
	// the document unchanged).
	st, out = g.Call(wasm.ExportEngineOpen, []byte(`"abc"`))
	want("open 2", st, out, 0, "*")
	h2 := uint64(binary.LittleEndian.Uint32([]byte(out)))
	for _, op := range []string{`["ab"]`, `[{"d":3},"z"]`, `[3,"q💃"]`} {
		st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(op), h2, 0)
		want("apply log", st, out, 0, op)
	}
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[1,"éé",{"d":1}]`, `["ab"]`, `[{"d":3},"z"]`, `[3,"q💃"]`), h2, uint64(wasm.SideLeft))
	want("apply over 3", st, out, 0, `["éé",1,{"d":1}]`)
	st, out = g.Call(wasm.ExportEngineApply, wasmtest.Frames(`[1,"w"]`, `["y"]`, `[1,2]`), h2, uint64(wasm.SideLeft))
	_, perr := text.ParseOp([]byte(`[1,2]`))
	want("apply over malformed", st, out, 1, "concurrent op 2: "+perr.Error())
	st, out = g.Call(wasm.ExportEngineSnapshot, nil, h2)
	want("snapshot 2", st, out, 0, `"éézcq💃"`)

	st, out = g.Call(wasm.ExportEngineTransform, wasmtest.Frames(`[1,"x"]`, `["ab"]`, `[{"d":1}]`), uint64(wasm.SideLeft))
	want("transform", st, out, 0, `[2,"x"]`)
	st, out = g.Call(wasm.ExportEngineValidate, []byte(`["ok"]`))
	want("validate", st, out, 0, "")
	st, out = g.Call(wasm.ExportEngineValidate, []byte(`[3]`))
	want("validate bad", st, out, 1, "*")
	st, out = g.Call(wasm.ExportEngineCompose, wasmtest.Frames(`["ab"]`, `[1,{"d":1},"c"]`))
	want("compose", st, out, 0, `["ac"]`)

	g.Call(wasm.ExportEngineClose, nil, h)
	st, out = g.Call(wasm.ExportEngineSnapshot, nil, h)
	want("snapshot closed", st, out, 2, "*")
	st, out = g.Call(wasm.ExportEngineOpen, []byte(`123`))
	want("open bad", st, out, 1, "*")
}

// BenchmarkModuleApply: a 1-char insert (or delete) in the middle of a live 1 KB or 1 MB
// document through WASM (wazero, compiler), input writing and result reading included.
func BenchmarkModuleApply(b *testing.B) {
	bin := wasmtest.Build(b, "./wasm")
	b.Run("1KB", func(b *testing.B) { benchModuleApply(b, bin, 1<<10) })
	b.Run("1MB", func(b *testing.B) { benchModuleApply(b, bin, 1<<20) })
}

func benchModuleApply(b *testing.B, bin []byte, size int) {
	g := wasmtest.Start(b, bin)
	doc := make([]byte, 0, size+32)
	doc = append(doc, '"')
	for len(doc) < size {
		doc = append(doc, "lorem ipsum é 💃 "...)
	}
	doc = append(doc, '"')
	_, out := g.Call(wasm.ExportEngineOpen, doc)
	h := uint64(binary.LittleEndian.Uint32([]byte(out)))
	mid := strconv.Itoa(size / 4)
	ins, del := wasmtest.Frames(`[`+mid+`,"x"]`), wasmtest.Frames(`[`+mid+`,{"d":1}]`)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		in := ins
		if i&1 == 1 {
			in = del
		}
		i++
		if st, out := g.Call(wasm.ExportEngineApply, in, h, 0); st != 0 {
			b.Fatal(out)
		}
	}
}

// BenchmarkModuleApplyConcurrent: the hot-document case: a 1-char insert at 0 rebased over the
// ops ordered since its base revision (each an insert near 0), through WASM.
func BenchmarkModuleApplyConcurrent(b *testing.B) {
	bin := wasmtest.Build(b, "./wasm")
	for _, n := range []int{0, 1, 7} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			g := wasmtest.Start(b, bin)
			_, out := g.Call(wasm.ExportEngineOpen, []byte(`"hello"`))
			h := uint64(binary.LittleEndian.Uint32([]byte(out)))
			frames := []string{`["x"]`}
			for i := range n {
				if i == 0 {
					frames = append(frames, `["y"]`)
				} else {
					frames = append(frames, `[`+strconv.Itoa(i)+`,"y"]`)
				}
			}
			in := wasmtest.Frames(frames...)
			b.ReportAllocs()
			for b.Loop() {
				if st, out := g.Call(wasm.ExportEngineApply, in, h, 0); st != 0 {
					b.Fatal(out)
				}
			}
		})
	}
}

// BenchmarkModuleSnapshot: engine_snapshot of a live 64 KB or 1 MB document of mixed ASCII and
// non-ASCII text through WASM, result reading included: the server takes one every 100 ops.
// 64KB-escapes is text that needs escaping every few bytes (code: quotes, tabs, newlines).
func BenchmarkModuleSnapshot(b *testing.B) {
	bin := wasmtest.Build(b, "./wasm")
	const prose, code = "lorem ipsum é 💃 ", `\tx := \"a\\b\" // é\n`
	b.Run("64KB", func(b *testing.B) { benchModuleSnapshot(b, bin, 64<<10, prose) })
	b.Run("1MB", func(b *testing.B) { benchModuleSnapshot(b, bin, 1<<20, prose) })
	b.Run("64KB-escapes", func(b *testing.B) { benchModuleSnapshot(b, bin, 64<<10, code) })
}

// benchModuleSnapshot snapshots a document of piece (JSON-escaped) repeated to size bytes.
func benchModuleSnapshot(b *testing.B, bin []byte, size int, piece string) {
	g := wasmtest.Start(b, bin)
	doc := make([]byte, 0, size+32)
	doc = append(doc, '"')
	for len(doc) < size {
		doc = append(doc, piece...)
	}
	doc = append(doc, '"')
	_, out := g.Call(wasm.ExportEngineOpen, doc)
	h := uint64(binary.LittleEndian.Uint32([]byte(out)))
	// A few edits, so the rope's chunks are not all freshly cut.
	for i := range 16 {
		in := wasmtest.Frames(`[` + strconv.Itoa((i+1)*size/40) + `,"x\"y"]`)
		if st, out := g.Call(wasm.ExportEngineApply, in, h, 0); st != 0 {
			b.Fatal(out)
		}
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if st, out := g.Call(wasm.ExportEngineSnapshot, nil, h); st != 0 || len(out) < len(doc) {
			b.Fatal(st, len(out))
		}
	}
}
