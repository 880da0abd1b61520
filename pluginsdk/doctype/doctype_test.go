package doctype_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/opstream/opstream/pluginsdk/doctype"
	"github.com/opstream/opstream/pluginsdk/engine"
)

// counter is a toy type: the document is an integer, an op an integer to add.
func counter() doctype.OT[int, int] {
	parse := func(b []byte) (int, error) {
		n, err := strconv.Atoi(string(b))
		if err != nil {
			return 0, fmt.Errorf("not an integer: %w", err)
		}
		return n, nil
	}
	appendInt := func(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }
	return doctype.OT[int, int]{
		ParseDoc: parse, ParseOp: parse, AppendDoc: appendInt, AppendOp: appendInt,
		ApplyOp:  func(d, op int) (int, error) { return d + op, nil },
		InvertOp: func(op, _ int) (int, error) { return -op, nil },
	}
}

func TestOT(t *testing.T) {
	t.Parallel()
	c := counter()
	if got, err := c.Apply([]byte("2"), []byte("3")); err != nil || string(got) != "5" {
		t.Fatalf("Apply = %s, %v", got, err)
	}
	if got, err := c.Transform([]byte("3"), []byte("4"), engine.Left); err != nil || string(got) != "3" {
		t.Fatalf("Transform without TransformOp = %s, %v; want the op", got, err)
	}
	c.TransformOp = func(op, other int, side engine.Side) (int, error) {
		if side == engine.Right {
			return op * 10, nil
		}
		return op + other, nil
	}
	if got, err := c.Transform([]byte("3"), []byte("4"), engine.Left); err != nil || string(got) != "7" {
		t.Fatalf("Transform = %s, %v", got, err)
	}
	if got, err := c.Transform([]byte("3"), []byte("4"), engine.Right); err != nil || string(got) != "30" {
		t.Fatalf("Transform right = %s, %v", got, err)
	}
	if _, err := c.Apply([]byte("x"), []byte("1")); err == nil {
		t.Fatal("Apply of a bad snapshot succeeded")
	}
	if _, err := c.Transform([]byte("1"), []byte("y"), engine.Left); err == nil {
		t.Fatal("Transform over a bad op succeeded")
	}
	inv, after, back, err := doctype.UndoRoundTrip(c, []byte("2"), []byte("3"))
	if err != nil || string(inv) != "-3" || string(after) != "5" || string(back) != "2" {
		t.Fatalf("UndoRoundTrip = %s, %s, %v", after, back, err)
	}
}

func TestCRDT(t *testing.T) {
	t.Parallel()
	// Ops are their own stamps here: ts is the op's value, the peer always "p".
	stamped := 0
	c := doctype.CRDT[int, int]{
		OT:        counter(),
		Stamp:     func(op int) (int64, string) { return int64(op), "p" },
		WithStamp: func(op int, _ int64, _ string) int { return op },
		Fresh:     func() (int64, string) { stamped++; return 0, "p" },
		Drop:      func(s, r int) (int, bool) { return r - s, r-s != 1 },
	}
	if got, err := c.RebaseStep([]byte("5"), []byte("7")); err != nil || string(got) != "2" {
		t.Fatalf("RebaseStep over a newer op = %s, %v", got, err)
	}
	if got, err := c.RebaseStep([]byte("5"), []byte("6")); err != nil || got != nil {
		t.Fatalf("RebaseStep to nothing = %s, %v; want nil", got, err)
	}
	if got, err := c.RebaseStep([]byte("5"), []byte("3")); err != nil || string(got) != "5" {
		t.Fatalf("RebaseStep over an older op = %s, %v; want the step", got, err)
	}
	if _, _, back, err := doctype.UndoRoundTrip(c, []byte("1"), []byte("4")); err != nil || string(back) != "1" || stamped != 1 {
		t.Fatalf("UndoRoundTrip = %s, %v, restamped %d times", back, err, stamped)
	}
	var numErr *strconv.NumError
	if _, err := c.Restamp([]byte("z")); !errors.As(err, &numErr) {
		t.Fatalf("Restamp of a bad op: %v; want the parse error", err)
	}
}
