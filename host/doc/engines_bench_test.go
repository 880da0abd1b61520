package doc

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opstream/opstream/plugins/transforms/table"
	"github.com/opstream/opstream/plugins/transforms/tree"
)

// benchCase is one engine's typical op on a document of a given size: op(i) is the i-th op,
// made on the document before op(i-1) was applied, so the host rebases it over that one
// concurrent op, as the document actor does for a peer one op behind.
type benchCase struct {
	docType string
	doc     func(b *testing.B, size int) []byte
	op      func(i, size int) []byte
}

func benchCases() []benchCase {
	stamp := func(i int) string { return fmt.Sprintf(`"ts":%d,"peer":"bench"`, 1<<40+i) }
	return []benchCase{
		{
			docType: "text",
			doc:     func(_ *testing.B, size int) []byte { return fmt.Appendf(nil, "%q", strings.Repeat("abcdefgh", size/8)) },
			op: func(i, size int) []byte {
				if i%2 == 0 {
					return fmt.Appendf(nil, `[%d,"x"]`, size/2)
				}
				return fmt.Appendf(nil, `[%d,{"d":1}]`, size/2)
			},
		},
		{
			// Runs of 64 characters alternating bold and plain.
			docType: "rich-text",
			doc: func(_ *testing.B, size int) []byte {
				var s strings.Builder
				s.WriteString(`{"ops":[`)
				for i := 0; i*64 < size; i++ {
					if i > 0 {
						s.WriteByte(',')
					}
					if i%2 == 1 {
						fmt.Fprintf(&s, `{"insert":%q,"attributes":{"bold":true}}`, strings.Repeat("abcdefgh", 8))
					} else {
						fmt.Fprintf(&s, `{"insert":%q}`, strings.Repeat("abcdefgh", 8))
					}
				}
				s.WriteString(`]}`)
				return []byte(s.String())
			},
			op: func(i, size int) []byte {
				if i%2 == 0 {
					return fmt.Appendf(nil, `{"ops":[{"retain":%d},{"insert":"x","attributes":{"italic":true}}]}`, size/2)
				}
				return fmt.Appendf(nil, `{"ops":[{"retain":%d},{"delete":1}]}`, size/2)
			},
		},
		{
			// A list of short records.
			docType: "json0",
			doc: func(_ *testing.B, size int) []byte {
				var s strings.Builder
				s.WriteString(`{"n":0,"list":[`)
				for i := 0; i*40 < size; i++ {
					if i > 0 {
						s.WriteByte(',')
					}
					fmt.Fprintf(&s, `{"id":%d,"title":"item %06d"}`, i, i)
				}
				s.WriteString(`]}`)
				return []byte(s.String())
			},
			op: func(i, size int) []byte {
				if i%2 == 0 {
					return fmt.Appendf(nil, `[{"p":["list",%d],"li":{"id":-1,"title":"new"}}]`, size/80)
				}
				return fmt.Appendf(nil, `[{"p":["list",%d],"ld":{"id":-1,"title":"new"}}]`, size/80)
			},
		},
		{
			// Fields of about 1 KB (a 1 KB document: 10 fields of 80 bytes).
			docType: "form",
			doc: func(_ *testing.B, size int) []byte {
				n, v := 10, 80
				if size > 1<<10 {
					n, v = 1000, 1000
				}
				var s strings.Builder
				s.WriteString(`{"fields":{`)
				for i := range n {
					if i > 0 {
						s.WriteByte(',')
					}
					fmt.Fprintf(&s, `"f%04d":{"v":%q,"ts":1,"peer":"seed"}`, i, strings.Repeat("v", v))
				}
				s.WriteString(`}}`)
				return []byte(s.String())
			},
			op: func(i, _ int) []byte { return fmt.Appendf(nil, `{"set":{"f0001":"edit %d"},%s}`, i, stamp(i)) },
		},
		{
			docType: "json",
			doc: func(_ *testing.B, size int) []byte {
				var s strings.Builder
				s.WriteString(`{"registers":[`)
				for i := 0; i*200 < size; i++ {
					if i > 0 {
						s.WriteByte(',')
					}
					fmt.Fprintf(&s, `{"path":["k%05d","title"],"v":%q,"ts":1,"peer":"seed"}`, i, strings.Repeat("t", 140))
				}
				s.WriteString(`],"value":{}}`)
				return []byte(s.String())
			},
			op: func(i, _ int) []byte {
				return fmt.Appendf(nil, `{"set":[["k00001","title"],"edit %d"],%s}`, i, stamp(i))
			},
		},
		{
			docType: "tree",
			doc: func(b *testing.B, size int) []byte {
				d := tree.NewDoc()
				for n := 0; ; n++ {
					if n%50 == 0 && len(d.AppendSnapshot(nil)) >= size {
						return d.AppendSnapshot(nil)
					}
					parent := "root"
					if n >= 10 {
						parent = fmt.Sprint("n", n/10-1)
					}
					op, err := tree.ParseOp(fmt.Appendf(nil, `{"op":"create","id":"n%d","parent":%q,"key":"k%d","payload":{"title":"node %d"},"ts":%d,"peer":"seed"}`, n, parent, n%7, n, n+1))
					if err == nil {
						err = d.Apply(op)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			},
			op: func(i, _ int) []byte {
				if i%2 == 0 {
					return fmt.Appendf(nil, `{"op":"move","id":"n9","parent":"n%d","key":"k%d",%s}`, i%3, i%5, stamp(i))
				}
				return fmt.Appendf(nil, `{"op":"update","id":"n9","payload":{"title":"edit %d"},%s}`, i, stamp(i))
			},
		},
		{
			docType: "table",
			doc: func(b *testing.B, size int) []byte {
				d := table.NewDoc()
				apply := func(s string) {
					op, err := table.ParseOp([]byte(s))
					if err == nil {
						err = d.Apply(op)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				for c := range 10 {
					apply(fmt.Sprintf(`{"op":"insert_column","id":"c%d","key":"k%02d","ts":1,"peer":"seed"}`, c, c))
				}
				for r := 0; ; r++ {
					if len(d.AppendSnapshot(nil)) >= size {
						return d.AppendSnapshot(nil)
					}
					apply(fmt.Sprintf(`{"op":"insert_row","id":"r%d","key":"k%06d","ts":1,"peer":"seed"}`, r, r))
					for c := range 10 {
						apply(fmt.Sprintf(`{"op":"set_cell","row":"r%d","col":"c%d","value":"cell %d","ts":1,"peer":"seed"}`, r, c, c))
					}
				}
			},
			op: func(i, _ int) []byte {
				return fmt.Appendf(nil, `{"op":"set_cell","row":"r1","col":"c%d","value":"edit %d",%s}`, i%10, i, stamp(i))
			},
		},
		{
			// The counter's document is one integer: its size does not vary.
			docType: "counter",
			doc:     func(*testing.B, int) []byte { return []byte("0") },
			op:      func(i, _ int) []byte { return fmt.Appendf(nil, `{"add":%d}`, 1-2*(i%2)) },
		},
	}
}

// BenchmarkEngineOp: every shipped engine's typical op through wazero (the trusted runtime the
// server gives shipped modules), as the document actor calls it: one engine_apply that
// validates the op, rebases it over one concurrent op and applies it, on a live document of
// 1 KB and of 1 MB. The cost must not grow with the document's size.
//
//	go test -run '^$' -bench BenchmarkEngineOp ./host/doc/
//
// A short run (-benchtime 3000x) may not include a cycle of the guest's garbage collector,
// whose cost grows with the document's size (it scans the live document): measure with
// BenchmarkEngineLongRun, or -benchtime 20000x or more.
func BenchmarkEngineOp(b *testing.B) { benchEngineOps(b, 0) }

// BenchmarkEngineLongRun is BenchmarkEngineOp over at least 20,000 ops per engine and size, so
// that guest GC cycles are included (it fails on fewer), reporting besides ns/op the process's
// CPU time per op (cpu-ns/op: less sensitive than wall time to other processes on a shared
// machine).
//
//	go test -run '^$' -bench BenchmarkEngineLongRun -benchtime 20000x -count 5 ./host/doc/
func BenchmarkEngineLongRun(b *testing.B) { benchEngineOps(b, 20000) }

// cpuTime is the process's user and system CPU time (all threads), from /proc/self/stat in
// clock ticks of 10 ms (USER_HZ 100); ok is false where there is no such file.
func cpuTime() (d time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // from field 3, the state
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// benchEngineOps runs the engines' ops; minOps > 0 requires at least that many per run.
func benchEngineOps(b *testing.B, minOps int) {
	ctx := context.Background()
	engines := loadEngines(b, models())
	for _, bc := range benchCases() {
		for _, size := range []int{1 << 10, 1 << 20} {
			b.Run(fmt.Sprintf("%s/%dKB", bc.docType, size>>10), func(b *testing.B) {
				snap := bc.doc(b, size)
				d, err := engines[bc.docType].Open(ctx, snap)
				if err != nil {
					b.Fatal(err)
				}
				defer d.Close(ctx)
				prev, err := d.Apply(ctx, bc.op(0, size), nil, 0)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				i := 1
				step := func() {
					applied, err := d.Apply(ctx, bc.op(i, size), [][]byte{prev}, 0)
					if err != nil {
						b.Fatalf("op %d: %v", i, err)
					}
					prev = applied
					i++
				}
				cpu, cpuOK := cpuTime()
				ops := 0
				for b.Loop() {
					step()
					ops++
				}
				if minOps > 0 {
					if ops < minOps {
						b.Fatalf("%d ops: run at least %d (-benchtime %dx) so that guest GC cycles are included", ops, minOps, minOps)
					}
					if end, ok := cpuTime(); ok && cpuOK {
						b.ReportMetric(float64((end-cpu).Nanoseconds())/float64(ops), "cpu-ns/op")
					}
				}
			})
		}
	}
}
