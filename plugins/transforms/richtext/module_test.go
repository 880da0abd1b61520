package richtext

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/internal/wasmtest"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

// buildModule builds ./wasm (the rich-text module) for wasip1.
func buildModule(t testing.TB) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a WASM module")
	}
	return wasmtest.Build(t, "./wasm")
}

// TestModule runs the built module through host/pluginhost, the way the server loads it.
func TestModule(t *testing.T) {
	bin := buildModule(t)
	ctx := context.Background()
	rt, err := pluginhost.NewRuntime(ctx, pluginhost.RuntimeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	info, err := rt.Inspect(ctx, "rich-text", bin)
	if err != nil {
		t.Fatal(err)
	}
	if m := info.Manifest; info.ABIVersion != 1 || m.Role != wasm.RoleEngine || m.Name != "rich-text" ||
		m.DocType != "rich-text" || !slices.Equal(m.Capabilities, []string{"compose"}) {
		t.Fatalf("info = %+v", info)
	}
	mod, err := rt.Compile(ctx, "rich-text", bin)
	if err != nil {
		t.Fatal(err)
	}
	e, err := pluginhost.NewEngine(ctx, mod, pluginhost.EngineConfig{Instances: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)

	if got, err := e.Empty(ctx); err != nil || string(got) != `{"ops":[]}` {
		t.Fatalf("Empty = %s, %v", got, err)
	}
	d, err := e.Open(ctx, []byte(`{"ops":[{"insert":"héllo 💃\n"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	steps := []struct {
		op, concurrent string
		side           int32
		want           string
	}{
		{`{"ops":[{"retain":6},{"insert":"big ","attributes":{"bold":true}}]}`, "", wasm.SideLeft,
			`{"ops":[{"retain":6},{"insert":"big ","attributes":{"bold":true}}]}`},
		// rich-text's 'left' gives the concurrent op priority: its insert goes first.
		{`{"ops":[{"retain":6},{"insert":"A"}]}`, `{"ops":[{"retain":6},{"insert":"B"}]}`, wasm.SideLeft,
			`{"ops":[{"retain":7},{"insert":"A"}]}`},
		{`[{"retain":6},{"insert":"C"}]`, `{"ops":[{"retain":6},{"insert":"D"}]}`, wasm.SideRight,
			`{"ops":[{"retain":6},{"insert":"C"}]}`},
		{`{"ops":[{"retain":1},{"retain":3,"attributes":{"italic":true,"bold":null}}]}`, "", wasm.SideLeft,
			`{"ops":[{"retain":1},{"retain":3,"attributes":{"italic":true,"bold":null}}]}`},
	}
	for _, s := range steps {
		var cs [][]byte
		if s.concurrent != "" {
			if _, err := d.Apply(ctx, []byte(s.concurrent), nil, 0); err != nil {
				t.Fatalf("apply %s: %v", s.concurrent, err)
			}
			cs = [][]byte{[]byte(s.concurrent)}
		}
		got, err := d.Apply(ctx, []byte(s.op), cs, s.side)
		if err != nil || string(got) != s.want {
			t.Fatalf("Apply(%s over %s, side %d) = %s, %v; want %s", s.op, s.concurrent, s.side, got, err, s.want)
		}
	}
	const snap = `{"ops":[{"insert":"h"},{"insert":"éll","attributes":{"italic":true}},{"insert":"o CDBA"},{"insert":"big ","attributes":{"bold":true}},{"insert":"💃\n"}]}`
	if got, err := d.Snapshot(ctx); err != nil || string(got) != snap {
		t.Fatalf("Snapshot = %s, %v\nwant %s", got, err, snap)
	}
	for _, bad := range []string{`{"ops":[{"retain":99},{"insert":"x"}]}`, `{"ops":[{"delete":99}]}`, `[{"insert":1}]`, `nope`} {
		if _, err := d.Apply(ctx, []byte(bad), nil, 0); !errors.Is(err, pluginhost.ErrRejected) {
			t.Errorf("Apply(%s) = %v, want rejected", bad, err)
		}
	}
	if got, err := d.Snapshot(ctx); err != nil || string(got) != snap {
		t.Fatalf("Snapshot after rejected ops = %s, %v", got, err)
	}
	if err := e.Validate(ctx, []byte(`[{"retain":0}]`)); !errors.Is(err, pluginhost.ErrRejected) {
		t.Errorf("Validate(retain 0) = %v, want rejected", err)
	}
	if err := e.Validate(ctx, []byte(`{"ops":[{"insert":{"image":"a.png"}}]}`)); err != nil {
		t.Errorf("Validate(embed) = %v", err)
	}
	if _, err := e.Open(ctx, []byte(`{"ops":[{"retain":1}]}`)); !errors.Is(err, pluginhost.ErrRejected) {
		t.Errorf("Open(retain) = %v, want rejected", err)
	}

	// A sample of the vectors, through the module.
	v := loadVectors(t)
	for i, c := range v.Transform[:300] {
		side := int32(wasm.SideLeft)
		if c.Side == "right" {
			side = wasm.SideRight
		}
		got, err := e.Transform(ctx, c.Op, [][]byte{c.Other}, side)
		if err != nil || string(got) != string(c.Out) {
			t.Fatalf("transform %d: %s over %s (%s) = %s, %v; want %s", i, c.Op, c.Other, c.Side, got, err, c.Out)
		}
	}
	for i, c := range v.Compose[:300] {
		got, err := e.Compose(ctx, c.A, c.B)
		if err != nil || string(got) != string(c.Out) {
			t.Fatalf("compose %d: %s then %s = %s, %v; want %s", i, c.A, c.B, got, err, c.Out)
		}
	}
	for i, c := range slices.Concat(v.Apply[:300], v.Apply[1500:1600]) {
		d, err := e.Open(ctx, c.Doc)
		if err != nil {
			t.Fatalf("apply %d: open %s: %v", i, c.Doc, err)
		}
		_, err = d.Apply(ctx, c.Op, nil, 0)
		if c.TooLong != errors.Is(err, pluginhost.ErrRejected) || (!c.TooLong && err != nil) {
			t.Fatalf("apply %d: %s to %s: %v (tooLong %v)", i, c.Op, c.Doc, err, c.TooLong)
		}
		want := c.Out
		if c.TooLong {
			want = c.Doc
		}
		want = mustParse(t, want).AppendCanonical(nil) // live snapshots use canonical key order
		if got, err := d.Snapshot(ctx); err != nil || string(got) != string(want) {
			t.Fatalf("apply %d: %s to %s: snapshot %s, %v; want %s", i, c.Op, c.Doc, got, err, want)
		}
		_ = d.Close(ctx)
	}
}
