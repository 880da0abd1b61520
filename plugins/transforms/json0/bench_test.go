package json0

import (
	"fmt"
	"testing"
)

// BenchmarkApplyInPlace: a list insert or delete in the middle of a live document of 1 KB or
// 1 MB (a list of short records), rebased over the previous op, natively: what the module does
// per op, without the WASM boundary.
func BenchmarkApplyInPlace(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			items := make([]any, 0, size/40)
			for i := 0; i*40 < size; i++ {
				o := newObject()
				o.Set("id", float64(i))
				o.Set("title", fmt.Sprintf("item %06d", i))
				items = append(items, o)
			}
			root := newObject()
			root.Set("n", 0.0)
			root.Set("list", NewList(items))
			var doc any = root
			ops := [2][]byte{
				fmt.Appendf(nil, `[{"p":["list",%d],"li":{"id":-1,"title":"new"}}]`, size/80),
				fmt.Appendf(nil, `[{"p":["list",%d],"ld":{"id":-1,"title":"new"}}]`, size/80),
			}
			prev, _ := ParseOp(ops[1])
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				op, err := ParseOp(ops[i%2])
				if err != nil {
					b.Fatal(err)
				}
				if op, err = Transform(op, prev, Left); err != nil {
					b.Fatal(err)
				}
				if doc, err = ApplyOwned(doc, op); err != nil {
					b.Fatal(err)
				}
				_ = op.AppendJSON(nil)
				prev = op
				i++
			}
		})
	}
}
