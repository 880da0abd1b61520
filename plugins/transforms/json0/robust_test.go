package json0

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestMalformedNeverPanics mutates vector ops and documents byte by byte: every entry point
// must return a result or an ErrInvalid error, never panic.
func TestMalformedNeverPanics(t *testing.T) {
	v := loadVectors(t)
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(`[]{}",:0123456789-.pliomdnast"xyz`)
	mutate := func(s string) []byte {
		b := []byte(s)
		for range 1 + r.IntN(3) {
			if len(b) == 0 {
				break
			}
			b[r.IntN(len(b))] = alphabet[r.IntN(len(alphabet))]
		}
		return b
	}
	check := func(err error) {
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error not ErrInvalid: %v", err)
		}
	}
	n := 5000
	if testing.Short() {
		n = 500
	}
	for i := range n {
		c := v.Transform[i%len(v.Transform)]
		a, errA := ParseOp(mutate(c.Op))
		check(errA)
		b, errB := ParseOp([]byte(c.Other))
		check(errB)
		doc, errD := ParseValue(mutate(c.Doc))
		check(errD)
		if errA != nil || errB != nil {
			continue
		}
		for _, s := range []Side{Left, Right} {
			_, err := Transform(a, b, s)
			check(err)
			_, err = Transform(b, a, s)
			check(err)
		}
		_, err := Compose(a, b)
		check(err)
		_, err = Compose(b, a)
		check(err)
		_ = Invert(a)
		if errD == nil {
			before := string(AppendValue(nil, doc))
			_, err = Apply(doc, a)
			check(err)
			if string(AppendValue(nil, doc)) != before {
				t.Fatal("Apply changed its input")
			}
		}
	}
}
