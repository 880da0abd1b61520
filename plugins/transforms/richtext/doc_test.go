package richtext

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestDocMatchesCompose: a live document (pieces and chunks) gives, op after op, the bytes
// composing the whole document gives (quill-delta's apply), on documents long enough to need
// many pieces and chunks, with long runs, embeds and formatting.
func TestDocMatchesCompose(t *testing.T) {
	t.Parallel()
	for seed := range uint64(3) {
		r := rand.New(rand.NewPCG(seed, 7))
		attrs := []string{``, `,"attributes":{"bold":true}`, `,"attributes":{"color":"red","bold":true}`, `,"attributes":{"bold":true,"color":"red"}`}
		text := func(n int) string {
			b := make([]byte, n)
			for i := range b {
				b[i] = "abcdefgh"[r.IntN(8)]
			}
			return string(b)
		}
		// Runs of 1 to 2000 units: some span many pieces.
		doc := `{"ops":[`
		for i := range 40 {
			if i > 0 {
				doc += ","
			}
			if r.IntN(10) == 0 {
				doc += `{"insert":{"image":"x.png"}` + attrs[r.IntN(2)] + `}`
				continue
			}
			doc += fmt.Sprintf(`{"insert":%q%s}`, text(1+r.IntN(2000)), attrs[i%2])
		}
		doc += `]}`
		ref, err := ParseSnapshot([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		ref = Compose(Op{}, ref) // merged, as a document built by quill is
		d := NewDoc(ref)
		for i := range 600 {
			n := ref.Length()
			p := r.Int64N(n + 1)
			var op string
			switch k := r.IntN(4); {
			case k == 0 && p < n:
				op = fmt.Sprintf(`[{"retain":%d},{"delete":%d}]`, p, 1+r.Int64N(min(n-p, 600)))
			case k == 1 && p < n:
				op = fmt.Sprintf(`[{"retain":%d},{"retain":%d%s}]`, p, 1+r.Int64N(min(n-p, 600)), attrs[r.IntN(len(attrs))])
			case k == 2 && p < n:
				op = fmt.Sprintf(`[{"retain":%d},{"insert":%q%s},{"delete":1}]`, p, text(1+r.IntN(300)), attrs[r.IntN(len(attrs))])
			default:
				op = fmt.Sprintf(`[{"retain":%d},{"insert":%q%s}]`, p, text(1+r.IntN(300)), attrs[r.IntN(len(attrs))])
			}
			op = `{"ops":` + op + `}`
			o, err := ParseOp([]byte(op))
			if err != nil {
				t.Fatalf("%s: %v", op, err)
			}
			if ref, err = Apply(ref, o); err != nil {
				t.Fatal(err)
			}
			if err := d.Apply(o); err != nil {
				t.Fatal(err)
			}
			if got, want := string(d.AppendSnapshot(nil)), string(ref.AppendCanonical(nil)); got != want || d.len != ref.Length() {
				j := 0
				for j < len(got) && j < len(want) && got[j] == want[j] {
					j++
				}
				t.Fatalf("seed %d op %d %.200s: differ at byte %d:\n got %.300s\nwant %.300s", seed, i, op, j, got[max(0, j-100):], want[max(0, j-100):])
			}
		}
		if len(d.chunks) < 2 {
			t.Fatalf("seed %d: %d chunks: the test does not exercise chunking", seed, len(d.chunks))
		}
	}
}
