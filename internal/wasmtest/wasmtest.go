// Package wasmtest builds guest modules and drives them over the raw ABI for the engines' own
// module tests: a minimal host with no pooling, deadlines or checks (those are pluginhost's and
// are tested there).
package wasmtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

// Build compiles the Go guest package pkg (GOOS=wasip1, c-shared) and returns the module.
func Build(t testing.TB, pkg string) []byte {
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

// Guest is one instance of a module.
type Guest struct {
	T   testing.TB
	Ctx context.Context
	Mod api.Module
	fns map[string]api.Function // ExportedFunction allocates a call engine: cache them
}

// Start instantiates bin (running _initialize) in a fresh runtime closed with the test.
func Start(t testing.TB, bin []byte) *Guest {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	mod, err := r.InstantiateWithConfig(ctx, bin, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		t.Fatal(err)
	}
	return &Guest{T: t, Ctx: ctx, Mod: mod, fns: map[string]api.Function{}}
}

// Fn returns an exported function, cached.
func (g *Guest) Fn(name string) api.Function {
	f, ok := g.fns[name]
	if !ok {
		f = g.Mod.ExportedFunction(name)
		g.fns[name] = f
	}
	return f
}

// Call writes in (if not nil) to the input buffer and calls name with args (+ len(in)); it
// returns the result's status and payload.
func (g *Guest) Call(name string, in []byte, args ...uint64) (byte, string) {
	g.T.Helper()
	if in != nil {
		res, err := g.Fn(wasm.ExportBuffer).Call(g.Ctx, uint64(len(in)))
		if err != nil {
			g.T.Fatal(err)
		}
		if !g.Mod.Memory().Write(uint32(res[0]), in) {
			g.T.Fatal("write out of range")
		}
		args = append(args, uint64(len(in)))
	}
	res, err := g.Fn(name).Call(g.Ctx, args...)
	if err != nil {
		g.T.Fatalf("%s: %v", name, err)
	}
	if len(res) == 0 {
		return 0, ""
	}
	b, ok := g.Mod.Memory().Read(uint32(res[0]>>32), uint32(res[0]))
	if !ok || len(b) == 0 {
		g.T.Fatalf("%s: bad result %#x", name, res[0])
	}
	return b[0], string(b[1:])
}

// Frames encodes parts as ABI frames.
func Frames(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = wasm.AppendFrame(b, []byte(p))
	}
	return b
}

// Engine loads bin through host/pluginhost the way the server does (sandboxed runtime, load
// checks) and returns a one-instance engine; everything is closed with the test.
func Engine(t testing.TB, name string, bin []byte) *pluginhost.Engine {
	t.Helper()
	ctx := context.Background()
	rt, err := pluginhost.NewRuntime(ctx, pluginhost.RuntimeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Compile(ctx, name, bin)
	if err != nil {
		t.Fatal(err)
	}
	e, err := pluginhost.NewEngine(ctx, mod, pluginhost.EngineConfig{Instances: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	return e
}
