package form

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
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

func TestApply(t *testing.T) {
	d := NewDoc()
	for _, s := range []string{
		`{"set":{"a":1,"b":"x"},"ts":5,"peer":"p1"}`,
		`{"set":{"a":2},"ts":4,"peer":"p2"}`, // older: loses
		`{"del":["b"],"ts":6,"peer":"p2"}`,
		`{"set":{"b":"late"},"ts":5,"peer":"p3"}`, // older than the delete: no resurrection
		`{"set":{"c":{"n":[1, 2]}},"ts":1,"peer":"p1"}`,
	} {
		if err := d.Apply(mustOp(t, s)); err != nil {
			t.Fatal(err)
		}
	}
	want := `{"fields":{"a":{"v":1,"ts":5,"peer":"p1"},"b":{"del":true,"ts":6,"peer":"p2"},"c":{"v":{"n":[1,2]},"ts":1,"peer":"p1"}}}`
	if got := string(d.AppendSnapshot(nil)); got != want {
		t.Fatalf("snapshot\n got %s\nwant %s", got, want)
	}
	d2, err := ParseSnapshot([]byte(want))
	if err != nil || string(d2.AppendSnapshot(nil)) != want {
		t.Fatalf("reload: %v %s", err, d2.AppendSnapshot(nil))
	}
}

func TestInvalid(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), MaxNameBytes+1))
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `{"set":{"a":1}}`, `{"set":{"a":1},"ts":1}`,
		`{"set":{"a":1},"ts":1.5,"peer":"p"}`, `{"set":{"a":1},"ts":-1,"peer":"p"}`,
		`{"set":{"a":1},"ts":1,"peer":""}`, `{"set":{"a":1},"ts":1,"peer":7}`,
		`{"set":null,"ts":1,"peer":"p"}`, `{"set":[1],"ts":1,"peer":"p"}`,
		`{"del":"a","ts":1,"peer":"p"}`, `{"del":[1],"ts":1,"peer":"p"}`,
		`{"set":{"":1},"ts":1,"peer":"p"}`, `{"set":{"` + long + `":1},"ts":1,"peer":"p"}`,
		`{"set":{"a":1},"del":["a"],"ts":1,"peer":"p"}`, `{"ts":1,"peer":"p"}`,
		`{"set":{"a":1},"ts":1,"peer":"p","x":1}`, `{"set":{"a":1},"ts":1,"peer":"p"} x`,
	} {
		if _, err := ParseOp([]byte(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseOp(%q) = %v; want ErrInvalid", s, err)
		}
	}
	for _, s := range []string{``, `{}`, `{"fields":[]}`, `{"fields":{"a":{"ts":1,"peer":"p"}}}`,
		`{"fields":{"a":{"v":1,"del":true,"ts":1,"peer":"p"}}}`, `{"fields":{"a":{"del":false,"ts":1,"peer":"p"}}}`} {
		if _, err := ParseSnapshot([]byte(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSnapshot(%q) = %v; want ErrInvalid", s, err)
		}
	}
	d := NewDoc()
	for i := range MaxFields {
		if err := d.Apply(mustOp(t, fmt.Sprintf(`{"set":{"f%d":1},"ts":1,"peer":"p"}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Apply(mustOp(t, `{"del":["new"],"ts":1,"peer":"p"}`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("over the field limit: %v", err)
	}
}

// randomOps makes n ops over a few fields, peers and timestamps, so stamps collide often
// (identical stamps included).
func randomOps(r *rand.Rand, n int) [][]byte {
	fields := []string{"a", "b", "c", "d", "e"}
	peers := []string{"p1", "p2", "p3"}
	vals := []string{`1`, `"x"`, `null`, `{"k":[true]}`, `2.5`, `"<&>"`}
	var ops [][]byte
	for range n {
		var b bytes.Buffer
		b.WriteString("{")
		used := map[string]bool{}
		if r.IntN(3) > 0 {
			b.WriteString(`"set":{`)
			for i := range 1 + r.IntN(3) {
				f := fields[r.IntN(len(fields))]
				used[f] = true
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, "%q:%s", f, vals[r.IntN(len(vals))])
			}
			b.WriteString("},")
		}
		var del []string
		for _, f := range fields {
			if !used[f] && r.IntN(6) == 0 {
				del = append(del, fmt.Sprintf("%q", f))
			}
		}
		if len(del) > 0 || len(used) == 0 {
			fmt.Fprintf(&b, `"del":[%s],`, bytes.Join(func() [][]byte {
				var o [][]byte
				for _, d := range del {
					o = append(o, []byte(d))
				}
				return o
			}(), []byte(",")))
		}
		fmt.Fprintf(&b, `"ts":%d,"peer":%q}`, r.IntN(6), peers[r.IntN(len(peers))])
		ops = append(ops, b.Bytes())
	}
	return ops
}

// TestConvergence: three peers apply the same ops in different random orders, with
// duplicates, and end with byte-identical snapshots (also after a reload midway).
func TestConvergence(t *testing.T) {
	for seed := range uint64(500) {
		r := rand.New(rand.NewPCG(seed, 1))
		ops := randomOps(r, 1+r.IntN(20))
		var snaps []string
		for peer := range 3 {
			order := append([][]byte(nil), ops...)
			for range r.IntN(5) { // redelivery
				order = append(order, ops[r.IntN(len(ops))])
			}
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			d := NewDoc()
			for i, o := range order {
				if err := d.Apply(mustOp(t, string(o))); err != nil {
					t.Fatal(err)
				}
				if i == len(order)/2 && peer == 1 {
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
