package jsoncrdt

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/opstream/opstream/pluginsdk/doctype"
)

// Inverse returns the op that undoes op on d, the document before op, stamped like op (an undo
// must be restamped above every stamp seen before it is sent): a set or delete of op's path
// back to its value before op. When op is a set under an ancestor that was missing or not an
// object (which op turns into an object), the inverse restores that ancestor instead. ok is
// false when op changes nothing on d (it loses to a newer register, or deletes under a value
// that is not an object).
func (d *Doc) Inverse(op Op) (inv Op, ok bool, err error) {
	if old, had := d.regs[op.key]; had && !Less(old, &op) {
		return op, false, nil
	}
	m := d.Materialize()
	for i, k := range op.Path {
		v, present := m[k]
		if i == len(op.Path)-1 {
			return d.restore(op, op.Path, v, present), true, nil
		}
		sub, isObject := v.(map[string]any)
		if !isObject {
			if op.Del {
				return op, false, nil
			}
			return d.restore(op, op.Path[:i+1], v, present), true, nil
		}
		m = sub
	}
	return op, false, nil // unreachable: paths are not empty
}

// restore returns an op with op's stamp that sets path to v (when present) or deletes it.
func (d *Doc) restore(op Op, path []string, v any, present bool) Op {
	key, _ := json.Marshal(path)
	r := Op{Path: slices.Clone(path), key: string(key), TS: op.TS, Peer: op.Peer, Del: !present}
	if present {
		r.Value, _ = json.Marshal(v) // decoded from canonical JSON with UseNumber: it encodes
	}
	return r
}

// AppendJSON appends op: {"set": [path, value]} or {"del": path}, then ts and peer.
func (op Op) AppendJSON(dst []byte) []byte {
	path, _ := json.Marshal(op.Path)
	peer, _ := json.Marshal(op.Peer)
	if op.Del {
		return fmt.Appendf(dst, `{"del":%s,"ts":%d,"peer":%s}`, path, op.TS, peer)
	}
	return fmt.Appendf(dst, `{"set":[%s,%s],"ts":%d,"peer":%s}`, path, op.Value, op.TS, peer)
}

// StampOf returns the op's stamp (doctype.StampedOp).
func (o Op) StampOf() (int64, string) { return o.TS, o.Peer }

// WithStamp returns the op with another stamp (doctype.StampedOp).
func (o Op) WithStamp(ts int64, peer string) Op { o.TS, o.Peer = ts, peer; return o }

// NewType returns the json type on JSON ops and snapshots for clients (client/undo). Its
// Transform is the identity (ops commute); an undo is restamped with stamp (which must return
// a ts above every ts the peer has seen, and the peer's id) and is dropped when another peer
// wrote at, under or above its path since with a newer stamp than the change undone
// (RebaseStep), so it never reverts their edit.
func NewType(stamp func() (ts int64, peer string)) doctype.CRDT[*Doc, Op] {
	return doctype.NewCRDT(ParseSnapshot, ParseOp, stamp, func(s, r Op) (Op, bool) {
		n := min(len(s.Path), len(r.Path))
		return s, !slices.Equal(s.Path[:n], r.Path[:n])
	})
}
