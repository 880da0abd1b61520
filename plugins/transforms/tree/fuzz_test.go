package tree

import (
	"errors"
	"testing"
)

// FuzzTree: no op or snapshot panics and every error is ErrInvalid. A snapshot that loads
// reloads byte for byte and survives a late op (undo-do-redo over whatever log it holds). A
// valid op applied to a document converges whether it comes first or last, its snapshot
// reloads byte for byte, and applying it again changes nothing.
func FuzzTree(f *testing.F) {
	f.Add([]byte(`{"op":"create","id":"n1","parent":"root","key":"a0","payload":{"title":"x"},"ts":5,"peer":"p1"}`))
	f.Add([]byte(`{"op":"move","id":"a","parent":"b","key":"a1","ts":2,"peer":"p2"}`))
	f.Add([]byte(`{"op":"delete","id":"b","ts":1,"peer":"p2"}`))
	f.Add([]byte(`{"op":"update","id":"a","payload":[1,"\u003c"],"ts":9,"peer":"p3"}`))
	f.Add([]byte(`{"nodes":[{"id":"a","parent":"root","key":"m","live":true,"payload":1,"pts":1,"ppeer":"p"},{"id":"b","parent":"a","key":"m","deleted":true,"live":false}],` +
		`"log":[{"op":{"op":"create","id":"a","parent":"root","key":"m","ts":1,"peer":"p"}},{"op":{"op":"move","id":"b","parent":"a","key":"m","ts":3,"peer":"p"},"prev":{"parent":"root","key":"z"}},` +
		`{"op":{"op":"delete","id":"b","ts":4,"peer":"q"}}],"horizon":{"ts":0,"peer":"p"}}`))
	base := []string{
		`{"op":"create","id":"a","parent":"root","key":"m","ts":3,"peer":"m"}`,
		`{"op":"create","id":"b","parent":"a","key":"m","ts":4,"peer":"m"}`,
		`{"op":"move","id":"a","parent":"b","key":"m","ts":6,"peer":"m"}`,
	}
	late := mustOp(f, `{"op":"move","id":"b","parent":"root","key":"n","ts":2,"peer":"z"}`)
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
			if err := d.Apply(late); err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("late op on a loaded snapshot: %v", err)
			}
			_ = d.AppendSnapshot(nil)
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
