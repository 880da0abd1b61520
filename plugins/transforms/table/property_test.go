package table

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomOps returns ops of peers editing one table concurrently: a few row and column ids,
// inserts (and re-inserts that move), deletes, and many cell edits, with stamps that collide.
func randomOps(r *rand.Rand, n int) []string {
	rows, cols := []string{"r1", "r2", "r3", "r4"}, []string{"c1", "c2", "c3"}
	vals := []string{`1`, `"x"`, `null`, `{"a":[1,{"b":2}]}`, `true`, `"é"`}
	var ops []string
	for range n {
		stamp := fmt.Sprintf(`"ts":%d,"peer":"p%d"`, r.IntN(12), r.IntN(3))
		row, col := rows[r.IntN(len(rows))], cols[r.IntN(len(cols))]
		switch k := r.IntN(20); {
		case k < 3:
			ops = append(ops, fmt.Sprintf(`{"op":"insert_row","id":%q,"key":"k%d",%s}`, row, r.IntN(4), stamp))
		case k < 5:
			ops = append(ops, fmt.Sprintf(`{"op":"insert_column","id":%q,"key":"k%d",%s}`, col, r.IntN(4), stamp))
		case k < 6:
			ops = append(ops, fmt.Sprintf(`{"op":"delete_row","id":%q,%s}`, row, stamp))
		case k < 7:
			ops = append(ops, fmt.Sprintf(`{"op":"delete_column","id":%q,%s}`, col, stamp))
		default:
			ops = append(ops, fmt.Sprintf(`{"op":"set_cell","row":%q,"col":%q,"value":%s,%s}`, row, col, vals[r.IntN(len(vals))], stamp))
		}
	}
	return ops
}

// model computes the visible table straight from the set of ops, as README.md defines it:
// an id is visible when it was inserted and never deleted, at the key of its newest insert;
// a cell of visible row and column holds the value of its newest set.
func model(t testing.TB, ops []string) Grid {
	type reg struct {
		s Stamp
		v []byte
	}
	rowDel, colDel := map[string]bool{}, map[string]bool{}
	rowKey, colKey := map[string]reg{}, map[string]reg{}
	cells := map[[2]string]reg{}
	win := func(m map[string]reg, k string, r reg) {
		if old, ok := m[k]; !ok || newer(r.s, r.v, old.s, old.v) {
			m[k] = r
		}
	}
	for _, s := range ops {
		op := mustOp(t, s)
		switch op.Kind {
		case InsertRow:
			win(rowKey, op.ID, reg{op.Stamp, []byte(op.Key)})
		case InsertColumn:
			win(colKey, op.ID, reg{op.Stamp, []byte(op.Key)})
		case DeleteRow:
			rowDel[op.ID] = true
		case DeleteColumn:
			colDel[op.ID] = true
		case SetCell:
			k := [2]string{op.Row, op.Col}
			if old, ok := cells[k]; !ok || newer(op.Stamp, op.Value, old.s, old.v) {
				cells[k] = reg{op.Stamp, op.Value}
			}
		}
	}
	order := func(keys map[string]reg, del map[string]bool) []string {
		var ids []string
		for id := range keys {
			if !del[id] {
				ids = append(ids, id)
			}
		}
		slices.SortFunc(ids, func(a, b string) int {
			if c := bytes.Compare(keys[a].v, keys[b].v); c != 0 {
				return c
			}
			return bytes.Compare([]byte(a), []byte(b))
		})
		return ids
	}
	g := Grid{Rows: order(rowKey, rowDel), Columns: order(colKey, colDel), Cells: map[[2]string]json.RawMessage{}}
	for k, c := range cells {
		if slices.Contains(g.Rows, k[0]) && slices.Contains(g.Columns, k[1]) {
			g.Cells[k] = c.v
		}
	}
	return g
}

// TestConvergence is the property test: for thousands of random concurrent op sets (seeded),
// replicas that apply them in different random orders, with redelivered duplicates and a
// snapshot reload midway, end with byte-identical snapshots, and the visible table is the one
// the README's rules define (an independent model computed from the set of ops).
func TestConvergence(t *testing.T) {
	cases := 3000
	if testing.Short() {
		cases = 300
	}
	for seed := range uint64(cases) {
		r := rand.New(rand.NewPCG(seed, 0x7ab))
		ops := randomOps(r, 1+r.IntN(40))
		var want string
		for replica := range 4 {
			order := slices.Clone(ops)
			for range r.IntN(4) {
				order = append(order, ops[r.IntN(len(ops))])
			}
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			d := NewDoc()
			for i, s := range order {
				if err := d.Apply(mustOp(t, s)); err != nil {
					t.Fatal(err)
				}
				if replica == 1 && i == len(order)/2 {
					var err error
					if d, err = ParseSnapshot(d.AppendSnapshot(nil)); err != nil {
						t.Fatalf("seed %d: reload: %v", seed, err)
					}
				}
			}
			got := string(d.AppendSnapshot(nil))
			if replica == 0 {
				want = got
				g, m := d.Grid(), model(t, ops)
				if !slices.Equal(g.Rows, m.Rows) || !slices.Equal(g.Columns, m.Columns) || fmt.Sprint(g.Cells) != fmt.Sprint(m.Cells) {
					t.Fatalf("seed %d: grid %+v\nmodel %+v\nops %q", seed, g, m, ops)
				}
			} else if got != want {
				t.Fatalf("seed %d replica %d diverged:\n got %s\nwant %s\nops %q", seed, replica, got, want, ops)
			}
		}
	}
}
