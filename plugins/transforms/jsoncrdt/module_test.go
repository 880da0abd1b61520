package jsoncrdt_test

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
	e := wasmtest.Engine(t, "json.wasm", wasmtest.Build(t, "./wasm"))
	if m := e.Manifest(); m.DocType != "json" || m.Name != "json" {
		t.Fatalf("manifest %+v", m)
	}
	empty, err := e.Empty(ctx)
	if err != nil || string(empty) != `{"registers":[],"value":{}}` {
		t.Fatalf("empty = %s %v", empty, err)
	}
	ops := []string{
		`{"set":[["a"],{"x":1}],"ts":1,"peer":"p1"}`,
		`{"set":[["a","y"],"b"],"ts":2,"peer":"p2"}`,
		`{"del":["a"],"ts":3,"peer":"p1"}`,
		`{"set":[["a","z"],5],"ts":4,"peer":"p3"}`,
	}
	// The second document gets them in reverse order, rebased (identity) over the ones it has.
	sa, sb, a := wasmtest.ApplyBothOrders(t, e, empty, ops)
	wasmtest.RequireRejected(t, e, a, `{"set":[[],1],"ts":1,"peer":"p"}`, `{"del":[1],"ts":1,"peer":"p"}`)
	want := `{"registers":[{"path":["a"],"del":true,"ts":3,"peer":"p1"},{"path":["a","y"],"v":"b","ts":2,"peer":"p2"},{"path":["a","z"],"v":5,"ts":4,"peer":"p3"}],"value":{"a":{"z":5}}}`
	if string(sa) != want || string(sb) != want {
		t.Fatalf("snapshots\n a %s\n b %s\nwant %s", sa, sb, want)
	}
	if _, err := e.Open(ctx, []byte(`{"registers":7}`)); !errors.Is(err, pluginhost.ErrRejected) {
		t.Fatalf("open bad snapshot: %v", err)
	}
}
