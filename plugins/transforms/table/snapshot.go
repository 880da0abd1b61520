package table

import (
	"fmt"

	"github.com/opstream/opstream/pluginsdk/jsonscan"
)

// AppendSnapshot appends the snapshot (see README.md): rows and columns in display order,
// tombstones and cells sorted by id, so replicas with the same state have byte-identical
// snapshots.
func (d *Doc) AppendSnapshot(dst []byte) []byte {
	dst = append(dst, `{"rows":`...)
	dst = appendAxes(dst, d.rows)
	dst = append(dst, `,"columns":`...)
	dst = appendAxes(dst, d.cols)
	dst = append(dst, `,"deletedRows":`...)
	dst = appendIDs(dst, tombstones(d.rows))
	dst = append(dst, `,"deletedColumns":`...)
	dst = appendIDs(dst, tombstones(d.cols))
	dst = append(dst, `,"cells":[`...)
	first := true
	for _, r := range sortedKeys(d.cells) {
		row := d.cells[r]
		for _, col := range sortedKeys(row) {
			c := row[col]
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, `{"row":`...)
			dst = jsonscan.AppendString(dst, r)
			dst = append(dst, `,"col":`...)
			dst = jsonscan.AppendString(dst, col)
			dst = append(dst, `,"v":`...)
			dst = append(dst, c.v...)
			dst = appendStamp(dst, c.stamp)
		}
	}
	return append(dst, "]}"...)
}

func appendAxes(dst []byte, axes map[string]*axis) []byte {
	dst = append(dst, '[')
	for i, id := range ordered(axes) {
		if i > 0 {
			dst = append(dst, ',')
		}
		a := axes[id]
		dst = append(dst, `{"id":`...)
		dst = jsonscan.AppendString(dst, id)
		dst = append(dst, `,"key":`...)
		dst = jsonscan.AppendString(dst, a.key)
		dst = appendStamp(dst, a.stamp)
	}
	return append(dst, ']')
}

func appendIDs(dst []byte, ids []string) []byte {
	dst = append(dst, '[')
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonscan.AppendString(dst, id)
	}
	return append(dst, ']')
}

// Fields of snapshot objects, numbered for jsonscan.Fields.Once.
const (
	fRows = iota
	fColumns
	fDeletedRows
	fDeletedColumns
	fCells
)

// stamped reads the fields ts and peer (numbered fts, fpeer) when k is one of them.
func (s *scanner) stamped(fs *jsonscan.Fields, st *Stamp, k string, fts, fpeer int) (bool, error) {
	var err error
	switch k {
	case "ts":
		if err = fs.Once(fts, k); err == nil {
			st.TS, err = s.Int(fs.What, k)
		}
	case "peer":
		if err = fs.Once(fpeer, k); err == nil {
			st.Peer, err = s.Name(fs.What, k, MaxPeerBytes)
		}
	default:
		return false, nil
	}
	return true, err
}

// ParseSnapshot loads a snapshot.
func ParseSnapshot(b []byte) (*Doc, error) {
	d := NewDoc()
	s := scanner{Scanner: jsonscan.NewInterning(b)}
	top := jsonscan.Fields{What: "snapshot"}
	err := s.Object("snapshot", func(k string) error {
		switch k {
		case "rows":
			if err := top.Once(fRows, k); err != nil {
				return err
			}
			return s.axes(d.rows, MaxRows, "snapshot row")
		case "columns":
			if err := top.Once(fColumns, k); err != nil {
				return err
			}
			return s.axes(d.cols, MaxColumns, "snapshot column")
		case "deletedRows":
			if err := top.Once(fDeletedRows, k); err != nil {
				return err
			}
			return s.tombstones(d.rows, MaxRows, "snapshot deleted row")
		case "deletedColumns":
			if err := top.Once(fDeletedColumns, k); err != nil {
				return err
			}
			return s.tombstones(d.cols, MaxColumns, "snapshot deleted column")
		case "cells":
			if err := top.Once(fCells, k); err != nil {
				return err
			}
			return s.Array("snapshot: cells", func() error {
				if d.ncells >= MaxCells {
					return invalid("snapshot: more than %d cells", MaxCells)
				}
				if err := s.cell(d); err != nil {
					return fmt.Errorf("cell %d: %w", d.ncells, err)
				}
				return nil
			})
		}
		return invalid("snapshot: unknown key %q", k)
	})
	if err == nil {
		err = s.End("snapshot")
	}
	if err == nil && top.Seen() != 1<<fRows|1<<fColumns|1<<fDeletedRows|1<<fDeletedColumns|1<<fCells {
		err = invalid("snapshot: needs rows, columns, deletedRows, deletedColumns and cells")
	}
	if err != nil {
		return nil, err
	}
	if len(d.rows) > MaxRows || len(d.cols) > MaxColumns {
		return nil, invalid("snapshot: more than %d rows or %d columns", MaxRows, MaxColumns)
	}
	if d.valueBytes > MaxTotalValueBytes {
		return nil, invalid("snapshot: cell values exceed %d bytes", MaxTotalValueBytes)
	}
	return d, nil
}

