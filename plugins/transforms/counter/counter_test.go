// Tests of the AssemblyScript counter engine, loaded from bin/plugins/counter.wasm (built by
// `make build`, or `make bin/plugins/counter.wasm`) through host/pluginhost like the server does.
package counter

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

const wasmPath = "../../../bin/plugins/counter.wasm"

func readModule(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(wasmPath)
	if err != nil {
		abs, _ := filepath.Abs(wasmPath)
		t.Fatalf("%s is missing: run `make build` (or `make bin/plugins/counter.wasm`) first: %v", abs, err)
	}
	return b
}

func newEngine(t testing.TB, trusted bool) *pluginhost.Engine {
	t.Helper()
	ctx := context.Background()
	rt, err := pluginhost.NewRuntime(ctx, pluginhost.RuntimeConfig{Trusted: trusted})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	m, err := rt.Compile(ctx, "counter", readModule(t))
	if err != nil {
		t.Fatal(err)
	}
	e, err := pluginhost.NewEngine(ctx, m, pluginhost.EngineConfig{Instances: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(ctx) })
	return e
}

func TestLoadChecks(t *testing.T) {
	rt, err := pluginhost.NewRuntime(context.Background(), pluginhost.RuntimeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	info, err := rt.Inspect(context.Background(), "counter", readModule(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Imports) != 0 {
		t.Errorf("imports = %v, want none", info.Imports)
	}
	m := info.Manifest
	if info.ABIVersion != 1 || m.Role != wasm.RoleEngine || m.Name != "counter" || m.DocType != "counter" ||
		!slices.Equal(m.Capabilities, []string{"compose"}) {
		t.Errorf("info = %+v", info)
	}
	t.Logf("counter.wasm: %d bytes, exports %v", info.Size, info.Exports)
}

func isRejected(err error) bool { return errors.Is(err, pluginhost.ErrRejected) }

func TestDocument(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, false)
	if got, err := e.Empty(ctx); err != nil || string(got) != "0" {
		t.Errorf("Empty = %s, %v; want 0", got, err)
	}
	d, err := e.Open(ctx, []byte(" 40 "))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	steps := []struct {
		op         string
		concurrent []string
		side       int32
		want       string
	}{
		{`{"add": 1}`, nil, wasm.SideLeft, `{"add":1}`},
		{`{"add":-3}`, []string{`{"add": 7}`}, wasm.SideLeft, `{"add":-3}`},
		{` { "add" : 5 } `, []string{`{"add":1}`, `{"add":-2}`}, wasm.SideRight, `{"add":5}`},
		{`{"add":0}`, nil, wasm.SideLeft, `{"add":0}`},
	}
	for _, s := range steps {
		var cs [][]byte
		for _, c := range s.concurrent {
			cs = append(cs, []byte(c))
		}
		got, err := d.Apply(ctx, []byte(s.op), cs, s.side)
		if err != nil || string(got) != s.want {
			t.Fatalf("Apply(%s over %v) = %s, %v; want %s", s.op, s.concurrent, got, err, s.want)
		}
	}
	// Apply does not apply the concurrent ops: the host already did.
	if snap, err := d.Snapshot(ctx); err != nil || string(snap) != "43" {
		t.Errorf("Snapshot = %s, %v; want 43", snap, err)
	}

	// Rejected ops leave the document unchanged.
	for _, bad := range []string{
		``, `null`, `1`, `"x"`, `[]`, `{}`, `{"add":1.5}`, `{"add":1e3}`, `{"add":"1"}`, `{"add":01}`,
		`{"add":1,"add":2}`, `{"sub":1}`, `{"add":1,"x":0}`, `{"add":1} {}`, `{"add":99999999999999999999}`,
		`{"add":-}`, `{"add":1`, `{"add" 1}`,
	} {
		if _, err := d.Apply(ctx, []byte(bad), nil, wasm.SideLeft); !isRejected(err) {
			t.Errorf("Apply(%q) = %v; want rejected", bad, err)
		}
		if err := e.Validate(ctx, []byte(bad)); !isRejected(err) {
			t.Errorf("Validate(%q) = %v; want rejected", bad, err)
		}
	}
	if _, err := d.Apply(ctx, []byte(`{"add":1}`), [][]byte{[]byte(`{"add":"x"}`)}, wasm.SideLeft); !isRejected(err) {
		t.Errorf("Apply over a malformed concurrent op = %v; want rejected", err)
	}
	if _, err := d.Apply(ctx, []byte(`{"add":9223372036854775807}`), nil, wasm.SideLeft); !isRejected(err) {
		t.Errorf("overflowing Apply = %v; want rejected", err)
	}
	if snap, err := d.Snapshot(ctx); err != nil || string(snap) != "43" {
		t.Errorf("Snapshot after rejected ops = %s, %v; want 43", snap, err)
	}
	if err := e.Validate(ctx, []byte(`{"add":-9223372036854775808}`)); err != nil {
		t.Errorf("Validate(min int64) = %v", err)
	}
}

func TestOpenSnapshots(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, true)
	for _, s := range []string{"0", "-0", "-17", "9223372036854775807", "-9223372036854775808"} {
		d, err := e.Open(ctx, []byte(s))
		if err != nil {
			t.Fatalf("Open(%s): %v", s, err)
		}
		want := s
		if s == "-0" {
			want = "0"
		}
		if got, err := d.Snapshot(ctx); err != nil || string(got) != want {
			t.Errorf("Snapshot of %s = %s, %v", s, got, err)
		}
		_ = d.Close(ctx)
	}
	for _, s := range []string{"", "1.0", `"1"`, "{}", "9223372036854775808", "1 2", "null", "--1"} {
		if _, err := e.Open(ctx, []byte(s)); !isRejected(err) {
			t.Errorf("Open(%q) = %v; want rejected", s, err)
		}
	}
}

