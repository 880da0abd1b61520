package json0

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestListMatchesSlice: random inserts, deletes, sets and appends on a List across chunk
// splits and removals give what the same edits on a plain slice give.
func TestListMatchesSlice(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	var ref []any
	for i := range 1000 {
		ref = append(ref, float64(i))
	}
	l := NewList(slices.Clone(ref))
	for i := range 20000 {
		switch k := r.IntN(8); {
		case k < 3:
			at := r.IntN(len(ref) + 1)
			ref = slices.Insert(ref, at, any(float64(-i)))
			l.Insert(at, float64(-i))
		case k < 6 && len(ref) > 0:
			at := r.IntN(len(ref))
			want := ref[at]
			ref = slices.Delete(ref, at, at+1)
			if got := l.Delete(at); got != want {
				t.Fatalf("op %d: Delete(%d) = %v; want %v", i, at, got, want)
			}
		case k == 6 && len(ref) > 0:
			at := r.IntN(len(ref))
			ref[at] = "s"
			l.Set(at, "s")
		default:
			ref = append(ref, true)
			l.Append(true)
		}
		if l.Len() != len(ref) {
			t.Fatalf("op %d: Len %d; want %d", i, l.Len(), len(ref))
		}
		if len(ref) > 0 { // near the last edit, and anywhere (find's hint, both ways)
			for _, at := range []int{min(r.IntN(3)+len(ref)/2, len(ref)-1), r.IntN(len(ref))} {
				if got := l.At(at); got != ref[at] {
					t.Fatalf("op %d: At(%d) = %v; want %v", i, at, got, ref[at])
				}
			}
		}
		if i%500 == 0 && !slices.Equal(l.Values(), ref) {
			t.Fatalf("op %d: list diverged", i)
		}
	}
	if !slices.Equal(l.Values(), ref) {
		t.Fatal("list diverged")
	}
	for i := range ref {
		if l.At(i) != ref[i] {
			t.Fatalf("At(%d) = %v; want %v", i, l.At(i), ref[i])
		}
	}
	if len(l.chunks) < 3 {
		t.Fatalf("%d chunks: the test does not exercise chunking", len(l.chunks))
	}
}
