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
	// The second document gets them in reverse order, rebased (identity) over the ones it has.
	sa, sb, a := wasmtest.ApplyBothOrders(t, e, empty, ops)
	wasmtest.RequireRejected(t, e, a, `{"set":{"x":1}}`, `{"del":[1],"ts":1,"peer":"p"}`)
	want := `{"fields":{"n":{"del":true,"ts":3,"peer":"p1"},"title":{"v":"b","ts":2,"peer":"p2"}}}`
	if string(sa) != want || string(sb) != want {
		t.Fatalf("snapshots\n a %s\n b %s\nwant %s", sa, sb, want)
	}
	if _, err := e.Open(ctx, []byte(`{"fields":7}`)); !errors.Is(err, pluginhost.ErrRejected) {
		t.Fatalf("open bad snapshot: %v", err)
	}
}
