package tree_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/internal/wasmtest"
)

// TestModule builds ./wasm and drives it through host/pluginhost like the server does: two
// live documents get the same ops in opposite orders (each rebased over the ones it already
// has) and end with identical snapshots; malformed ops and snapshots are refused with status 1.
func TestModule(t *testing.T) {
	ctx := context.Background()
	e := wasmtest.Engine(t, "tree.wasm", wasmtest.Build(t, "./wasm"))
	if m := e.Manifest(); m.DocType != "tree" || m.Name != "tree" {
		t.Fatalf("manifest %+v", m)
	}
	empty, err := e.Empty(ctx)
	if err != nil || string(empty) != `{"nodes":[],"log":[]}` {
		t.Fatalf("empty = %s %v", empty, err)
	}
	ops := []string{
		`{"op":"create","id":"a","parent":"root","key":"m","payload":{"title":"A"},"ts":1,"peer":"p1"}`,
		`{"op":"create","id":"b","parent":"root","key":"n","ts":2,"peer":"p2"}`,
		`{"op":"move","id":"a","parent":"b","key":"m","ts":3,"peer":"p1"}`,
		`{"op":"move","id":"b","parent":"a","key":"m","ts":3,"peer":"p2"}`, // would make a cycle: skipped
		`{"op":"update","id":"b","payload":[1,2],"ts":4,"peer":"p3"}`,
		`{"op":"delete","id":"a","ts":5,"peer":"p3"}`,
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		ops = append(ops, fmt.Sprintf(`{"op":"create","id":"c%d","parent":"b","key":"k%d","ts":%d,"peer":"p4"}`, i, r.IntN(10), r.IntN(20)))
	}
	sa, sb, a := wasmtest.ApplyBothOrders(t, e, empty, ops)
	wasmtest.RequireRejected(t, e, a,
		`{"op":"move","id":"a","parent":"a","key":"m","ts":1,"peer":"p"}`,
		`{"op":"create","id":"x","parent":"root","ts":1,"peer":"p"}`,
		`{"op":"delete","id":"root","ts":1,"peer":"p"}`,
		`not json`,
	)
	if string(sa) != string(sb) {
		t.Fatalf("snapshots differ\n a %s\n b %s", sa, sb)
	}
	want := `{"nodes":[{"id":"a","parent":"b","key":"m","deleted":true,"live":false,"payload":{"title":"A"},"pts":1,"ppeer":"p1"},{"id":"b","parent":"root","key":"n","live":true,"payload":[1,2],"pts":4,"ppeer":"p3"},`
	if string(sa[:len(want)]) != want {
		t.Fatalf("snapshot %s\nwant prefix %s", sa, want)
	}
	c, err := e.Open(ctx, sa)
	if err != nil {
		t.Fatal(err)
	}
	if sc, err := c.Snapshot(ctx); err != nil || string(sc) != string(sa) {
		t.Fatalf("reopened snapshot %s %v", sc, err)
	}
	if _, err := e.Open(ctx, []byte(`{"nodes":[{"id":"a","parent":"a","key":"m"}],"log":[]}`)); !errors.Is(err, pluginhost.ErrRejected) {
		t.Fatalf("open bad snapshot: %v", err)
	}
}
