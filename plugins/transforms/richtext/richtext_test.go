package richtext

import (
	"errors"
	"testing"
)

// TestConvergence checks TP1 on the transform vectors' pairs, the way the server and a client
// converge: doc∘b∘transform(a, b, left) equals doc∘a∘transform(b, a, right) as documents.
func TestConvergence(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	for i, c := range v.Transform {
		doc, a, b := mustParse(t, c.Doc), mustParse(t, c.Op), mustParse(t, c.Other)
		x, err1 := Apply(doc, b)
		y, err2 := Apply(doc, a)
		if err1 != nil || err2 != nil {
			t.Fatalf("transform %d: ops do not fit the document: %v / %v", i, err1, err2)
		}
		x, err1 = Apply(x, Transform(a, b, Left))
		y, err2 = Apply(y, Transform(b, a, Right))
		if err1 != nil || err2 != nil {
			t.Fatalf("transform %d: transformed ops do not fit: %v / %v", i, err1, err2)
		}
		if !docEqual(x, y) {
			t.Fatalf("transform %d: %s / %s on %s diverge:\n%s\n%s", i, c.Op, c.Other, c.Doc, x, y)
		}
	}
}

// docEqual compares documents as Delta#isEqual would after normalizing: same inserts, same
// attributes (member order ignored).
func docEqual(x, y Op) bool {
	x, y = Compose(Op{}, x), Compose(Op{}, y) // merges adjacent runs
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !compEqual(&x[i], &y[i]) {
			return false
		}
	}
	return true
}

func TestDocApply(t *testing.T) {
	s, err := ParseSnapshot([]byte(`{"ops":[{"insert":"ab💃"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d := NewDoc(s)
	// Splitting a surrogate pair is allowed, as in JavaScript.
	for _, op := range []string{`[{"retain":3},{"insert":"x","attributes":{"b":true}}]`, `[{"retain":1},{"retain":1,"attributes":{"i":1}}]`} {
		o, err := ParseOp([]byte(op))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Apply(o); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
	const want = `{"ops":[{"insert":"a"},{"insert":"b","attributes":{"i":1}},{"insert":"\ud83d"},{"insert":"x","attributes":{"b":true}},{"insert":"\udc83"}]}`
	if got := string(d.AppendSnapshot(nil)); got != want {
		t.Fatalf("snapshot %s\nwant %s", got, want)
	}
	o, _ := ParseOp([]byte(`[{"retain":5},{"delete":1}]`))
	if err := d.Apply(o); !errors.Is(err, ErrInvalid) {
		t.Fatalf("too long: %v", err)
	}
	if _, err := ParseSnapshot([]byte(`[{"delete":1}]`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("snapshot with a delete: %v", err)
	}
}

// FuzzParseOp: parsing never panics, and what parses re-encodes to a fixed point.
func FuzzParseOp(f *testing.F) {
	for _, s := range []string{`{"ops":[{"insert":"a","attributes":{"b":true}}]}`, `[{"retain":1},{"delete":2}]`,
		`[{"insert":{"image":"x"}}]`, `[{"attributes":{"1":[1,{"a":null}]},"retain":3}]`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := ParseOp(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		enc := op.String()
		op2, err := ParseOp([]byte(enc))
		if err != nil || op2.String() != enc {
			t.Fatalf("%s re-encodes as %s, which gives %v, %v", b, enc, op2, err)
		}
		Compose(op, op)
		Transform(op, op, Left)
		Transform(op, op, Right)
	})
}
