package text

import (
	"strings"
	"testing"
)

func benchInsert(b *testing.B, size int) {
	text := strings.Repeat("lorem ipsum dolor sit amet, é 💃 ", size/36+1)[:size]
	d := NewDoc(strings.ToValidUTF8(text, ""))
	// Insert then delete one character so the document keeps its size, at 64 positions spread
	// over the middle 500 characters so chunk boundaries do not flatter either size.
	var ops []Op
	for k := range 64 {
		pos := d.Len()/2 - 250 + k*500/64
		ops = append(ops, Op{SkipN(pos), InsertText("x")}, Op{SkipN(pos), DeleteN(1)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if err := d.Apply(ops[i%len(ops)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDocApplyInsert1KB and BenchmarkDocApplyInsert1MB: a 1-char insert (or delete) in the
// middle of a live document of mixed ASCII and non-ASCII text; the two must cost about the same.
func BenchmarkDocApplyInsert1KB(b *testing.B) { benchInsert(b, 1<<10) }

// BenchmarkDocApplyInsert1MB: see BenchmarkDocApplyInsert1KB.
func BenchmarkDocApplyInsert1MB(b *testing.B) { benchInsert(b, 1<<20) }

func BenchmarkTransformSmall(b *testing.B) {
	op := mustParse(b, []byte(`[12,"hello",{"d":3}]`))
	other := mustParse(b, []byte(`[5,"abc",4,{"d":2}]`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Transform(op, other, Left); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseOp(b *testing.B) {
	in := []byte(`[1234,"hello \"world\" é💃",{"d":3},7,{"d":"abc"}]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseOp(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpAppendJSON(b *testing.B) {
	op := mustParse(b, []byte(`[1234,"hello \"world\" é💃",{"d":3},7,{"d":"abc"}]`))
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = op.AppendJSON(buf[:0])
	}
}

// BenchmarkDocSnapshot: AppendSnapshot of a 64 KB or 1 MB document of mixed ASCII and non-ASCII
// text with a few quotes, into a reused buffer and into a fresh one (nil).
func BenchmarkDocSnapshot(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		text := strings.Repeat("lorem ipsum dolor sit amet, é 💃 ", size/36+1)[:size]
		d := NewDoc(strings.ToValidUTF8(text, ""))
		for i := range 16 {
			if err := d.Apply(Op{SkipN((i + 1) * d.Len() / 20), InsertText(`x"y`)}); err != nil {
				b.Fatal(err)
			}
		}
		name := "64KB"
		if size == 1<<20 {
			name = "1MB"
		}
		b.Run(name, func(b *testing.B) {
			var buf []byte
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf = d.AppendSnapshot(buf[:0])
			}
		})
		b.Run(name+"/nil", func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				_ = d.AppendSnapshot(nil)
			}
		})
	}
}
