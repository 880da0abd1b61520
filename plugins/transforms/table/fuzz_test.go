package table

import (
	"errors"
	"testing"
)

// FuzzTable: no op or snapshot panics and every error is ErrInvalid. A snapshot that loads
// reloads byte for byte; a valid op converges whether it comes first or last on a document,
// its snapshot reloads byte for byte, and applying it again changes nothing.
func FuzzTable(f *testing.F) {
	f.Add([]byte(`{"op":"insert_row","id":"r1","key":"a0","ts":5,"peer":"p1"}`))
	f.Add([]byte(`{"op":"insert_column","id":"c1","key":"a0","ts":5,"peer":"p1"}`))
	f.Add([]byte(`{"op":"set_cell","row":"r","col":"c","value":{"a":[1,"\u003c"]},"ts":9,"peer":"p3"}`))
	f.Add([]byte(`{"op":"delete_row","id":"r","ts":1,"peer":"p2"}`))
	f.Add([]byte(`{"op":"delete_column","id":"c","ts":1,"peer":"p2"}`))
	f.Add([]byte(`{"rows":[{"id":"r","key":"a","ts":1,"peer":"p"}],"columns":[{"id":"c","key":"a","ts":1,"peer":"p"}],` +
		`"deletedRows":["x"],"deletedColumns":[],"cells":[{"row":"r","col":"c","v":1,"ts":2,"peer":"p"}]}`))
	base := []string{
		`{"op":"insert_row","id":"r","key":"a","ts":3,"peer":"m"}`,
		`{"op":"insert_column","id":"c","key":"a","ts":3,"peer":"m"}`,
		`{"op":"set_cell","row":"r","col":"c","value":0,"ts":4,"peer":"m"}`,
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := ParseSnapshot(b); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseSnapshot: %v", err)
			}
		} else {
			s := d.AppendSnapshot(nil)
			d2, err := ParseSnapshot(s)
			if err != nil || string(d2.AppendSnapshot(nil)) != string(s) {
				t.Fatalf("snapshot %s does not reload: %v", s, err)
			}
		}
		op, err := ParseOp(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseOp: %v", err)
			}
			return
		}
		first := NewDoc()
		if err := first.Apply(op); err != nil {
			t.Fatal(err)
		}
		last := docOf(t, base...)
		for _, s := range base {
			if err := first.Apply(mustOp(t, s)); err != nil {
				t.Fatal(err)
			}
		}
		if err := last.Apply(op); err != nil {
			t.Fatal(err)
		}
		s := last.AppendSnapshot(nil)
		if got := first.AppendSnapshot(nil); string(got) != string(s) {
			t.Fatalf("order matters:\n%s\n%s", got, s)
		}
		d2, err := ParseSnapshot(s)
		if err != nil || string(d2.AppendSnapshot(nil)) != string(s) {
			t.Fatalf("snapshot %s does not reload: %v", s, err)
		}
		if err := d2.Apply(op); err != nil || string(d2.AppendSnapshot(nil)) != string(s) {
			t.Fatalf("apply is not idempotent: %v", err)
		}
	})
}
