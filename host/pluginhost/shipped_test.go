package pluginhost

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opstream/opstream/pluginsdk/wasm"
)

// The shipped guests (plugins/transforms/text/wasm and plugins/authorizers/allowall) are
// built by TestMain when their sources exist.

// requireGuest fails when the guest is missing or does not build: every shipped guest exists,
// so a missing one is a broken tree, not a reason to skip.
func requireGuest(t testing.TB, name string) {
	t.Helper()
	mustSetup(t)
	if _, ok := extraWasm[name]; ok {
		return
	}
	if err := extraErr[name]; errors.Is(err, errNoSource) {
		t.Fatalf("guest %s has no sources: %v", name, err)
	} else {
		t.Fatalf("guest %s does not build: %v", name, err)
	}
}

func TestTextEngine(t *testing.T) {
	t.Parallel()
	requireGuest(t, "text")
	ctx := context.Background()
	e, err := NewEngine(ctx, module(t, "text"), EngineConfig{Instances: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	if m := e.Manifest(); m.DocType != "text" || m.Role != wasm.RoleEngine {
		t.Errorf("manifest = %+v", m)
	}
	if got, err := e.Empty(ctx); err != nil || string(got) != `""` {
		t.Errorf("Empty = %s, %v", got, err)
	}
	d, err := e.Open(ctx, []byte(`""`))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	steps := []struct {
		op, concurrent string
		side           int32
		want           string
	}{
		{`["hello"]`, "", wasm.SideLeft, `["hello"]`},
		// Written against "hello", concurrent with [5,"?"]: with left, its insert goes first.
		{`[5,"!"]`, `[5,"?"]`, wasm.SideLeft, `[5,"!"]`},
		{`[7,"."]`, `[7,"?"]`, wasm.SideRight, `[8,"."]`},
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
	// "hello" -> "hello?" (concurrent) -> "hello!?" -> "hello!??" (concurrent) -> "hello!??."
	if snap, err := d.Snapshot(ctx); err != nil || string(snap) != `"hello!??."` {
		t.Errorf("Snapshot = %s, %v; want %q", snap, err, `"hello!??."`)
	}
	if got, err := e.Transform(ctx, []byte(`[1,"a"]`), [][]byte{[]byte(`["xy"]`)}, wasm.SideLeft); err != nil || string(got) != `[3,"a"]` {
		t.Errorf("Transform = %s, %v; want [3,\"a\"]", got, err)
	}
	if err := e.Validate(ctx, []byte(`[1]`)); err == nil {
		t.Error("Validate([1]) (trailing skip) accepted")
	}
	if _, err := d.Apply(ctx, []byte(`[100,{"d":1}]`), nil, 0); err == nil {
		t.Error("delete past the end accepted")
	}
}

func TestAllowAll(t *testing.T) {
	t.Parallel()
	requireGuest(t, "allowall")
	ctx := context.Background()
	a, err := NewAuthorizer(ctx, module(t, "allowall"), nil, AuthorizerConfig{Instances: 1, CallTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	d, err := a.Authorize(ctx, Request{Action: "join", DocID: "notes-1", NowUnixMillis: 1795000000000})
	if err != nil || d.Access != AccessWrite {
		t.Errorf("Authorize = %+v, %v; want write", d, err)
	}
}

func BenchmarkTextDocApply(b *testing.B) {
	requireGuest(b, "text")
	ctx := context.Background()
	e, err := NewEngine(ctx, module(b, "text"), EngineConfig{Instances: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(ctx)
	d, err := e.Open(ctx, []byte(`"hello world"`))
	if err != nil {
		b.Fatal(err)
	}
	ins, del := []byte(`[5,"x"]`), []byte(`[5,{"d":1}]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Apply(ctx, ins, nil, wasm.SideLeft); err != nil {
			b.Fatal(err)
		}
		if _, err := d.Apply(ctx, del, nil, wasm.SideLeft); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAllowAll(b *testing.B) {
	requireGuest(b, "allowall")
	ctx := context.Background()
	a, err := NewAuthorizer(ctx, module(b, "allowall"), nil, AuthorizerConfig{Instances: 1, CallTimeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close(ctx)
	req := Request{Action: "join", DocID: "notes-1", Token: "t", NowUnixMillis: 1795000000000}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authorize(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
