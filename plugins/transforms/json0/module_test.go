package json0_test

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/opstream/opstream/pluginsdk/wasm"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// guest is a minimal host for the ABI, enough to test the module end to end.
type guest struct {
	t   testing.TB
	ctx context.Context
	mod api.Module
	fns map[string]api.Function // ExportedFunction allocates a call engine: cache them
}

func (g *guest) fn(name string) api.Function {
	f, ok := g.fns[name]
	if !ok {
		f = g.mod.ExportedFunction(name)
		g.fns[name] = f
	}
	return f
}

func buildModule(t testing.TB, pkg string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "m.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func startGuest(t testing.TB, bin []byte) *guest {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	mod, err := r.InstantiateWithConfig(ctx, bin, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		t.Fatal(err)
	}
	return &guest{t: t, ctx: ctx, mod: mod, fns: map[string]api.Function{}}
}

// call writes in (if not nil) to the input buffer and calls name with args (+ len(in)).
func (g *guest) call(name string, in []byte, args ...uint64) (byte, string) {
	g.t.Helper()
	if in != nil {
		res, err := g.fn(wasm.ExportBuffer).Call(g.ctx, uint64(len(in)))
		if err != nil {
			g.t.Fatal(err)
		}
		if !g.mod.Memory().Write(uint32(res[0]), in) {
			g.t.Fatal("write out of range")
		}
		args = append(args, uint64(len(in)))
	}
	res, err := g.fn(name).Call(g.ctx, args...)
	if err != nil {
		g.t.Fatalf("%s: %v", name, err)
	}
	if len(res) == 0 {
		return 0, ""
	}
	b, ok := g.mod.Memory().Read(uint32(res[0]>>32), uint32(res[0]))
	if !ok || len(b) == 0 {
		g.t.Fatalf("%s: bad result %#x", name, res[0])
	}
	return b[0], string(b[1:])
}

func frames(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = wasm.AppendFrame(b, []byte(p))
	}
	return b
}

func TestModule(t *testing.T) {
	g := startGuest(t, buildModule(t, "./wasm"))
	want := func(name string, st byte, out string, wantSt byte, wantOut string) {
		t.Helper()
		if st != wantSt || (wantOut != "*" && out != wantOut) {
			t.Fatalf("%s = %d %q, want %d %q", name, st, out, wantSt, wantOut)
		}
	}
	res, err := g.mod.ExportedFunction(wasm.ExportABIVersion).Call(g.ctx)
	if err != nil || res[0] != wasm.ABIVersion {
		t.Fatalf("abi version %v %v", res, err)
	}
	st, out := g.call(wasm.ExportInfo, nil)
	want("info", st, out, 0, `{"abi":1,"role":"engine","name":"json0","version":"1.0.0","docType":"json0","capabilities":["compose"]}`)
	st, out = g.call(wasm.ExportEngineEmpty, nil)
	want("empty", st, out, 0, `null`)

	st, out = g.call(wasm.ExportEngineOpen, []byte(`{"title":"héllo 💃","tags":["a","b"],"n":1}`))
	want("open", st, out, 0, "*")
	h := uint64(binary.LittleEndian.Uint32([]byte(out)))
	st, out = g.call(wasm.ExportEngineApply, frames(`[{"p":["title",8],"si":"!"}]`), h, 0)
	want("apply si after an astral char", st, out, 0, `[{"p":["title",8],"si":"!"}]`)
	// Rebased over a concurrent insert at the same list position: left goes first.
	st, out = g.call(wasm.ExportEngineApply, frames(`[{"p":["tags",0],"li":"x"}]`, `[{"p":["tags",0],"li":"y"}]`), h, uint64(wasm.SideLeft))
	want("apply left", st, out, 0, `[{"p":["tags",0],"li":"x"}]`)
	st, out = g.call(wasm.ExportEngineApply, frames(`[{"p":["n"],"na":2}]`, `[{"p":["n"],"na":3}]`), h, uint64(wasm.SideRight))
	want("apply na", st, out, 0, `[{"p":["n"],"na":2}]`)
	st, out = g.call(wasm.ExportEngineApply, frames(`[{"p":["n"],"si":"x"}]`), h, 0)
	want("apply malformed", st, out, 1, "*")
	st, out = g.call(wasm.ExportEngineApply, frames(`[{"p":["tags",0],"na":1}]`), h, 0)
	want("apply na on a string", st, out, 1, "*")
	st, out = g.call(wasm.ExportEngineApply, frames(`[{"p":["q"],"t":"rich-text","o":[]}]`), h, 0)
	want("apply unknown subtype", st, out, 1, "*")
	st, out = g.call(wasm.ExportEngineSnapshot, nil, h)
	want("snapshot", st, out, 0, `{"title":"héllo 💃!","tags":["x","a","b"],"n":3}`)

	st, out = g.call(wasm.ExportEngineTransform, frames(`[{"p":["a",1],"ld":1}]`, `[{"p":["a",0],"li":0}]`, `[{"p":["a"],"od":[],"oi":{}}]`), uint64(wasm.SideLeft))
	want("transform", st, out, 0, `[]`)
	st, out = g.call(wasm.ExportEngineValidate, []byte(`[{"p":["x"],"oi":{}}]`))
	want("validate", st, out, 0, "")
	st, out = g.call(wasm.ExportEngineValidate, []byte(`[{"p":"x","oi":1}]`))
	want("validate bad", st, out, 1, "*")
	st, out = g.call(wasm.ExportEngineCompose, frames(`[{"p":["n"],"na":1}]`, `[{"p":["n"],"na":2}]`))
	want("compose", st, out, 0, `[{"p":["n"],"na":3}]`)

	g.call(wasm.ExportEngineClose, nil, h)
	st, out = g.call(wasm.ExportEngineSnapshot, nil, h)
	want("snapshot closed", st, out, 2, "*")
	st, out = g.call(wasm.ExportEngineOpen, []byte(`{"a":`))
	want("open bad", st, out, 1, "*")
}
