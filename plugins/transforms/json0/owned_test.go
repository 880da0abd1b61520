package json0

import "testing"

// containers adds every *Object and *List reachable from v to seen.
func containers(v any, seen map[any]bool) {
	switch x := v.(type) {
	case *Object:
		seen[x] = true
		for _, f := range x.fields {
			containers(f.v, seen)
		}
	case *List:
		seen[x] = true
		for _, e := range x.Values() {
			containers(e, seen)
		}
	}
}

func opContainers(op Op) map[any]bool {
	seen := map[any]bool{}
	for _, c := range op {
		for _, v := range []any{c.Oi, c.Od, c.Li, c.Ld} {
			containers(v, seen)
		}
	}
	return seen
}

// TestTransformOwned checks what the module relies on to skip copies: Transform leaves its
// inputs as they were (the SDK caches concurrent ops across calls), transforming again gives
// the same, and applying the result with ApplyOwned (which keeps its inserted values) encodes
// the op as ot-json0 gives it, leaves the concurrent op as it was and shares no object or list
// between the document and the concurrent op.
func TestTransformOwned(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	applied := 0
	for i, c := range v.Transform {
		side := Left
		if c.Side == "right" {
			side = Right
		}
		op, other := mustOp(t, c.Op), mustOp(t, c.Other)
		got, err := Transform(op, other, side)
		if err != nil || got.String() != c.Out {
			t.Fatalf("transform %d: %s, %v; want %s", i, got, err, c.Out)
		}
		if op.String() != c.Op || other.String() != c.Other {
			t.Fatalf("transform %d: %s over %s changed its inputs: %s over %s", i, c.Op, c.Other, op, other)
		}
		again, err := Transform(op, other, side)
		if err != nil || again.String() != c.Out {
			t.Fatalf("transform %d again: %s, %v; want %s", i, again, err, c.Out)
		}
		if c.Doc == "" {
			continue
		}
		// The concurrent op applies first, then the transformed op, as a live document does.
		doc, err := ApplyInPlace(mustValue(t, c.Doc), other)
		if err != nil {
			continue
		}
		want, werr := Apply(doc, again)
		out, err := ApplyOwned(doc, again)
		if (err == nil) != (werr == nil) {
			t.Fatalf("transform %d: ApplyOwned %v, Apply %v", i, err, werr)
		}
		if err != nil {
			continue
		}
		applied++
		if s, w := string(AppendValue(nil, out)), string(AppendValue(nil, want)); s != w {
			t.Fatalf("transform %d: ApplyOwned gives %s, Apply %s", i, s, w)
		}
		if again.String() != c.Out || other.String() != c.Other {
			t.Fatalf("transform %d: after ApplyOwned the op is %s (want %s), the other %s (want %s)", i, again, c.Out, other, c.Other)
		}
		inDoc := map[any]bool{}
		containers(out, inDoc)
		for x := range opContainers(other) {
			if inDoc[x] {
				t.Fatalf("transform %d: the document shares a value with the concurrent op %s", i, c.Other)
			}
		}
	}
	if applied < 100 {
		t.Fatalf("only %d transformed ops applied", applied)
	}
}

// TestApplyOwned: on every apply vector ApplyOwned gives what ot-json0 gives and the op still
// encodes as it was given.
func TestApplyOwned(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	for i, c := range v.Apply {
		op := mustOp(t, c.Op)
		got, err := ApplyOwned(mustValue(t, c.Doc), op)
		if err != nil {
			t.Fatalf("apply %d: %s %s: %v", i, c.Doc, c.Op, err)
		}
		if s := string(AppendValue(nil, got)); s != c.Out {
			t.Fatalf("apply %d: %s %s:\n got %s\nwant %s", i, c.Doc, c.Op, s, c.Out)
		}
		if s := op.String(); s != c.Op {
			t.Fatalf("apply %d: the op now encodes as %s, want %s", i, s, c.Op)
		}
	}
}
