package jsoncrdt

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/opstream/opstream/pluginsdk/doctype"
)

func TestInverse(t *testing.T) {
	t.Parallel()
	const doc = `{"registers":[{"path":["a"],"v":{"x":1},"ts":1,"peer":"p"},{"path":["s"],"v":5,"ts":1,"peer":"p"}],"value":{}}`
	for _, tc := range []struct{ name, op, want string }{
		{"set over a value", `{"set":[["a","x"],2],"ts":5,"peer":"q"}`, `{"set":[["a","x"],1],"ts":5,"peer":"q"}`},
		{"set of a new key", `{"set":[["a","y"],2],"ts":5,"peer":"q"}`, `{"del":["a","y"],"ts":5,"peer":"q"}`},
		{"delete of a subtree", `{"del":["a"],"ts":5,"peer":"q"}`, `{"set":[["a"],{"x":1}],"ts":5,"peer":"q"}`},
		{"set under a scalar", `{"set":[["s","k"],1],"ts":5,"peer":"q"}`, `{"set":[["s"],5],"ts":5,"peer":"q"}`},
		{"set under a missing parent", `{"set":[["n","k"],1],"ts":5,"peer":"q"}`, `{"del":["n"],"ts":5,"peer":"q"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ty := NewType(func() (int64, string) { return 6, "q" })
			inv, _, back, err := doctype.UndoRoundTrip(ty, []byte(doc), []byte(tc.op))
			if err != nil || string(inv) != tc.want {
				t.Fatalf("inverse %s, %v; want %s", inv, err, tc.want)
			}
			if v0, v1 := value(t, doc), value(t, string(back)); !reflect.DeepEqual(v0, v1) {
				t.Fatalf("undo gives the value %v; want %v", v1, v0)
			}
		})
	}
}

func value(t *testing.T, snapshot string) any {
	t.Helper()
	d, err := ParseSnapshot([]byte(snapshot))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(d.Materialize())
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}

func TestRebaseStep(t *testing.T) {
	t.Parallel()
	step := []byte(`{"set":[["a","x"],1],"ts":5,"peer":"q"}`)
	for remote, kept := range map[string]bool{
		`{"set":[["a","x"],9],"ts":7,"peer":"p"}`:     false,
		`{"del":["a"],"ts":7,"peer":"p"}`:             false,
		`{"set":[["a","x","z"],9],"ts":7,"peer":"p"}`: false,
		`{"set":[["a","y"],9],"ts":7,"peer":"p"}`:     true,
		`{"set":[["b"],9],"ts":7,"peer":"p"}`:         true,
		`{"set":[["a","x"],9],"ts":3,"peer":"p"}`:     true, // older than the change undone
	} {
		got, err := NewType(nil).RebaseStep(step, []byte(remote))
		if err != nil || (got != nil) != kept {
			t.Errorf("RebaseStep over %s = %s, %v; want kept %v", remote, got, err, kept)
		}
	}
}
