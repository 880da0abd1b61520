package tree

import (
	"bytes"

	"github.com/opstream/opstream/pluginsdk/doctype"
)

// Inverse returns the op that undoes op on d, the document before op, stamped like op (an undo
// must be restamped above every stamp seen before it is sent): an update gets the old payload
// back (null where there was none); a create, move or delete puts the node back where it was
// (a move, or a create that also restores the old payload) or back in the trash where it was
// not in the tree (a delete). It modifies d: it applies op to learn whether op changes anything;
// ok is false when it does not (a skipped op, or one older than what it would overwrite).
func (d *Doc) Inverse(op Op) (inv Op, ok bool, err error) {
	n := d.nodes[op.ID]
	before, payload := n.pos(), payloadOf(n)
	inv = Op{ID: op.ID, Stamp: op.Stamp}
	switch {
	case op.Kind == Update:
		inv.Kind, inv.Payload = Update, payload
		if inv.Payload == nil {
			inv.Payload = []byte("null")
		}
	case !before.exists || before.deleted:
		inv.Kind = Delete
	case op.Kind == Create && op.Payload != nil && payload != nil:
		inv.Kind, inv.Parent, inv.Key, inv.Payload = Create, before.parent, before.key, payload
	default:
		inv.Kind, inv.Parent, inv.Key = Move, before.parent, before.key
	}
	if err := d.Apply(op); err != nil {
		return op, false, err
	}
	after := d.nodes[op.ID]
	if after.pos() == before && bytes.Equal(payloadOf(after), payload) {
		return op, false, nil
	}
	return inv, true, nil
}

// payloadOf returns n's payload (nil for no node or no payload).
func payloadOf(n *node) []byte {
	if n == nil {
		return nil
	}
	return n.payload
}

// AppendJSON appends the op's canonical JSON encoding (Append), for doctype.JSONOp.
func (o Op) AppendJSON(dst []byte) []byte { return o.Append(dst) }

// StampOf returns the op's stamp (doctype.StampedOp).
func (o Op) StampOf() (int64, string) { return o.TS, o.Peer }

// WithStamp returns the op with another stamp (doctype.StampedOp).
func (o Op) WithStamp(ts int64, peer string) Op { o.TS, o.Peer = ts, peer; return o }

// NewType returns the tree type on JSON ops and snapshots for clients (client/undo). Its
// Transform is the identity (ops commute); an undo is restamped with stamp (which must return
// a ts above every ts the peer has seen, and the peer's id) and is dropped when another peer
// changed the same node's position (for an undone create, move or delete) or payload (for an
// undone update) with a newer stamp, so it never reverts their edit.
func NewType(stamp func() (ts int64, peer string)) doctype.CRDT[*Doc, Op] {
	return doctype.NewCRDT(ParseSnapshot, ParseOp, stamp, func(s, r Op) (Op, bool) {
		if s.ID != r.ID {
			return s, true
		}
		if s.Kind == Update {
			return s, r.Kind != Update && r.Payload == nil // r did not write the payload
		}
		return s, r.Kind == Update // r did not move the node
	})
}
