package tree

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func mustOp(t testing.TB, s string) Op {
	t.Helper()
	op, err := ParseOp([]byte(s))
	if err != nil {
		t.Fatalf("ParseOp(%s): %v", s, err)
	}
	return op
}

func docOf(t testing.TB, ops ...string) *Doc {
	t.Helper()
	d := NewDoc()
	for _, s := range ops {
		if err := d.Apply(mustOp(t, s)); err != nil {
			t.Fatalf("apply %s: %v", s, err)
		}
	}
	return d
}

func create(id, parent, key string, ts int, peer string) string {
	return fmt.Sprintf(`{"op":"create","id":%q,"parent":%q,"key":%q,"ts":%d,"peer":%q}`, id, parent, key, ts, peer)
}

func move(id, parent, key string, ts int, peer string) string {
	return fmt.Sprintf(`{"op":"move","id":%q,"parent":%q,"key":%q,"ts":%d,"peer":%q}`, id, parent, key, ts, peer)
}

func del(id string, ts int, peer string) string {
	return fmt.Sprintf(`{"op":"delete","id":%q,"ts":%d,"peer":%q}`, id, ts, peer)
}

// outline renders the live tree as "id(child,child(...))", children in order.
func outline(d *Doc) string {
	t := d.Tree()
	var b strings.Builder
	var walk func(id string)
	walk = func(id string) {
		b.WriteString(id)
		if c := t[id].Children; len(c) > 0 {
			b.WriteByte('(')
			for i, k := range c {
				if i > 0 {
					b.WriteByte(',')
				}
				walk(k)
			}
			b.WriteByte(')')
		}
	}
	walk(Root)
	return b.String()
}

// permutations returns every order of ops (len(ops) <= 5).
func permutations(ops []string) [][]string {
	if len(ops) <= 1 {
		return [][]string{slices.Clone(ops)}
	}
	var out [][]string
	for i := range ops {
		rest := slices.Concat(ops[:i], ops[i+1:])
		for _, p := range permutations(rest) {
			out = append(out, append([]string{ops[i]}, p...))
		}
	}
	return out
}

func TestSemantics(t *testing.T) {
	base := []string{create("a", "root", "m", 1, "p"), create("b", "root", "n", 2, "p"), create("c", "a", "m", 3, "p")}
	for _, c := range []struct {
		name string
		ops  []string
		want string
	}{
		{"siblings by key then id", []string{create("x", "root", "b", 1, "p"), create("y", "root", "a", 2, "p"), create("w", "root", "b", 3, "q")},
			"root(y,w,x)"},
		// Kleppmann's example: concurrently a under b and b under a; the later move would make a
		// cycle and is skipped.
		{"concurrent moves into each other", slices.Concat(base, []string{move("a", "b", "m", 10, "ann"), move("b", "a", "m", 10, "bob")}),
			"root(b(a(c)))"},
		{"concurrent moves of one node: the later wins", slices.Concat(base, []string{move("c", "b", "x", 11, "ann"), move("c", "root", "a", 10, "bob")}),
			"root(a,b(c))"},
		{"a child moved out of a deleted subtree survives (move later)", slices.Concat(base, []string{del("a", 10, "ann"), move("c", "b", "m", 11, "bob")}),
			"root(b(c))"},
		{"a child moved out of a deleted subtree survives (move earlier)", slices.Concat(base, []string{del("a", 11, "ann"), move("c", "b", "m", 10, "bob")}),
			"root(b(c))"},
		{"a move into a deleted node is skipped", slices.Concat(base, []string{del("a", 10, "ann"), move("b", "c", "m", 11, "bob")}),
			"root(b)"},
		{"a move into a node deleted later is hidden with it", slices.Concat(base, []string{del("a", 11, "ann"), move("b", "c", "m", 10, "bob")}),
			"root"},
		{"a later move brings a deleted node back, with its subtree", slices.Concat(base, []string{del("a", 10, "ann"), move("a", "b", "m", 11, "bob")}),
			"root(b(a(c)))"},
		{"a create stamped before its parent's waits for it", []string{create("kid", "p", "m", 1, "x"), create("p", "root", "m", 2, "y")},
			"root(p(kid))"},
		{"a move stamped before the node's create is skipped", []string{move("n", "root", "z", 1, "x"), create("n", "root", "a", 2, "y"), create("o", "root", "b", 3, "y")},
			"root(n,o)"},
		{"a create that would make a cycle is skipped", []string{create("a", "b", "m", 1, "x"), create("b", "a", "m", 2, "y")},
			"root"},
		{"a second create of an id moves it", slices.Concat(base, []string{create("a", "b", "m", 10, "q")}),
			"root(b(a(c)))"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := len(c.ops)
			tail := c.ops[max(0, n-3):] // every order of the last ops (at most 3)
			head := c.ops[:n-len(tail)]
			var want string
			for _, p := range permutations(tail) {
				d := docOf(t, slices.Concat(head, p)...)
				if got := outline(d); got != c.want {
					t.Fatalf("order %q: %s; want %s", p, got, c.want)
				}
				s := string(d.AppendSnapshot(nil))
				if want == "" {
					want = s
				} else if s != want {
					t.Fatalf("order %q: snapshot\n%s\nwant\n%s", p, s, want)
				}
			}
		})
	}
}

