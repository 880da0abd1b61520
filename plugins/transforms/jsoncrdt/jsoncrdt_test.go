package jsoncrdt

import (
	"errors"
	"fmt"
	"math/rand/v2"
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

func snapshotOf(t testing.TB, ops ...string) string {
	t.Helper()
	d := NewDoc()
	for _, s := range ops {
		if err := d.Apply(mustOp(t, s)); err != nil {
			t.Fatal(err)
		}
	}
	return string(d.AppendSnapshot(nil))
}

func TestMaterialize(t *testing.T) {
	for _, c := range []struct {
		ops  []string
		want string // the materialized value
	}{
		{[]string{`{"set":[["a","b"],1],"ts":1,"peer":"p"}`}, `{"a":{"b":1}}`},
		// a set under a deleted parent: newer recreates the parent, older is dropped
		{[]string{`{"del":["a"],"ts":2,"peer":"p"}`, `{"set":[["a","b"],1],"ts":3,"peer":"q"}`}, `{"a":{"b":1}}`},
		{[]string{`{"del":["a"],"ts":2,"peer":"p"}`, `{"set":[["a","b"],1],"ts":1,"peer":"q"}`}, `{}`},
		// a newer set below a set object merges; a newer ancestor set replaces
		{[]string{`{"set":[["a"],{"x":1}],"ts":1,"peer":"p"}`, `{"set":[["a","y"],2],"ts":2,"peer":"p"}`}, `{"a":{"x":1,"y":2}}`},
		{[]string{`{"set":[["a","y"],2],"ts":1,"peer":"p"}`, `{"set":[["a"],{"x":1}],"ts":2,"peer":"p"}`}, `{"a":{"x":1}}`},
		// a newer set below a scalar turns it into an object
		{[]string{`{"set":[["a"],5],"ts":1,"peer":"p"}`, `{"set":[["a","b"],1.50],"ts":2,"peer":"p"}`}, `{"a":{"b":1.50}}`},
		// LWW at one path, peer breaks ts ties
		{[]string{`{"set":[["k"],"b"],"ts":1,"peer":"b"}`, `{"set":[["k"],"a"],"ts":1,"peer":"a"}`}, `{"k":"b"}`},
	} {
		for _, ops := range [][]string{c.ops, {c.ops[1%len(c.ops)], c.ops[0]}} {
			s := snapshotOf(t, ops...)
			if !strings.HasSuffix(s, `"value":`+c.want+`}`) {
				t.Errorf("%q: snapshot %s; want value %s", ops, s, c.want)
			}
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{
		``, `null`, `{}`, `{"set":[["a"],1]}`, `{"set":[["a"],1],"ts":"1","peer":"p"}`,
		`{"set":[["a"],1],"ts":1,"peer":""}`, `{"set":[["a"]],"ts":1,"peer":"p"}`,
		`{"set":[[],1],"ts":1,"peer":"p"}`, `{"set":[["a",1],1],"ts":1,"peer":"p"}`,
		`{"set":[["a"],1],"del":["a"],"ts":1,"peer":"p"}`, `{"del":"a","ts":1,"peer":"p"}`,
		`{"del":null,"ts":1,"peer":"p"}`, `{"set":[["a"],1,2],"ts":1,"peer":"p"}`,
		`{"set":[["a"],1],"ts":1,"peer":"p","q":0}`, `{"set":[["a"],1],"ts":-5,"peer":"p"}`,
		`{"del":["` + strings.Repeat("x", MaxKeyBytes+1) + `"],"ts":1,"peer":"p"}`,
		`{"del":[` + strings.Repeat(`"a",`, MaxDepth) + `"a"],"ts":1,"peer":"p"}`,
	} {
		if _, err := ParseOp([]byte(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseOp(%q) = %v; want ErrInvalid", s, err)
		}
	}
	for _, s := range []string{``, `{}`, `{"registers":{}}`, `{"registers":[{"path":["a"],"ts":1,"peer":"p"}]}`,
		`{"registers":[{"path":["a"],"v":1,"ts":1,"peer":"p"},{"path":["a"],"v":2,"ts":1,"peer":"p"}]}`} {
		if _, err := ParseSnapshot([]byte(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSnapshot(%q) = %v; want ErrInvalid", s, err)
		}
	}
}

func randomOps(r *rand.Rand, n int) []string {
	keys := []string{"a", "b", "c"}
	vals := []string{`1`, `"x"`, `null`, `{"a":{"b":[1]}}`, `{"c":2}`, `[1,{"a":1}]`, `"<&>"`}
	peers := []string{"p1", "p2", "p3"}
	var ops []string
	for range n {
		path := make([]string, 1+r.IntN(3))
		for i := range path {
			path[i] = fmt.Sprintf("%q", keys[r.IntN(len(keys))])
		}
		p := "[" + strings.Join(path, ",") + "]"
		stamp := fmt.Sprintf(`"ts":%d,"peer":%q`, r.IntN(8), peers[r.IntN(len(peers))])
		if r.IntN(3) == 0 {
			ops = append(ops, `{"del":`+p+`,`+stamp+`}`)
		} else {
			ops = append(ops, `{"set":[`+p+`,`+vals[r.IntN(len(vals))]+`],`+stamp+`}`)
		}
	}
	return ops
}

// TestConvergence: three peers apply the same ops in different random orders, with
// duplicates, and end with byte-identical snapshots (one of them reloads its snapshot midway).
func TestConvergence(t *testing.T) {
	for seed := range uint64(500) {
		r := rand.New(rand.NewPCG(seed, 2))
		ops := randomOps(r, 1+r.IntN(25))
		var snaps []string
		for peer := range 3 {
			order := append([]string(nil), ops...)
			for range r.IntN(5) {
				order = append(order, ops[r.IntN(len(ops))])
			}
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			d := NewDoc()
			for i, o := range order {
				if err := d.Apply(mustOp(t, o)); err != nil {
					t.Fatal(err)
				}
				if peer == 1 && i == len(order)/2 {
					var err error
					if d, err = ParseSnapshot(d.AppendSnapshot(nil)); err != nil {
						t.Fatal(err)
					}
				}
			}
			snaps = append(snaps, string(d.AppendSnapshot(nil)))
		}
		if snaps[0] != snaps[1] || snaps[1] != snaps[2] {
			t.Fatalf("seed %d: diverged\n%s\n%s\n%s\nops %q", seed, snaps[0], snaps[1], snaps[2], ops)
		}
	}
}
