package table

import (
	"testing"

	"github.com/opstream/opstream/pluginsdk/doctype"
)

func TestInverse(t *testing.T) {
	t.Parallel()
	base := docOf(t, insCol("c1", "a", 1, "p"), insCol("c2", "b", 1, "p"), insRow("r1", "a", 1, "p"), insRow("r2", "b", 1, "p"),
		set("r1", "c1", `"a"`, 2, "p"))
	snap := base.AppendSnapshot(nil)
	for _, tc := range []struct{ name, op, want, grid string }{
		{"set a cell", set("r1", "c1", `"b"`, 10, "q"), set("r1", "c1", `"a"`, 10, "q"), render(base)},
		{"set an empty cell", set("r2", "c2", `"x"`, 10, "q"), set("r2", "c2", `null`, 10, "q"), `|c1,c2|r1:"a",-|r2:-,null`},
		{"insert a row", insRow("r3", "c", 10, "q"), `{"op":"delete_row","id":"r3","ts":10,"peer":"q"}`, render(base)},
		{"move a column", insCol("c1", "z", 10, "q"), insCol("c1", "a", 10, "q"), render(base)},
		{"a delete is permanent", `{"op":"delete_row","id":"r2","ts":10,"peer":"q"}`, `{"op":"delete_row","id":"r2","ts":10,"peer":"q"}`, `|c1,c2|r1:"a",-`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ty := NewType(func() (int64, string) { return 11, "q" })
			inv, _, back, err := doctype.UndoRoundTrip(ty, snap, []byte(tc.op))
			if err != nil || string(inv) != tc.want {
				t.Fatalf("inverse %s, %v; want %s", inv, err, tc.want)
			}
			d, err := ParseSnapshot(back)
			if err != nil {
				t.Fatal(err)
			}
			if got := render(d); got != tc.grid {
				t.Fatalf("undo gives %s; want %s", got, tc.grid)
			}
		})
	}
}

func TestRebaseStep(t *testing.T) {
	t.Parallel()
	ty := NewType(nil)
	step := set("r1", "c1", `"a"`, 10, "q")
	for remote, kept := range map[string]bool{
		set("r1", "c1", `"z"`, 12, "p"):                    false,
		set("r1", "c1", `"z"`, 9, "p"):                     true, // older than the change undone
		set("r1", "c2", `"z"`, 12, "p"):                    true,
		`{"op":"delete_row","id":"r1","ts":12,"peer":"p"}`: false,
		insRow("r1", "q", 12, "p"):                         true,
	} {
		got, err := ty.RebaseStep([]byte(step), []byte(remote))
		if err != nil || (got != nil) != kept {
			t.Errorf("RebaseStep over %s = %s, %v; want kept %v", remote, got, err, kept)
		}
	}
	row := insRow("r1", "a", 10, "q")
	for remote, kept := range map[string]bool{
		insRow("r1", "q", 12, "p"):                         false,
		`{"op":"delete_row","id":"r1","ts":12,"peer":"p"}`: false,
		insCol("r1", "q", 12, "p"):                         true, // a column of the same id
		set("r1", "c1", `"z"`, 12, "p"):                    true,
	} {
		got, err := ty.RebaseStep([]byte(row), []byte(remote))
		if err != nil || (got != nil) != kept {
			t.Errorf("RebaseStep of %s over %s = %s, %v; want kept %v", row, remote, got, err, kept)
		}
	}
}
