package text

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestRebase: Rebaser.Rebase over a log of concurrent ops equals Transform step by step, with
// one Rebaser reused across cases, and with its previous result as the op.
func TestRebase(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	var rb Rebaser
	for i := range 5000 {
		doc := randText(r, r.IntN(30))
		op := randOp(r, doc)
		var log []Op
		d := doc
		for range r.IntN(8) {
			c := randOp(r, d)
			log = append(log, c)
			d = must(Apply(d, c))
		}
		for _, side := range []Side{Left, Right} {
			want := op
			for _, c := range log {
				var err error
				if want, err = Transform(want, c, side); err != nil {
					t.Fatal(err)
				}
			}
			in := op.String()
			got := rb.Rebase(op, log, side)
			if got.String() != want.String() || op.String() != in {
				t.Fatalf("case %d: rebase %s over %v (%s) = %s, want %s (op now %s)", i, in, log, side, got, want, op)
			}
			if err := Check(got); err != nil {
				t.Fatalf("case %d: rebased op %s: %v", i, got, err)
			}
			// The previous result as the op: rebase it over one more op.
			c := randOp(r, d)
			want2, err := Transform(want, c, side)
			if err != nil {
				t.Fatal(err)
			}
			if got2 := rb.Rebase(got, []Op{c}, side); got2.String() != want2.String() {
				t.Fatalf("case %d: rebase of the previous result %s over %s = %s, want %s", i, want, c, got2, want2)
			}
		}
	}
}

func TestRebaseVectors(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	var rb Rebaser
	for i, c := range v.Transform {
		side := Left
		if c.Side == "right" {
			side = Right
		}
		got := rb.Rebase(mustParse(t, c.Op), []Op{mustParse(t, c.Other)}, side)
		if got.String() != string(c.Out) {
			t.Fatalf("transform %d: %s over %s (%s): got %s want %s", i, c.Op, c.Other, c.Side, got, c.Out)
		}
	}
}

// TestRebaseMalformed: Rebase does not check its ops, but on malformed ones it neither panics
// nor loops, and Doc.Apply rejects what it returns when that is malformed.
func TestRebaseMalformed(t *testing.T) {
	t.Parallel()
	bad := []Op{
		{SkipN(0), InsertText("x")},
		{SkipN(-3), DeleteN(-2), InsertText("x")},
		{{Kind: 0, N: 2}, DeleteN(0), SkipN(2)},
		{{Kind: 9, N: -1}, {Kind: Insert, N: 3, S: "é"}},
		{{Kind: Delete, N: 5, S: "ab"}, SkipN(1), SkipN(1)},
		{InsertText(""), DeleteN(1 << 40)},
	}
	good := []Op{{InsertText("ab")}, {SkipN(2), DeleteN(3)}, {DeleteText("abc"), InsertText("z")}}
	var rb Rebaser
	for _, a := range append(bad, good...) {
		for _, b := range append(bad, good...) {
			for _, side := range []Side{Left, Right} {
				got := rb.Rebase(a, []Op{b, a, b}, side)
				d := NewDoc("hello world")
				if err := d.Apply(got); err != nil && (!errors.Is(err, ErrInvalid) || d.String() != "hello world") {
					t.Fatalf("apply %s: %v, doc %q", got, err, d.String())
				}
			}
		}
	}
}

// TestParseOpInto: ParseOpInto reusing its result parses as ParseOp does, with the same errors.
func TestParseOpInto(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	var buf Op
	for _, c := range v.Transform {
		for _, in := range [][]byte{c.Op, c.Other, c.Out} {
			want, err := ParseOp(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseOpInto(buf, in)
			if err != nil || got.String() != want.String() {
				t.Fatalf("ParseOpInto(%s) = %s, %v; want %s", in, got, err, want)
			}
			buf = got
		}
	}
	for _, in := range v.Invalid {
		_, want := ParseOp([]byte(in))
		got, err := ParseOpInto(buf, []byte(in))
		if got != nil || err == nil || err.Error() != want.Error() {
			t.Fatalf("ParseOpInto(%s) = %v, %v; want %v", in, got, err, want)
		}
	}
}
