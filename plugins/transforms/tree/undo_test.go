package tree

import (
	"testing"

	"github.com/opstream/opstream/pluginsdk/doctype"
)

func TestInverse(t *testing.T) {
	t.Parallel()
	base := docOf(t, create("n1", Root, "k1", 1, "p"), create("n2", Root, "k2", 2, "p"),
		`{"op":"create","id":"n3","parent":"n1","key":"k1","payload":{"t":1},"ts":3,"peer":"p"}`)
	snap, wantOutline := base.AppendSnapshot(nil), outline(base) // Tree is not safe for concurrent use
	for _, tc := range []struct{ name, op, want string }{
		{"move", move("n3", "n2", "k9", 10, "q"), move("n3", "n1", "k1", 10, "q")},
		{"delete", del("n2", 10, "q"), move("n2", Root, "k2", 10, "q")},
		{"create", create("n4", "n2", "k1", 10, "q"), del("n4", 10, "q")},
		{"update", `{"op":"update","id":"n3","payload":{"t":2},"ts":10,"peer":"q"}`, `{"op":"update","id":"n3","payload":{"t":1},"ts":10,"peer":"q"}`},
		{"create over a node", `{"op":"create","id":"n3","parent":"n2","key":"k5","payload":2,"ts":10,"peer":"q"}`, `{"op":"create","id":"n3","parent":"n1","key":"k1","payload":{"t":1},"ts":10,"peer":"q"}`},
		{"a cycle changes nothing", move("n1", "n3", "k1", 10, "q"), move("n1", "n3", "k1", 10, "q")},
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
			if outline(d) != wantOutline || string(d.Tree()["n3"].Payload) != `{"t":1}` {
				t.Fatalf("undo gives %s, n3 payload %s; want %s", outline(d), d.Tree()["n3"].Payload, wantOutline)
			}
		})
	}
}

func TestRebaseStep(t *testing.T) {
	t.Parallel()
	ty := NewType(nil)
	step := move("n3", "n1", "k1", 10, "q")
	for remote, kept := range map[string]bool{
		move("n3", Root, "k1", 12, "p"):                                        false,
		del("n3", 12, "p"):                                                     false,
		move("n3", Root, "k1", 9, "p"):                                         true, // older than the change undone
		`{"op":"update","id":"n3","payload":1,"ts":12,"peer":"p"}`:             true, // the payload, not the position
		move("n2", Root, "k1", 12, "p"):                                        true,
		`{"op":"create","id":"n3","parent":"n2","key":"a","ts":12,"peer":"p"}`: false,
	} {
		got, err := ty.RebaseStep([]byte(step), []byte(remote))
		if err != nil || (got != nil) != kept {
			t.Errorf("RebaseStep over %s = %s, %v; want kept %v", remote, got, err, kept)
		}
	}
	update := `{"op":"update","id":"n3","payload":1,"ts":10,"peer":"q"}`
	if got, err := ty.RebaseStep([]byte(update), []byte(`{"op":"update","id":"n3","payload":2,"ts":12,"peer":"p"}`)); err != nil || got != nil {
		t.Errorf("an update step over a newer update = %s, %v; want dropped", got, err)
	}
	if got, err := ty.RebaseStep([]byte(update), []byte(move("n3", Root, "k1", 12, "p"))); err != nil || got == nil {
		t.Errorf("an update step over a newer move = %s, %v; want kept", got, err)
	}
}
