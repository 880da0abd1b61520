package form

import (
	"testing"

	"github.com/opstream/opstream/pluginsdk/doctype"
)

func TestInverse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc, op, want string
	}{
		{"set over a value", `{"fields":{"a":{"v":1,"ts":1,"peer":"p"}}}`, `{"set":{"a":2},"ts":5,"peer":"q"}`, `{"set":{"a":1},"ts":5,"peer":"q"}`},
		{"set of a new field", `{"fields":{}}`, `{"set":{"a":2,"b":3},"ts":5,"peer":"q"}`, `{"del":["a","b"],"ts":5,"peer":"q"}`},
		{"delete", `{"fields":{"a":{"v":"x","ts":1,"peer":"p"}}}`, `{"del":["a"],"ts":5,"peer":"q"}`, `{"set":{"a":"x"},"ts":5,"peer":"q"}`},
		{"set over a tombstone", `{"fields":{"a":{"del":true,"ts":1,"peer":"p"}}}`, `{"set":{"a":1},"ts":5,"peer":"q"}`, `{"del":["a"],"ts":5,"peer":"q"}`},
		{"a losing op inverts to itself", `{"fields":{"a":{"v":1,"ts":9,"peer":"p"}}}`, `{"set":{"a":2},"ts":5,"peer":"q"}`, `{"set":{"a":2},"ts":5,"peer":"q"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ty := NewType(func() (int64, string) { return 6, "q" })
			inv, _, back, err := doctype.UndoRoundTrip(ty, []byte(tc.doc), []byte(tc.op))
			if err != nil || string(inv) != tc.want {
				t.Fatalf("inverse %s, %v; want %s", inv, err, tc.want)
			}
			d0, _ := ParseSnapshot([]byte(tc.doc))
			d1, _ := ParseSnapshot(back)
			if v0, v1 := d0.Values(), d1.Values(); len(v0) != len(v1) {
				t.Fatalf("undo gives %s; want the values of %s", back, tc.doc)
			} else {
				for k, v := range v0 {
					if string(v1[k]) != string(v) {
						t.Fatalf("undo gives %s; want the values of %s", back, tc.doc)
					}
				}
			}
		})
	}
}

func TestRebaseStepDropsFieldsOthersWrote(t *testing.T) {
	t.Parallel()
	step := `{"set":{"a":1,"b":2},"del":["c"],"ts":5,"peer":"q"}`
	ty := NewType(func() (int64, string) { return 6, "q" })
	got, err := ty.RebaseStep([]byte(step), []byte(`{"set":{"a":9},"del":["c"],"ts":7,"peer":"p"}`))
	if want := `{"set":{"b":2},"ts":5,"peer":"q"}`; err != nil || string(got) != want {
		t.Fatalf("RebaseStep = %s, %v; want %s", got, err, want)
	}
	got, err = ty.RebaseStep([]byte(`{"set":{"a":1},"ts":5,"peer":"q"}`), []byte(`{"del":["a"],"ts":7,"peer":"p"}`))
	if err != nil || got != nil {
		t.Fatalf("RebaseStep of an overwritten step = %s, %v; want nil", got, err)
	}
	got, err = ty.RebaseStep([]byte(step), []byte(`{"set":{"a":9},"ts":3,"peer":"p"}`))
	if err != nil || string(got) != step {
		t.Fatalf("RebaseStep over an older op = %s, %v; want the step as it was", got, err)
	}
	if got, err := ty.Restamp([]byte(step)); err != nil || string(got) != `{"set":{"a":1,"b":2},"del":["c"],"ts":6,"peer":"q"}` {
		t.Fatalf("Restamp = %s, %v", got, err)
	}
}