// axes reads the inserted rows or columns.
func (s *scanner) axes(axes map[string]*axis, limit int, what string) error {
	return s.Array(what+"s", func() error {
		if len(axes) >= limit {
			return invalid("%ss: more than %d", what, limit)
		}
		fs := jsonscan.Fields{What: what}
		var id string
		a := &axis{inserted: true}
		err := s.Object(what, func(k string) error {
			if ok, err := s.stamped(&fs, &a.stamp, k, 2, 3); ok {
				return err
			}
			var err error
			switch k {
			case "id":
				if err = fs.Once(0, k); err == nil {
					id, err = s.Name(what, k, MaxIDBytes)
				}
			case "key":
				if err = fs.Once(1, k); err == nil {
					a.key, err = s.Name(what, k, MaxKeyBytes)
				}
			default:
				err = invalid("%s: unknown key %q", what, k)
			}
			return err
		})
		switch old := axes[id]; {
		case err != nil:
			return err
		case fs.Seen() != 0b1111:
			return invalid("%s: needs id, key, ts and peer", what)
		case old == nil:
			axes[id] = a
		case old.inserted || old.deleted:
			return invalid("%s: id %q appears twice", what, id)
		default: // made by a cell read before it (the keys of the snapshot come in any order)
			*old = *a
		}
		return nil
	})
}

// tombstones reads the ids of deleted rows or columns.
func (s *scanner) tombstones(axes map[string]*axis, limit int, what string) error {
	return s.Array(what+"s", func() error {
		if len(axes) >= limit {
			return invalid("%ss: more than %d", what, limit)
		}
		id, err := s.Name(what, "id", MaxIDBytes)
		if err != nil {
			return err
		}
		switch old := axes[id]; {
		case old == nil:
		case old.inserted || old.deleted:
			return invalid("%s: id %q appears twice", what, id)
		default:
			return invalid("%s: %q has cells", what, id)
		}
		axes[id] = &axis{deleted: true}
		return nil
	})
}

// cell reads one element of a snapshot's cells into d.
func (s *scanner) cell(d *Doc) error {
	const what = "snapshot cell"
	fs := jsonscan.Fields{What: what}
	var r, col string
	if len(s.slab) == 0 {
		s.slab = make([]cell, 256) // cells come in slabs: fewer objects for the guest's GC
	}
	c := &s.slab[0]
	s.slab = s.slab[1:]
	err := s.Object(what, func(k string) error {
		if ok, err := s.stamped(&fs, &c.stamp, k, 3, 4); ok {
			return err
		}
		var err error
		switch k {
		case "row":
			if err = fs.Once(0, k); err == nil {
				r, err = s.Name(what, k, MaxIDBytes)
			}
		case "col":
			if err = fs.Once(1, k); err == nil {
				col, err = s.Name(what, k, MaxIDBytes)
			}
		case "v":
			if err = fs.Once(2, k); err == nil {
				c.v, err = s.Payload(what, k, MaxValueBytes)
			}
		default:
			err = invalid("%s: unknown key %q", what, k)
		}
		return err
	})
	if err != nil {
		return err
	}
	if fs.Seen() != 0b11111 {
		return invalid("%s: needs row, col, v, ts and peer", what)
	}
	for _, a := range []*axis{d.rows[r], d.cols[col]} {
		if a != nil && a.deleted {
			return invalid("%s: in a deleted row or column", what)
		}
	}
	if d.cells[r][col] != nil {
		return invalid("%s: (%q, %q) appears twice", what, r, col)
	}
	if d.rows[r] == nil {
		d.rows[r] = &axis{}
	}
	if d.cols[col] == nil {
		d.cols[col] = &axis{}
	}
	if d.cells[r] == nil {
		d.cells[r] = map[string]*cell{}
	}
	d.cells[r][col] = c
	d.ncells++
	d.valueBytes += len(c.v)
	return nil
}
