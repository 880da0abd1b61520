package table

import (
	"bytes"

	"github.com/opstream/opstream/pluginsdk/doctype"
)

// Inverse returns the op that undoes op on d, the document before op, stamped like op (an undo
// must be restamped above every stamp seen before it is sent): a cell gets its old value back
// (null where it had none); an insert of a new row or column deletes it, and one that moved
// it puts it back at its old key. Deletes are permanent, so a delete has no inverse. It
// modifies d: it applies op to learn whether op changes anything; ok is false when it does not
// (a delete, an op older than what it would overwrite, an edit of a deleted row or column).
func (d *Doc) Inverse(op Op) (inv Op, ok bool, err error) {
	before := d.AppendSnapshot(nil)
	inv = Op{Stamp: op.Stamp}
	switch op.Kind {
	case SetCell:
		inv.Kind, inv.Row, inv.Col, inv.Value = SetCell, op.Row, op.Col, []byte("null")
		if c := d.cells[op.Row][op.Col]; c != nil {
			inv.Value = c.v
		}
	case InsertRow, InsertColumn:
		axes, del := d.rows, DeleteRow
		if op.Kind == InsertColumn {
			axes, del = d.cols, DeleteColumn
		}
		inv.ID = op.ID
		if a := axes[op.ID]; a != nil && a.inserted {
			inv.Kind, inv.Key = op.Kind, a.key
		} else {
			inv.Kind = del
		}
	default:
		return op, false, nil
	}
	if err := d.Apply(op); err != nil {
		return op, false, err
	}
	if bytes.Equal(d.AppendSnapshot(nil), before) {
		return op, false, nil
	}
	return inv, true, nil
}

// AppendJSON appends the op's canonical JSON encoding (Append), for doctype.JSONOp.
func (o Op) AppendJSON(dst []byte) []byte { return o.Append(dst) }

// StampOf returns the op's stamp (doctype.StampedOp).
func (o Op) StampOf() (int64, string) { return o.TS, o.Peer }

// WithStamp returns the op with another stamp (doctype.StampedOp).
func (o Op) WithStamp(ts int64, peer string) Op { o.TS, o.Peer = ts, peer; return o }

// NewType returns the table type on JSON ops and snapshots for clients (client/undo). Its
// Transform is the identity (ops commute); an undo is restamped with stamp (which must return
// a ts above every ts the peer has seen, and the peer's id) and is dropped when another peer
// wrote the same cell, or moved or deleted the same row or column, with a newer stamp, so it
// never reverts their edit.
func NewType(stamp func() (ts int64, peer string)) doctype.CRDT[*Doc, Op] {
	return doctype.NewCRDT(ParseSnapshot, ParseOp, stamp, func(s, r Op) (Op, bool) {
		rows := s.Kind == InsertRow || s.Kind == DeleteRow
		switch {
		case s.Kind == SetCell && r.Kind == SetCell:
			return s, s.Row != r.Row || s.Col != r.Col
		case s.Kind == SetCell:
			return s, !(r.Kind == DeleteRow && r.ID == s.Row || r.Kind == DeleteColumn && r.ID == s.Col)
		case r.Kind == SetCell:
			return s, true
		}
		rRows := r.Kind == InsertRow || r.Kind == DeleteRow
		return s, rows != rRows || s.ID != r.ID
	})
}
