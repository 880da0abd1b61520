package form

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/opstream/opstream/pluginsdk/doctype"
)

// Inverse returns the op that undoes op on d, the document before op: each field op wins
// (last writer wins) gets its value before op back, or is deleted where it had none. It carries
// op's stamp; an undo must be restamped above every stamp seen before it is sent. ok is false
// when op changes nothing on d (inv is then op itself). err is always nil.
func (d *Doc) Inverse(op Op) (inv Op, ok bool, err error) {
	inv = Op{Set: map[string]json.RawMessage{}, TS: op.TS, Peer: op.Peer}
	restore := func(k string, r Register) {
		old, had := d.Fields[k]
		if had && !Less(old, r) {
			return // op loses to what is there: it changes nothing
		}
		if had && !old.Del {
			inv.Set[k] = old.Value
		} else if !slices.Contains(inv.Del, k) {
			inv.Del = append(inv.Del, k)
		}
	}
	for k, v := range op.Set {
		restore(k, Register{Value: v, TS: op.TS, Peer: op.Peer})
	}
	for _, k := range op.Del {
		restore(k, Register{Del: true, TS: op.TS, Peer: op.Peer})
	}
	slices.Sort(inv.Del)
	if len(inv.Set)+len(inv.Del) == 0 {
		return op, false, nil
	}
	return inv, true, nil
}

// AppendJSON appends op in its canonical form: set (fields sorted), del, ts, peer.
func (op Op) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	if len(op.Set) > 0 {
		dst = append(dst, `"set":{`...)
		for i, k := range slices.Sorted(maps.Keys(op.Set)) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = append(dst, op.Set[k]...)
		}
		dst = append(dst, "},"...)
	}
	if len(op.Del) > 0 {
		dst = append(dst, `"del":[`...)
		for i, k := range op.Del {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
		}
		dst = append(dst, "],"...)
	}
	dst = append(dst, `"ts":`...)
	dst = strconv.AppendInt(dst, op.TS, 10)
	dst = append(dst, `,"peer":`...)
	dst = appendString(dst, op.Peer)
	return append(dst, '}')
}

// StampOf returns the op's stamp (doctype.StampedOp).
func (o Op) StampOf() (int64, string) { return o.TS, o.Peer }

// WithStamp returns the op with another stamp (doctype.StampedOp).
func (o Op) WithStamp(ts int64, peer string) Op { o.TS, o.Peer = ts, peer; return o }

// NewType returns the form type on JSON ops and snapshots for clients (client/undo). Its
// Transform is the identity (ops commute); an undo is restamped with stamp (which must return
// a ts above every ts the peer has seen, and the peer's id) and drops the fields another peer
// wrote since with a newer stamp than the change undone (RebaseStep), so it never reverts
// their edit.
func NewType(stamp func() (ts int64, peer string)) doctype.CRDT[*Doc, Op] {
	return doctype.NewCRDT(ParseSnapshot, ParseOp, stamp, func(s, r Op) (Op, bool) {
		drop := func(k string) {
			delete(s.Set, k)
			s.Del = slices.DeleteFunc(s.Del, func(d string) bool { return d == k })
		}
		for k := range r.Set {
			drop(k)
		}
		for _, k := range r.Del {
			drop(k)
		}
		return s, len(s.Set)+len(s.Del) > 0
	})
}