// TestManyDocs opens, changes and closes documents, so closed handles are reused.
func TestManyDocs(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, true)
	var docs []*pluginhost.Doc
	for round := range 3 {
		for i := range 100 {
			d, err := e.Open(ctx, []byte(strconv.Itoa(i)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Apply(ctx, []byte(`{"add":`+strconv.Itoa(round)+`}`), nil, wasm.SideLeft); err != nil {
				t.Fatal(err)
			}
			docs = append(docs, d)
		}
		for i, d := range docs {
			if got, err := d.Snapshot(ctx); err != nil || string(got) != strconv.Itoa(i+round) {
				t.Fatalf("round %d doc %d: Snapshot = %s, %v", round, i, got, err)
			}
			if err := d.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}
		docs = docs[:0]
	}
}

func TestTransformCompose(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, false)
	got, err := e.Transform(ctx, []byte(`{"add":-4}`), [][]byte{[]byte(`{"add":2}`), []byte(`{"add":3}`)}, wasm.SideRight)
	if err != nil || string(got) != `{"add":-4}` {
		t.Errorf("Transform = %s, %v; want identity", got, err)
	}
	if _, err := e.Transform(ctx, []byte(`{"add":1}`), [][]byte{[]byte(`{"bad":1}`)}, wasm.SideLeft); !isRejected(err) {
		t.Errorf("Transform over a bad op = %v; want rejected", err)
	}
	if got, err := e.Compose(ctx, []byte(`{"add":-4}`), []byte(`{"add":10}`)); err != nil || string(got) != `{"add":6}` {
		t.Errorf("Compose = %s, %v; want {\"add\":6}", got, err)
	}
	if _, err := e.Compose(ctx, []byte(`{"add":9223372036854775807}`), []byte(`{"add":1}`)); !isRejected(err) {
		t.Errorf("overflowing Compose = %v; want rejected", err)
	}
	if _, err := e.Compose(ctx, []byte(`{"add":1}`), []byte(`{}`)); !isRejected(err) {
		t.Errorf("Compose with a bad op = %v; want rejected", err)
	}
}

