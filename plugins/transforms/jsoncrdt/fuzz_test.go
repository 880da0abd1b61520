package jsoncrdt

import (
	"errors"
	"testing"
)

// FuzzJSON: no op or snapshot panics; errors are ErrInvalid; a valid op applied to a document
// gives a snapshot that reloads byte for byte, and applying it again changes nothing.
func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"set":[["a","b"],{"c":1}],"ts":5,"peer":"p1"}`))
	f.Add([]byte(`{"del":["a"],"ts":6,"peer":"p2"}`))
	f.Add([]byte(`{"registers":[{"path":["a"],"del":true,"ts":3,"peer":"p1"},{"path":["a","z"],"v":5,"ts":4,"peer":"p3"}],"value":{}}`))
	f.Add([]byte(`{"set":[["a"],"\u003c\ud800"],"ts":1,"peer":"p"}`))
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
		d := NewDoc()
		if err := d.Apply(mustOp(t, `{"set":[["a"],{"b":0}],"ts":3,"peer":"m"}`)); err != nil {
			t.Fatal(err)
		}
		if err := d.Apply(op); err != nil {
			t.Fatal(err)
		}
		s := d.AppendSnapshot(nil)
		d2, err := ParseSnapshot(s)
		if err != nil || string(d2.AppendSnapshot(nil)) != string(s) {
			t.Fatalf("snapshot %s does not reload: %v", s, err)
		}
		if err := d2.Apply(op); err != nil || string(d2.AppendSnapshot(nil)) != string(s) {
			t.Fatalf("apply is not idempotent: %v", err)
		}
	})
}
