package richtext

import (
	"fmt"
	"testing"
)

// BenchmarkDocApply: a 1-char insert (or delete) in the middle of a live document of 1 KB or
// 1 MB of text in runs of 64 units alternating bold and plain. Doc is a slice of components
// composed with each op: O(document size) per op.
func BenchmarkDocApply(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			run := make([]uint16, 64)
			for i := range run {
				run[i] = 'a' + uint16(i%26)
			}
			bold := &Value{Kind: Object, Obj: []Member{{Key: "bold", Val: Value{Kind: Bool, B: true}}}}
			var doc Op
			for i := 0; i*64 < size; i++ {
				c := Comp{Kind: Insert, Text: run}
				if i%2 == 1 {
					c.Attrs = bold
				}
				doc = append(doc, c)
			}
			d := NewDoc(doc)
			mid := fmt.Sprint(size / 2)
			ins, _ := ParseOp([]byte(`[{"retain":` + mid + `},{"insert":"x"}]`))
			del, _ := ParseOp([]byte(`[{"retain":` + mid + `},{"delete":1}]`))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				op := ins
				if i&1 == 1 {
					op = del
				}
				i++
				if err := d.Apply(op); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