func benchApply(b *testing.B, trusted bool) {
	ctx := context.Background()
	e := newEngine(b, trusted)
	d, err := e.Open(ctx, []byte("0"))
	if err != nil {
		b.Fatal(err)
	}
	op, cs := []byte(`{"add":1}`), [][]byte{[]byte(`{"add":2}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Apply(ctx, op, cs, wasm.SideLeft); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDocApply(b *testing.B) {
	b.Run("sandboxed", func(b *testing.B) { benchApply(b, false) })
	b.Run("trusted", func(b *testing.B) { benchApply(b, true) })
}

// TestNoGrowthPerCall checks that the module allocates nothing per op (it is built with the
// stub runtime, which never frees): many applies, accepted and rejected, and open/close cycles
// leave its memory the same size.
func TestNoGrowthPerCall(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	mod, err := rt.InstantiateWithConfig(ctx, readModule(t), wazero.NewModuleConfig())
	if err != nil {
		t.Fatal(err)
	}
	stack := make([]uint64, 3)
	call := func(name string, in []byte, params ...uint64) (byte, []byte) {
		stack[0] = uint64(len(in))
		if err := mod.ExportedFunction("opstream_buffer").CallWithStack(ctx, stack); err != nil {
			t.Fatal(err)
		}
		mod.Memory().Write(uint32(stack[0]), in)
		copy(stack, append(params, uint64(len(in))))
		if err := mod.ExportedFunction(name).CallWithStack(ctx, stack); err != nil {
			t.Fatal(err)
		}
		out, _ := mod.Memory().Read(uint32(stack[0]>>32), uint32(stack[0]))
		return out[0], out[1:]
	}
	frames := func(ops ...string) []byte {
		var b []byte
		for _, op := range ops {
			b = wasm.AppendFrame(b, []byte(op))
		}
		return b
	}
	st, h := call("engine_open", []byte("0"))
	if st != 0 || len(h) != 4 {
		t.Fatalf("open: %d %q", st, h)
	}
	handle := uint64(binary.LittleEndian.Uint32(h))
	good, bad := frames(`{"add":1}`, `{"add":-2}`), frames(`{"add":1.5}`)
	overflow, junk := frames(`{"add":9223372036854775807}`), []byte{9, 0, 0}
	for round := range 2 {
		size := mod.Memory().Size()
		for range 10000 {
			if st, msg := call("engine_apply", good, handle, 0); st != 0 {
				t.Fatalf("apply: %d %s", st, msg)
			}
			for _, in := range [][]byte{bad, overflow, junk} {
				if st, _ := call("engine_apply", in, handle, 1); st != 1 {
					t.Fatalf("apply %q: status %d, want 1", in, st)
				}
			}
			if st, _ := call("engine_validate", []byte(`{"add":"x"}`)); st != 1 {
				t.Fatal("validate accepted a bad op")
			}
			st, h := call("engine_open", []byte("7"))
			if st != 0 {
				t.Fatal("open")
			}
			stack[0] = uint64(binary.LittleEndian.Uint32(h))
			if err := mod.ExportedFunction("engine_close").CallWithStack(ctx, stack); err != nil {
				t.Fatal(err)
			}
		}
		if round > 0 && mod.Memory().Size() != size {
			t.Errorf("memory grew from %d to %d bytes", size, mod.Memory().Size())
		}
	}
	stack[0] = handle
	if err := mod.ExportedFunction("engine_snapshot").CallWithStack(ctx, stack); err != nil {
		t.Fatal(err)
	}
	if out, _ := mod.Memory().Read(uint32(stack[0]>>32), uint32(stack[0])); string(out[1:]) != "20000" {
		t.Errorf("snapshot = %q, want 20000", out[1:])
	}
}
