package text

import (
	"errors"
	"testing"
)

// FuzzParseOp: the op decoder never panics, fails only with ErrInvalid, and what it accepts
// re-encodes to a canonical form that decodes to the same op.
func FuzzParseOp(f *testing.F) {
	for _, s := range []string{`[]`, `[3,"hi",{"d":2}]`, `["\ud83d\udc83"]`, `[{"d":"x"}]`, `[1e2,"a"]`, `["\u00e9\n"]`, `[1,2]`, `[{"d":1,"x":2}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := ParseOp(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		enc := op.AppendJSON(nil)
		op2, err := ParseOp(enc)
		if err != nil {
			t.Fatalf("re-encoded op %s does not parse: %v", enc, err)
		}
		if string(op2.AppendJSON(nil)) != string(enc) {
			t.Fatalf("encoding not stable: %s", enc)
		}
	})
}

// FuzzApplyTransform: Apply, Transform and Compose on arbitrary ops and documents never panic;
// errors are ErrInvalid, a failed Doc.Apply leaves the document unchanged, and Doc agrees with
// the string Apply.
func FuzzApplyTransform(f *testing.F) {
	f.Add("hello 💃 world", []byte(`[6,"big ",{"d":2}]`), []byte(`[3,{"d":"lo"},"p"]`), false)
	f.Add("", []byte(`["x"]`), []byte(`["y"]`), true)
	f.Add("abc", []byte(`[5,"x"]`), []byte(`[{"d":9}]`), false)
	f.Fuzz(func(t *testing.T, doc string, a, b []byte, right bool) {
		opA, errA := ParseOp(a)
		opB, errB := ParseOp(b)
		if errA != nil || errB != nil {
			return
		}
		d := NewDoc(doc)
		before := d.String()
		want, err := Apply(before, opA)
		derr := d.Apply(opA)
		if (err == nil) != (derr == nil) {
			t.Fatalf("Apply and Doc.Apply disagree: %v / %v", err, derr)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) || d.String() != before {
				t.Fatalf("bad failure: %v", err)
			}
		} else if d.String() != want {
			t.Fatalf("Doc.Apply = %q, Apply = %q", d.String(), want)
		}
		side := Left
		if right {
			side = Right
		}
		tr, err := Transform(opA, opB, side)
		if err != nil {
			t.Fatalf("Transform of checked ops failed: %v", err)
		}
		var rb Rebaser
		if got := rb.Rebase(opA, []Op{opB, opA}, side); got.String() != must2(Transform(tr, opA, side)).String() {
			t.Fatalf("Rebase = %s, Transform step by step = %s", got, must2(Transform(tr, opA, side)))
		}
		if _, err := Compose(opA, opB); err != nil {
			t.Fatalf("Compose of checked ops failed: %v", err)
		}
	})
}

func must2(op Op, err error) Op {
	if err != nil {
		panic(err)
	}
	return op
}
