package table_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/internal/wasmtest"
	"github.com/opstream/opstream/plugins/transforms/table"
)

// sizedDoc returns the snapshot of a table of about the given bytes: 10 columns, rows of
// small cell values.
func sizedDoc(b *testing.B, bytes int) []byte {
	d := table.NewDoc()
	apply := func(s string) {
		op, err := table.ParseOp([]byte(s))
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Apply(op); err != nil {
			b.Fatal(err)
		}
	}
	for c := range 10 {
		apply(fmt.Sprintf(`{"op":"insert_column","id":"c%d","key":"k%d","ts":1,"peer":"seed"}`, c, c))
	}
	for r := 0; r < table.MaxRows; r++ {
		if r%50 == 0 && len(d.AppendSnapshot(nil)) >= bytes {
			break
		}
		apply(fmt.Sprintf(`{"op":"insert_row","id":"r%d","key":"k%d","ts":2,"peer":"seed"}`, r, r))
		for c := range 10 {
			if (r*10 + c) < table.MaxCells {
				apply(fmt.Sprintf(`{"op":"set_cell","row":"r%d","col":"c%d","value":"cell %d.%d","ts":3,"peer":"seed"}`, r, c, r, c))
			}
		}
	}
	return d.AppendSnapshot(nil)
}

func engine(b *testing.B, bin []byte, trusted bool) *pluginhost.Engine {
	ctx := context.Background()
	rt, err := pluginhost.NewRuntime(ctx, pluginhost.RuntimeConfig{Trusted: trusted})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Compile(ctx, "table.wasm", bin)
	if err != nil {
		b.Fatal(err)
	}
	e, err := pluginhost.NewEngine(ctx, mod, pluginhost.EngineConfig{Instances: 1, CallTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close(ctx) })
	return e
}

// BenchmarkModuleApply: a set_cell (and an insert_row) through the WASM module via
// host/pluginhost, sandboxed and trusted, on a 1 KB and a 1 MB table; then opening and
// snapshotting the 1 MB table. Apply must not grow with the table.
func BenchmarkModuleApply(b *testing.B) {
	ctx := context.Background()
	bin := wasmtest.Build(b, "./wasm")
	for _, mode := range []string{"sandboxed", "trusted"} {
		e := engine(b, bin, mode == "trusted")
		for _, size := range []struct {
			name  string
			bytes int
		}{{"1KB", 1 << 10}, {"1MB", 1 << 20}} {
			snap := sizedDoc(b, size.bytes)
			for _, kind := range []string{"set_cell", "insert_row"} {
				b.Run(mode+"/"+size.name+"/"+kind, func(b *testing.B) {
					d, err := e.Open(ctx, snap)
					if err != nil {
						b.Fatal(err)
					}
					defer d.Close(ctx)
					ts := int64(1 << 40)
					b.ReportAllocs()
					for b.Loop() {
						ts++
						op := fmt.Appendf(nil, `{"op":"set_cell","row":"r%d","col":"c%d","value":{"text":"edit","n":%d},"ts":%d,"peer":"bench"}`, ts%3, ts%10, ts, ts)
						if kind == "insert_row" {
							op = fmt.Appendf(nil, `{"op":"insert_row","id":"r%d","key":"m%d","ts":%d,"peer":"bench"}`, ts%3, ts, ts)
						}
						if _, err := d.Apply(ctx, op, nil, 0); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			if size.name != "1MB" {
				continue
			}
			b.Run(mode+"/1MB/open", func(b *testing.B) {
				b.SetBytes(int64(len(snap)))
				for b.Loop() {
					d, err := e.Open(ctx, snap)
					if err != nil {
						b.Fatal(err)
					}
					if err := d.Close(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(mode+"/1MB/snapshot", func(b *testing.B) {
				d, err := e.Open(ctx, snap)
				if err != nil {
					b.Fatal(err)
				}
				defer d.Close(ctx)
				b.SetBytes(int64(len(snap)))
				for b.Loop() {
					if _, err := d.Snapshot(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
