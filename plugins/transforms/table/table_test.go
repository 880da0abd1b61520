package table

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

func insRow(id, key string, ts int, peer string) string {
	return fmt.Sprintf(`{"op":"insert_row","id":%q,"key":%q,"ts":%d,"peer":%q}`, id, key, ts, peer)
}

func insCol(id, key string, ts int, peer string) string {
	return fmt.Sprintf(`{"op":"insert_column","id":%q,"key":%q,"ts":%d,"peer":%q}`, id, key, ts, peer)
}

func set(row, col, v string, ts int, peer string) string {
	return fmt.Sprintf(`{"op":"set_cell","row":%q,"col":%q,"value":%s,"ts":%d,"peer":%q}`, row, col, v, ts, peer)
}

// render prints the grid: rows in order, each "row:v,v" over the columns in order ("-" unset).
func render(d *Doc) string {
	g := d.Grid()
	var b strings.Builder
	b.WriteString("|" + strings.Join(g.Columns, ","))
	for _, r := range g.Rows {
		b.WriteString("|" + r + ":")
		for i, c := range g.Columns {
			if i > 0 {
				b.WriteByte(',')
			}
			if v, ok := g.Cells[[2]string{r, c}]; ok {
				b.Write(v)
			} else {
				b.WriteByte('-')
			}
		}
	}
	return b.String()
}

func permutations(ops []string) [][]string {
	if len(ops) <= 1 {
		return [][]string{slices.Clone(ops)}
	}
	var out [][]string
	for i := range ops {
		for _, p := range permutations(slices.Concat(ops[:i], ops[i+1:])) {
			out = append(out, append([]string{ops[i]}, p...))
		}
	}
	return out
}

