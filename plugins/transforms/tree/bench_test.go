package tree_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/internal/wasmtest"
	"github.com/opstream/opstream/plugins/transforms/tree"
)

// sizedDoc returns the snapshot of a tree of about the given bytes (nodes ten to a parent,
// each with a small payload; a full log once it is large) and its number of nodes.
func sizedDoc(b *testing.B, bytes int) ([]byte, int) {
	d := tree.NewDoc()
	n := 0
	for ; n < tree.MaxNodes; n++ {
		if n%100 == 0 && len(d.AppendSnapshot(nil)) >= bytes {
			break
		}
		parent := tree.Root
		if n >= 10 {
			parent = fmt.Sprint("n", n/10-1)
		}
		op, err := tree.ParseOp(fmt.Appendf(nil, `{"op":"create","id":"n%d","parent":%q,"key":"k%d","payload":{"title":"node %d","done":false,"tags":["a","b"]},"ts":%d,"peer":"seed"}`, n, parent, n%7, n, n+1))
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Apply(op); err != nil {
			b.Fatal(err)
		}
	}
	return d.AppendSnapshot(nil), n
}

// engine loads the module like wasmtest.Engine, sandboxed or trusted.
func engine(b *testing.B, bin []byte, trusted bool) *pluginhost.Engine {
	ctx := context.Background()
	rt, err := pluginhost.NewRuntime(ctx, pluginhost.RuntimeConfig{Trusted: trusted})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Compile(ctx, "tree.wasm", bin)
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

var sizes = []struct {
	name  string
	bytes int
}{{"1KB", 1 << 10}, {"1MB", 1 << 20}}

// BenchmarkModuleApply: a typical op (a move, an update; a move arriving one op late, so the
// log undoes and redoes one op) applied through the WASM module via host/pluginhost, sandboxed
// (the default for configured modules) and trusted, on a document of 1 KB and of 1 MB. The
// cost must not grow with the document.
func BenchmarkModuleApply(b *testing.B) {
	ctx := context.Background()
	bin := wasmtest.Build(b, "./wasm")
	for _, mode := range []string{"sandboxed", "trusted"} {
		e := engine(b, bin, mode == "trusted")
		for _, size := range sizes {
			snap, nodes := sizedDoc(b, size.bytes)
			for _, kind := range []string{"move", "update", "late-move"} {
				b.Run(mode+"/"+size.name+"/"+kind, func(b *testing.B) {
					d, err := e.Open(ctx, snap)
					if err != nil {
						b.Fatal(err)
					}
					defer d.Close(ctx)
					ts := int64(1 << 40)
					leaf := "n" + strconv.Itoa(nodes-1)
					i := 0
					b.ReportAllocs()
					for b.Loop() {
						i++
						ts += 2
						var op []byte
						switch kind {
						case "move":
							op = fmt.Appendf(nil, `{"op":"move","id":%q,"parent":"n%d","key":"k%d","ts":%d,"peer":"bench"}`, leaf, i%3, i%5, ts)
						case "update":
							op = fmt.Appendf(nil, `{"op":"update","id":%q,"payload":{"title":"edit %d","done":true},"ts":%d,"peer":"bench"}`, leaf, i, ts)
						case "late-move":
							if _, err := d.Apply(ctx, fmt.Appendf(nil, `{"op":"move","id":"n%d","parent":"root","key":"k%d","ts":%d,"peer":"bench"}`, nodes-2, i%5, ts), nil, 0); err != nil {
								b.Fatal(err)
							}
							op = fmt.Appendf(nil, `{"op":"move","id":%q,"parent":"n%d","key":"k%d","ts":%d,"peer":"bench"}`, leaf, i%3, i%5, ts-1)
						}
						if _, err := d.Apply(ctx, op, nil, 0); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkModuleOpen: loading a 1 MB snapshot into the module (what the server does when a
// document is first used) and writing it back (what it does every few ops); both must stay
// well inside the host's 1 s call deadline.
func BenchmarkModuleOpen(b *testing.B) {
	ctx := context.Background()
	bin := wasmtest.Build(b, "./wasm")
	snap, _ := sizedDoc(b, 1<<20)
	for _, mode := range []string{"sandboxed", "trusted"} {
		e := engine(b, bin, mode == "trusted")
		b.Run(mode+"/open", func(b *testing.B) {
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
		b.Run(mode+"/snapshot", func(b *testing.B) {
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

// BenchmarkNative: the same work natively, to see what the WASM boundary and guest cost.
func BenchmarkNative(b *testing.B) {
	snap, nodes := sizedDoc(b, 1<<20)
	b.Run("ParseSnapshot1MB", func(b *testing.B) {
		b.SetBytes(int64(len(snap)))
		for b.Loop() {
			if _, err := tree.ParseSnapshot(snap); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("move", func(b *testing.B) {
		d, err := tree.ParseSnapshot(snap)
		if err != nil {
			b.Fatal(err)
		}
		ts := int64(1 << 40)
		b.ReportAllocs()
		for b.Loop() {
			ts++
			op, err := tree.ParseOp(fmt.Appendf(nil, `{"op":"move","id":"n%d","parent":"n%d","key":"k%d","ts":%d,"peer":"bench"}`, nodes-1, ts%3, ts%5, ts))
			if err != nil {
				b.Fatal(err)
			}
			if err := d.Apply(op); err != nil {
				b.Fatal(err)
			}
			_ = op.Append(nil)
		}
	})
}
