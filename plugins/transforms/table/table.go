// Package table is the "table" document engine: rows and columns, each with an id and an
// ordering key, and a grid of cells holding JSON values. It is a state-based CRDT: rows and
// columns are last-writer-wins key registers plus a permanent tombstone, cells are
// last-writer-wins registers stamped (ts, peer), and the cells of a deleted row or column are
// dropped for good. Every op is a join on that state, so apply is commutative, associative and
// idempotent and the transform is the identity. See README.md for the op, the semantics and
// the snapshot.
//
// A Doc is not safe for concurrent use; the engine runs one call at a time.
package table

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
)

// axis is the state of one row or column id.
type axis struct {
	inserted bool   // an insert op has been seen (and no delete)
	deleted  bool   // tombstone: permanent
	key      string // ordering key of the newest insert
	stamp    Stamp  // stamp of the newest insert
}

// cell is one cell's register.
type cell struct {
	v     json.RawMessage
	stamp Stamp
}

// Doc is a live table document.
type Doc struct {
	rows, cols map[string]*axis
	cells      map[string]map[string]*cell // row id -> column id -> cell
	ncells     int
	valueBytes int
}

// NewDoc returns an empty document.
func NewDoc() *Doc {
	return &Doc{rows: map[string]*axis{}, cols: map[string]*axis{}, cells: map[string]map[string]*cell{}}
}

// Empty is the snapshot of an empty document.
const Empty = `{"rows":[],"columns":[],"deletedRows":[],"deletedColumns":[],"cells":[]}`

// newer reports whether register value (s, v) beats (os, ov): by stamp, then bytes (identical
// stamps only come from a misbehaving client; the order must still be total).
func newer(s Stamp, v []byte, os Stamp, ov []byte) bool {
	if c := s.Compare(os); c != 0 {
		return c > 0
	}
	return bytes.Compare(v, ov) > 0
}

// Apply joins op into d. It fails, leaving d unchanged, only on the order-dependent limits the
// server decides once (more than MaxRows rows, MaxColumns columns, MaxCells cells or
// MaxTotalValueBytes of values).
func (d *Doc) Apply(op Op) error {
	switch op.Kind {
	case InsertRow, DeleteRow:
		return d.applyAxis(op, d.rows, MaxRows, "rows")
	case InsertColumn, DeleteColumn:
		return d.applyAxis(op, d.cols, MaxColumns, "columns")
	}
	r, c := d.rows[op.Row], d.cols[op.Col]
	if (r != nil && r.deleted) || (c != nil && c.deleted) {
		return nil // the row or column is gone, with its cells
	}
	old := d.cells[op.Row][op.Col]
	if old != nil && !newer(op.Stamp, op.Value, old.stamp, old.v) {
		return nil
	}
	switch {
	case r == nil && len(d.rows) >= MaxRows:
		return invalid("the document would hold more than %d rows", MaxRows)
	case c == nil && len(d.cols) >= MaxColumns:
		return invalid("the document would hold more than %d columns", MaxColumns)
	case old == nil && d.ncells >= MaxCells:
		return invalid("the document would hold more than %d cells", MaxCells)
	}
	oldLen := 0
	if old != nil {
		oldLen = len(old.v)
	}
	if d.valueBytes-oldLen+len(op.Value) > MaxTotalValueBytes {
		return invalid("the document's cell values would exceed %d bytes", MaxTotalValueBytes)
	}
	if r == nil {
		d.rows[op.Row] = &axis{}
	}
	if c == nil {
		d.cols[op.Col] = &axis{}
	}
	if old == nil {
		old = &cell{}
		row := d.cells[op.Row]
		if row == nil {
			row = map[string]*cell{}
			d.cells[op.Row] = row
		}
		row[op.Col] = old
		d.ncells++
	}
	d.valueBytes += len(op.Value) - oldLen
	old.v, old.stamp = op.Value, op.Stamp
	return nil
}

func (d *Doc) applyAxis(op Op, axes map[string]*axis, limit int, what string) error {
	a := axes[op.ID]
	if a == nil {
		if len(axes) >= limit {
			return invalid("the document would hold more than %d %s", limit, what)
		}
		a = &axis{}
		axes[op.ID] = a
	}
	if a.deleted {
		return nil
	}
	if op.Kind == InsertRow || op.Kind == InsertColumn {
		if !a.inserted || newer(op.Stamp, []byte(op.Key), a.stamp, []byte(a.key)) {
			a.inserted, a.key, a.stamp = true, op.Key, op.Stamp
		}
		return nil
	}
	*a = axis{deleted: true}
	if op.Kind == DeleteRow {
		for _, c := range d.cells[op.ID] {
			d.dropCell(c)
		}
		delete(d.cells, op.ID)
		return nil
	}
	for row, cs := range d.cells {
		if c, ok := cs[op.ID]; ok {
			d.dropCell(c)
			delete(cs, op.ID)
			if len(cs) == 0 {
				delete(d.cells, row)
			}
		}
	}
	return nil
}

func (d *Doc) dropCell(c *cell) {
	d.ncells--
	d.valueBytes -= len(c.v)
}

// Grid is the table as a reader sees it: the inserted, undeleted rows and columns in order
// (by key, then id) and the values of their cells.
type Grid struct {
	Rows, Columns []string
	Cells         map[[2]string]json.RawMessage // (row, column) -> value; only set cells
}

// Grid returns the visible table.
func (d *Doc) Grid() Grid {
	g := Grid{Rows: ordered(d.rows), Columns: ordered(d.cols), Cells: map[[2]string]json.RawMessage{}}
	for _, r := range g.Rows {
		for col, c := range d.cells[r] {
			if a := d.cols[col]; a.inserted {
				g.Cells[[2]string{r, col}] = c.v
			}
		}
	}
	return g
}

// ordered returns the inserted, undeleted ids sorted by (key, id).
func ordered(axes map[string]*axis) []string {
	var ids []string
	for id, a := range axes {
		if a.inserted {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := bytes.Compare([]byte(axes[a].key), []byte(axes[b].key)); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a), []byte(b))
	})
	return ids
}

func tombstones(axes map[string]*axis) []string {
	var ids []string
	for id, a := range axes {
		if a.deleted {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