func TestSemantics(t *testing.T) {
	base := []string{insRow("r1", "a", 1, "p"), insRow("r2", "b", 1, "p"), insCol("c1", "a", 1, "p"), insCol("c2", "b", 1, "p")}
	for _, c := range []struct {
		name string
		ops  []string
		want string
	}{
		{"rows and columns in key order, then id", []string{insRow("x", "b", 1, "p"), insRow("y", "a", 2, "p"), insRow("w", "b", 3, "p"), insCol("c", "a", 1, "p")},
			"|c|y:-|w:-|x:-"},
		{"concurrent cell edits: last writer wins", slices.Concat(base, []string{set("r1", "c1", `"ann"`, 5, "ann"), set("r1", "c1", `"bob"`, 5, "bob"), set("r1", "c1", `"cy"`, 4, "cy")}),
			`|c1,c2|r1:"bob",-|r2:-,-`},
		{"deleting a row while another peer edits its cell: the row stays deleted", slices.Concat(base, []string{set("r1", "c2", "1", 5, "ann"), `{"op":"delete_row","id":"r1","ts":3,"peer":"bob"}`, set("r2", "c2", "2", 6, "ann")}),
			`|c1,c2|r2:-,2`},
		{"deleting a column drops its cells", slices.Concat(base, []string{set("r1", "c2", "1", 5, "ann"), `{"op":"delete_column","id":"c2","ts":3,"peer":"bob"}`, set("r1", "c1", "2", 6, "ann")}),
			`|c1|r1:2|r2:-`},
		{"a cell set before its row is inserted shows up with it", []string{insCol("c", "a", 1, "p"), set("r", "c", `"early"`, 1, "p"), insRow("r", "a", 2, "q")},
			`|c|r:"early"`},
		{"insert again moves, last writer wins", slices.Concat(base, []string{insRow("r1", "c", 5, "ann"), insRow("r1", "0", 4, "bob"), insCol("c1", "z", 6, "cy")}),
			`|c2,c1|r2:-,-|r1:-,-`},
		{"a delete is permanent: a later insert does not resurrect", slices.Concat(base, []string{`{"op":"delete_row","id":"r2","ts":2,"peer":"p"}`, insRow("r2", "a", 9, "q"), set("r2", "c1", "1", 9, "q")}),
			`|c1,c2|r1:-,-`},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := len(c.ops)
			tail := c.ops[max(0, n-3):]
			head := c.ops[:n-len(tail)]
			var want string
			for _, p := range permutations(tail) {
				d := docOf(t, slices.Concat(head, p)...)
				if got := render(d); got != c.want {
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

func TestSnapshot(t *testing.T) {
	d := docOf(t, insRow("r1", "a", 1, "p"), insCol("c1", "a", 2, "p"), set("r1", "c1", ` { "x" : [1, 2] } `, 3, "q"),
		set("r9", "c1", "null", 4, "q"), `{"op":"delete_column","id":"c0","ts":5,"peer":"p"}`)
	want := `{"rows":[{"id":"r1","key":"a","ts":1,"peer":"p"}],"columns":[{"id":"c1","key":"a","ts":2,"peer":"p"}],"deletedRows":[],"deletedColumns":["c0"],` +
		`"cells":[{"row":"r1","col":"c1","v":{"x":[1,2]},"ts":3,"peer":"q"},{"row":"r9","col":"c1","v":null,"ts":4,"peer":"q"}]}`
	if got := string(d.AppendSnapshot(nil)); got != want {
		t.Fatalf("snapshot\n%s\nwant\n%s", got, want)
	}
	d2, err := ParseSnapshot([]byte(want))
	if err != nil || string(d2.AppendSnapshot(nil)) != want {
		t.Fatalf("reload: %v", err)
	}
	// The keys of a snapshot may come in any order.
	reordered := `{"cells":[{"row":"r1","col":"c1","v":{"x":[1,2]},"ts":3,"peer":"q"},{"row":"r9","col":"c1","v":null,"ts":4,"peer":"q"}],` +
		`"deletedColumns":["c0"],"deletedRows":[],"columns":[{"id":"c1","key":"a","ts":2,"peer":"p"}],"rows":[{"peer":"p","ts":1,"key":"a","id":"r1"}]}`
	if d3, err := ParseSnapshot([]byte(reordered)); err != nil || string(d3.AppendSnapshot(nil)) != want {
		t.Fatalf("reordered snapshot: %v", err)
	}
	if string(NewDoc().AppendSnapshot(nil)) != Empty {
		t.Fatal("Empty is not the empty document's snapshot")
	}
}

func TestLimits(t *testing.T) {
	d := NewDoc()
	for i := range MaxColumns {
		if err := d.Apply(mustOp(t, insCol(fmt.Sprint("c", i), "a", 1, "p"))); err != nil {
			t.Fatal(err)
		}
	}
	before := string(d.AppendSnapshot(nil))
	for _, s := range []string{insCol("one-more", "a", 1, "p"), `{"op":"delete_column","id":"one-more","ts":1,"peer":"p"}`, set("r", "one-more", "1", 1, "p")} {
		if err := d.Apply(mustOp(t, s)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: %v; want ErrInvalid", s, err)
		}
	}
	if string(d.AppendSnapshot(nil)) != before {
		t.Fatal("a refused op changed the document")
	}
	d = NewDoc()
	for i := range MaxCells {
		if err := d.Apply(mustOp(t, set(fmt.Sprint("r", i%MaxRows), fmt.Sprint("c", i/MaxRows), "1", 1, "p"))); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Apply(mustOp(t, set("r0", "c9", "1", 1, "p"))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("cell %d: %v", MaxCells+1, err)
	}
	// Overwriting a cell and writing a deleted row's cell need no room.
	if err := d.Apply(mustOp(t, set("r0", "c0", "2", 2, "p"))); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(mustOp(t, `{"op":"delete_row","id":"r1","ts":1,"peer":"p"}`)); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(mustOp(t, set("r0", "c9", "1", 1, "p"))); err != nil {
		t.Fatalf("after a delete freed cells: %v", err)
	}
	big := `"` + strings.Repeat("x", MaxValueBytes-2) + `"`
	d = NewDoc()
	var err error
	for i := 0; err == nil; i++ {
		err = d.Apply(mustOp(t, set(fmt.Sprint("r", i), "c", big, 1, "p")))
		if d.valueBytes > MaxTotalValueBytes {
			t.Fatalf("values at %d bytes", d.valueBytes)
		}
	}
	if !errors.Is(err, ErrInvalid) || d.valueBytes+MaxValueBytes <= MaxTotalValueBytes {
		t.Fatalf("value limit: %v at %d bytes", err, d.valueBytes)
	}
}

// TestLimitsBoundTheSnapshot builds the largest document the limits allow (longest ids, keys
// and peers, every row and column inserted, every cell set, all value bytes used) and checks
// that its snapshot fits the host's 16 MiB output bound and reloads.
func TestLimitsBoundTheSnapshot(t *testing.T) {
	long := func(prefix string, i, n int) string {
		s := fmt.Sprintf("%s%d-", prefix, i)
		return s + strings.Repeat("x", n-len(s))
	}
	peer := strings.Repeat("p", MaxPeerBytes)
	ts := int64(1) << 62
	d := NewDoc()
	apply := func(s string) {
		t.Helper()
		if err := d.Apply(mustOp(t, s)); err != nil {
			t.Fatalf("%.100s: %v", s, err)
		}
	}
	for i := range MaxRows {
		apply(fmt.Sprintf(`{"op":"insert_row","id":%q,"key":%q,"ts":%d,"peer":%q}`, long("r", i, MaxIDBytes), long("k", i, MaxKeyBytes), ts, peer))
	}
	for i := range MaxColumns {
		apply(fmt.Sprintf(`{"op":"insert_column","id":%q,"key":%q,"ts":%d,"peer":%q}`, long("c", i, MaxIDBytes), long("k", i, MaxKeyBytes), ts, peer))
	}
	v := `"` + strings.Repeat("v", MaxTotalValueBytes/MaxCells-2) + `"`
	for i := range MaxCells {
		apply(fmt.Sprintf(`{"op":"set_cell","row":%q,"col":%q,"value":%s,"ts":%d,"peer":%q}`, long("r", i%MaxRows, MaxIDBytes), long("c", i/MaxRows, MaxIDBytes), v, ts, peer))
	}
	snap := d.AppendSnapshot(nil)
	t.Logf("largest snapshot: %d bytes (%d rows, %d columns, %d cells, %d value bytes)", len(snap), len(d.rows), len(d.cols), d.ncells, d.valueBytes)
	if len(snap) >= 16<<20 {
		t.Fatalf("snapshot of %d bytes exceeds the 16 MiB output bound", len(snap))
	}
	if d.valueBytes < MaxTotalValueBytes*99/100 {
		t.Fatalf("not the largest document: %d value bytes", d.valueBytes)
	}
	if _, err := ParseSnapshot(snap); err != nil {
		t.Fatal(err)
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `{"op":"insert_row"}`,
		`{"op":"insert_row","id":"r","key":"a","ts":1}`,
		`{"op":"insert_row","id":"r","key":"a","peer":"p"}`,
		`{"op":"insert_row","id":"r","key":"a","ts":-1,"peer":"p"}`,
		`{"op":"insert_row","id":"r","key":"a","ts":"1","peer":"p"}`,
		`{"op":"insert_row","id":"r","ts":1,"peer":"p"}`,
		`{"op":"insert_row","id":"","key":"a","ts":1,"peer":"p"}`,
		`{"op":"insert_row","id":"a\"b","key":"a","ts":1,"peer":"p"}`,
		`{"op":"insert_row","id":"a\u0001","key":"a","ts":1,"peer":"p"}`,
		`{"op":"insert_row","id":"r","key":"a","value":1,"ts":1,"peer":"p"}`,
		`{"op":"insert_column","id":"c","key":"a","ts":1,"peer":"p","x":1}`,
		`{"op":"delete_row","id":"r","key":"a","ts":1,"peer":"p"}`,
		`{"op":"delete_column","ts":1,"peer":"p"}`,
		`{"op":"set_cell","row":"r","col":"c","ts":1,"peer":"p"}`,
		`{"op":"set_cell","row":"r","value":1,"ts":1,"peer":"p"}`,
		`{"op":"set_cell","row":"r","col":"c","value":tru,"ts":1,"peer":"p"}`,
		`{"op":"set_cell","id":"r","row":"r","col":"c","value":1,"ts":1,"peer":"p"}`,
		`{"op":"set_cell","row":"r","col":"c","value":"` + strings.Repeat("x", MaxValueBytes) + `","ts":1,"peer":"p"}`,
		`{"op":"set_cell","row":"` + strings.Repeat("x", MaxIDBytes+1) + `","col":"c","value":1,"ts":1,"peer":"p"}`,
		`{"op":"merge_cells","ts":1,"peer":"p"}`,
		"{\"op\":\"delete_row\",\"id\":\"\xff\",\"ts\":1,\"peer\":\"p\"}",
	} {
		if _, err := ParseOp([]byte(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseOp(%.80q) = %v; want ErrInvalid", s, err)
		}
	}
	for _, s := range []string{
		``, `{}`, `{"rows":[],"columns":[],"deletedRows":[],"deletedColumns":[]}`,
		`{"rows":[{"id":"r"}],"columns":[],"deletedRows":[],"deletedColumns":[],"cells":[]}`,
		`{"rows":[],"columns":[],"deletedRows":["r","r"],"deletedColumns":[],"cells":[]}`,
		`{"rows":[],"columns":[],"deletedRows":[1],"deletedColumns":[],"cells":[]}`,
		`{"rows":[],"columns":[],"deletedRows":["r"],"deletedColumns":[],"cells":[{"row":"r","col":"c","v":1,"ts":1,"peer":"p"}]}`,
		`{"rows":[],"columns":[],"deletedRows":[],"deletedColumns":[],"cells":[{"row":"r","col":"c","v":1,"ts":1,"peer":"p"},{"row":"r","col":"c","v":2,"ts":1,"peer":"p"}]}`,
		`{"rows":[],"columns":[],"deletedRows":[],"deletedColumns":[],"cells":[{"row":"r","col":"c","ts":1,"peer":"p"}]}`,
		`{"cells":[{"row":"r","col":"c","v":1,"ts":1,"peer":"p"}],"rows":[],"columns":[],"deletedRows":["r"],"deletedColumns":[]}`,
		`{"rows":[],"rows":[],"columns":[],"deletedRows":[],"deletedColumns":[],"cells":[]}`,
		`{"rows":[],"columns":[],"deletedRows":[],"deletedColumns":[],"cells":[]} x`,
	} {
		if _, err := ParseSnapshot([]byte(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSnapshot(%q) = %v; want ErrInvalid", s, err)
		}
	}
}
