package table_test

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
	e := wasmtest.Engine(t, "table.wasm", wasmtest.Build(t, "./wasm"))
	if m := e.Manifest(); m.DocType != "table" || m.Name != "table" {
		t.Fatalf("manifest %+v", m)
	}
	empty, err := e.Empty(ctx)
	if err != nil || string(empty) != `{"rows":[],"columns":[],"deletedRows":[],"deletedColumns":[],"cells":[]}` {
		t.Fatalf("empty = %s %v", empty, err)
	}
	ops := []string{
		`{"op":"insert_row","id":"r1","key":"a","ts":1,"peer":"p1"}`,
		`{"op":"insert_row","id":"r2","key":"b","ts":1,"peer":"p1"}`,
		`{"op":"insert_column","id":"c1","key":"a","ts":1,"peer":"p1"}`,
		`{"op":"set_cell","row":"r1","col":"c1","value":"ann","ts":5,"peer":"ann"}`,
		`{"op":"set_cell","row":"r1","col":"c1","value":"bob","ts":5,"peer":"bob"}`,
		`{"op":"set_cell","row":"r2","col":"c1","value":{"n":1},"ts":6,"peer":"ann"}`,
		`{"op":"delete_row","id":"r2","ts":4,"peer":"cy"}`,
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 40 {
		ops = append(ops, fmt.Sprintf(`{"op":"set_cell","row":"r%d","col":"c%d","value":%d,"ts":%d,"peer":"p%d"}`, 1+r.IntN(3), 1+r.IntN(2), i, r.IntN(9), r.IntN(2)))
	}
	sa, sb, a := wasmtest.ApplyBothOrders(t, e, empty, ops)
	wasmtest.RequireRejected(t, e, a,
		`{"op":"set_cell","row":"r1","col":"c1","ts":1,"peer":"p"}`,
		`{"op":"insert_row","id":"r1","ts":1,"peer":"p"}`,
		`{"op":"delete_row","id":"r1","ts":-1,"peer":"p"}`,
		`[1]`,
	)
	if string(sa) != string(sb) {
		t.Fatalf("snapshots differ\n a %s\n b %s", sa, sb)
	}
	want := `{"rows":[{"id":"r1","key":"a","ts":1,"peer":"p1"}],"columns":[{"id":"c1","key":"a","ts":1,"peer":"p1"}],"deletedRows":["r2"],"deletedColumns":[],"cells":[`
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
	if _, err := e.Open(ctx, []byte(`{"rows":7}`)); !errors.Is(err, pluginhost.ErrRejected) {
		t.Fatalf("open bad snapshot: %v", err)
	}
}
