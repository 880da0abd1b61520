package form_test

import (
	"context"
	"errors"
	"testing"

	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/internal/wasmtest"
)

// TestModule builds ./wasm and drives it through host/pluginhost like the server does.
func TestModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WASM module")
	}
	ctx := context.Background()
	e := wasmtest.Engine(t, "form.wasm", wasmtest.Build(t, "./wasm"))
	if m := e.Manifest(); m.DocType != "form" || m.Name != "form" {
		t.Fatalf("manifest %+v", m)
	}
	empty, err := e.Empty(ctx)
	if err != nil || string(empty) != `{"fields":{}}` {
		t.Fatalf("empty = %s %v", empty, err)
	}
	ops := []string{
		`{"set":{"title":"a","n":1},"ts":1,"peer":"p1"}`,
		`{"set":{"title":"b"},"ts":2,"peer":"p2"}`,
		`{"del":["n"],"ts":3,"peer":"p1"}`,
		`{"set":{"n":5},"ts":2,"peer":"p3"}`,
	}
	a, err := e.Open(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Open(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ops {
		got, err := a.Apply(ctx, []byte(ops[i]), nil, 0)
		if err != nil || string(got) != ops[i] {
			t.Fatalf("apply %s = %s %v", ops[i], got, err)
		}
		// b gets them in reverse order, rebased (identity) over the ones it already has.
		j := len(ops) - 1 - i
		var conc [][]byte
		for _, o := range ops[j+1:] {
			conc = append(conc, []byte(o))
		}
		if got, err := b.Apply(ctx, []byte(ops[j]), conc, 0); err != nil || string(got) != ops[j] {
			t.Fatalf("apply %s over %d = %s %v", ops[j], len(conc), got, err)
		}
	}
	if _, err := a.Apply(ctx, []byte(`{"set":{"x":1}}`), nil, 0); !errors.Is(err, pluginhost.ErrRejected) {
		t.Fatalf("malformed op: %v; want ErrRejected", err)
	}
	if err := e.Validate(ctx, []byte(`{"del":[1],"ts":1,"peer":"p"}`)); !errors.Is(err, pluginhost.ErrRejected) {
		t.Fatalf("validate malformed: %v", err)
	}
	sa, err := a.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"fields":{"n":{"del":true,"ts":3,"peer":"p1"},"title":{"v":"b","ts":2,"peer":"p2"}}}`
	if string(sa) != want || string(sb) != want {
		t.Fatalf("snapshots\n a %s\n b %s\nwant %s", sa, sb, want)
	}
	if _, err := e.Open(ctx, []byte(`{"fields":7}`)); !errors.Is(err, pluginhost.ErrRejected) {
		t.Fatalf("open bad snapshot: %v", err)
	}
}