func TestPayload(t *testing.T) {
	ops := []string{
		`{"op":"create","id":"a","parent":"root","key":"m","payload":{"t":"first"},"ts":1,"peer":"p"}`,
		`{"op":"update","id":"a","payload":{"t":"old"},"ts":0,"peer":"q"}`,
		`{"op":"update","id":"a","payload":{ "t" : "new" },"ts":5,"peer":"q"}`,
		`{"op":"update","id":"a","payload":"tie-loser","ts":5,"peer":"a"}`,
		`{"op":"update","id":"ghost","payload":1,"ts":5,"peer":"a"}`,
	}
	for _, p := range permutations(ops[1:]) {
		d := docOf(t, append([]string{ops[0]}, p...)...)
		tr := d.Tree()
		if got := string(tr["a"].Payload); got != `{"t":"new"}` {
			t.Fatalf("order %q: payload %s", p, got)
		}
		if _, ok := tr["ghost"]; ok {
			t.Fatalf("an update does not create a node")
		}
	}
	// The ghost's payload waits for its create.
	d := docOf(t, ops[4], create("ghost", "root", "a", 1, "x"))
	if got := string(d.Tree()["ghost"].Payload); got != "1" {
		t.Fatalf("ghost payload %s", got)
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	ops := []string{create("a", "root", "m", 1, "p"), create("b", "root", "n", 2, "p"), move("a", "b", "m", 3, "p"), del("b", 4, "q")}
	d := docOf(t, ops...)
	want := string(d.AppendSnapshot(nil))
	for _, o := range ops {
		if err := d.Apply(mustOp(t, o)); err != nil {
			t.Fatal(err)
		}
	}
	if got := string(d.AppendSnapshot(nil)); got != want {
		t.Fatalf("redelivery changed the document:\n%s\n%s", got, want)
	}
}

func TestHorizon(t *testing.T) {
	d := NewDoc()
	d.maxLog = 3
	for i := range 5 {
		if err := d.Apply(mustOp(t, create(fmt.Sprint("n", i), "root", "m", 10+i, "p"))); err != nil {
			t.Fatal(err)
		}
	}
	if len(d.log) != 3 || d.horizon == nil || d.horizon.TS != 11 {
		t.Fatalf("log %d, horizon %+v", len(d.log), d.horizon)
	}
	before := string(d.AppendSnapshot(nil))
	for _, o := range []string{move("n4", "n0", "m", 11, "p"), del("n4", 5, "q")} {
		if err := d.Apply(mustOp(t, o)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("op %s older than the horizon: %v", o, err)
		}
	}
	// Payload updates are not logged: any stamp is fine.
	if err := d.Apply(mustOp(t, `{"op":"update","id":"n0","payload":1,"ts":1,"peer":"q"}`)); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(mustOp(t, move("n4", "n0", "m", 15, "q"))); err != nil {
		t.Fatal(err)
	}
	if got := outline(d); got != "root(n0(n4),n1,n2,n3)" {
		t.Fatalf("tree %s", got)
	}
	after := string(d.AppendSnapshot(nil))
	if after == before {
		t.Fatal("nothing changed")
	}
	d2, err := parseSnapshot([]byte(after), 3)
	if err != nil || string(d2.AppendSnapshot(nil)) != after {
		t.Fatalf("reload: %v", err)
	}
	if err := d2.Apply(mustOp(t, move("n3", "n4", "m", 11, "q"))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("reloaded horizon: %v", err)
	}
	// The keys of a snapshot may come in any order.
	i, j := strings.Index(after, `,"log":`), strings.Index(after, `,"horizon":`)
	reordered := `{"horizon":` + after[j+len(`,"horizon":`):len(after)-1] + `,"log":` + after[i+len(`,"log":`):j] + `,"nodes":` + after[len(`{"nodes":`):i] + `}`
	if d3, err := parseSnapshot([]byte(reordered), 3); err != nil || string(d3.AppendSnapshot(nil)) != after {
		t.Fatalf("reordered snapshot %s: %v", reordered, err)
	}
}

func TestLimits(t *testing.T) {
	d := NewDoc()
	for i := range MaxNodes {
		if err := d.Apply(mustOp(t, create(fmt.Sprint(i), "root", "m", i, "p"))); err != nil {
			t.Fatal(err)
		}
	}
	before := string(d.AppendSnapshot(nil))
	if err := d.Apply(mustOp(t, create("one-more", "root", "m", 1, "p"))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("node %d: %v", MaxNodes+1, err)
	}
	if err := d.Apply(mustOp(t, `{"op":"update","id":"one-more","payload":1,"ts":1,"peer":"p"}`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("payload of node %d: %v", MaxNodes+1, err)
	}
	if got := string(d.AppendSnapshot(nil)); got != before {
		t.Fatal("a refused op changed the document")
	}
	big := `"` + strings.Repeat("x", MaxPayloadBytes-2) + `"`
	d = NewDoc()
	var err error
	for i := 0; err == nil; i++ {
		err = d.Apply(mustOp(t, fmt.Sprintf(`{"op":"update","id":"n%d","payload":%s,"ts":1,"peer":"p"}`, i, big)))
		if err == nil && d.payloadBytes > MaxTotalPayloadBytes {
			t.Fatalf("payloads at %d bytes", d.payloadBytes)
		}
	}
	if !errors.Is(err, ErrInvalid) || d.payloadBytes+MaxPayloadBytes <= MaxTotalPayloadBytes {
		t.Fatalf("payload limit: %v at %d bytes", err, d.payloadBytes)
	}
}

// TestLimitsBoundTheSnapshot builds the largest document the limits allow (longest ids, keys
// and peers everywhere, every node with a payload register, a full log of moves that all
// record a previous position) and checks that its snapshot fits the host's 16 MiB output bound
// and reloads.
func TestLimitsBoundTheSnapshot(t *testing.T) {
	long := func(prefix string, i, n int) string {
		s := fmt.Sprintf("%s%d-", prefix, i)
		return s + strings.Repeat("x", n-len(s))
	}
	peer := strings.Repeat("p", MaxPeerBytes)
	payload := `"` + strings.Repeat("\\u0000", (MaxTotalPayloadBytes/MaxNodes-2)/6) + `"`
	d := NewDoc()
	ts := 0
	apply := func(s string) {
		t.Helper()
		ts++
		if err := d.Apply(mustOp(t, s)); err != nil {
			t.Fatalf("op %d: %v", ts, err)
		}
	}
	for i := range MaxNodes {
		parent := long("n", i-1, MaxIDBytes) // a child of the previous node: the longest parent ids
		if i%100 == 0 {
			parent = Root // chains of 100, so the test stays fast
		}
		apply(fmt.Sprintf(`{"op":"create","id":%q,"parent":%q,"key":%q,"payload":%s,"ts":%d,"peer":%q}`,
			long("n", i, MaxIDBytes), parent, long("k", i, MaxKeyBytes), payload, ts, peer))
	}
	for i := range MaxLog {
		n := d.nodes[long("n", i, MaxIDBytes)]
		apply(fmt.Sprintf(`{"op":"move","id":%q,"parent":%q,"key":%q,"ts":%d,"peer":%q}`,
			long("n", i, MaxIDBytes), n.parent, long("j", i, MaxKeyBytes), ts, peer))
	}
	snap := d.AppendSnapshot(nil)
	t.Logf("largest snapshot: %d bytes (%d nodes, %d log entries, %d payload bytes)", len(snap), len(d.nodes), len(d.log), d.payloadBytes)
	if len(snap) >= 16<<20 {
		t.Fatalf("snapshot of %d bytes exceeds the 16 MiB output bound", len(snap))
	}
	if d.payloadBytes < MaxTotalPayloadBytes*99/100 || len(d.log) != MaxLog {
		t.Fatalf("not the largest document: %d payload bytes, %d log entries", d.payloadBytes, len(d.log))
	}
	if _, err := ParseSnapshot(snap); err != nil {
		t.Fatal(err)
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `{"op":"create"}`,
		`{"op":"create","id":"a","parent":"root","key":"m","ts":1}`,
		`{"op":"create","id":"a","parent":"root","key":"m","peer":"p"}`,
		`{"op":"create","id":"a","parent":"root","key":"m","ts":-1,"peer":"p"}`,
		`{"op":"create","id":"a","parent":"root","key":"m","ts":1.5,"peer":"p"}`,
		`{"op":"create","id":"a","parent":"root","key":"m","ts":1,"peer":""}`,
		`{"op":"create","id":"a","parent":"root","ts":1,"peer":"p"}`,
		`{"op":"create","id":"a","key":"m","ts":1,"peer":"p"}`,
		`{"op":"create","id":"a","parent":"a","key":"m","ts":1,"peer":"p"}`,
		`{"op":"create","id":"root","parent":"a","key":"m","ts":1,"peer":"p"}`,
		`{"op":"create","id":"","parent":"root","key":"m","ts":1,"peer":"p"}`,
		`{"op":"create","id":1,"parent":"root","key":"m","ts":1,"peer":"p"}`,
		`{"op":"create","id":"a","parent":"root","key":"","ts":1,"peer":"p"}`,
		`{"op":"create","id":"a","parent":"root","key":"m","ts":1,"peer":"p","x":1}`,
		`{"op":"create","id":"a","parent":"root","key":"m","payload":{,},"ts":1,"peer":"p"}`,
		`{"op":"move","id":"a","parent":"root","key":"m","payload":1,"ts":1,"peer":"p"}`,
		`{"op":"delete","id":"a","parent":"root","ts":1,"peer":"p"}`,
		`{"op":"delete","id":"a","payload":1,"ts":1,"peer":"p"}`,
		`{"op":"update","id":"a","ts":1,"peer":"p"}`,
		`{"op":"rename","id":"a","ts":1,"peer":"p"}`,
		`{"op":"delete","id":"root","ts":1,"peer":"p"}`,
		`{"op":"delete","id":"` + strings.Repeat("x", MaxIDBytes+1) + `","ts":1,"peer":"p"}`,
		`{"op":"update","id":"a","payload":"` + strings.Repeat("x", MaxPayloadBytes) + `","ts":1,"peer":"p"}`,
		"{\"op\":\"delete\",\"id\":\"\xff\",\"ts\":1,\"peer\":\"p\"}",
		`{"op":"delete","id":"a\"b","ts":1,"peer":"p"}`,
		`{"op":"delete","id":"a\\b","ts":1,"peer":"p"}`,
		`{"op":"delete","id":"a\u0007","ts":1,"peer":"p"}`,
		`{"op":"move","id":"a","parent":"root","key":"m\n","ts":1,"peer":"p"}`,
		`{"op":"delete","id":"a","ts":1,"peer":"p\"q"}`,
	} {
		if _, err := ParseOp([]byte(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseOp(%.80q) = %v; want ErrInvalid", s, err)
		}
	}
	for _, s := range []string{
		``, `{}`, `{"nodes":[]}`, `{"nodes":{},"log":[]}`,
		`{"nodes":[{"id":"a"}],"log":[]}`,
		`{"nodes":[{"id":"a","parent":"b","key":"m"},{"id":"b","parent":"a","key":"m"}],"log":[]}`,
		`{"nodes":[{"id":"a","parent":"root","key":"m"},{"id":"a","parent":"root","key":"m"}],"log":[]}`,
		`{"nodes":[{"id":"a","parent":"root"}],"log":[]}`,
		`{"nodes":[{"id":"a","payload":1}],"log":[]}`,
		`{"nodes":[],"log":[{"op":{"op":"update","id":"a","payload":1,"ts":1,"peer":"p"}}]}`,
		`{"nodes":[],"log":[{"op":{"op":"create","id":"a","parent":"root","key":"m","payload":1,"ts":1,"peer":"p"}}]}`,
		`{"nodes":[],"log":[{"op":` + create("a", "root", "m", 2, "p") + `},{"op":` + create("b", "root", "m", 1, "p") + `}]}`,
		`{"nodes":[],"log":[{"op":` + create("a", "root", "m", 2, "p") + `}],"horizon":{"ts":2,"peer":"q"}}`,
		`{"nodes":[],"log":[{"op":` + create("a", "root", "m", 2, "p") + `,"skip":true,"prev":{"parent":"root","key":"m"}}]}`,
	} {
		if _, err := ParseSnapshot([]byte(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSnapshot(%q) = %v; want ErrInvalid", s, err)
		}
	}
}
