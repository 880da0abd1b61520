package tree

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/opstream/opstream/pluginsdk/jsonscan"
)

// AppendSnapshot appends the snapshot (see README.md): nodes sorted by id, the log in stamp
// order, so replicas with the same state have byte-identical snapshots.
func (d *Doc) AppendSnapshot(dst []byte) []byte {
	d.markLive()
	dst = append(dst, `{"nodes":[`...)
	for i, id := range slices.Sorted(maps.Keys(d.nodes)) {
		n := d.nodes[id]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = jsonscan.AppendString(dst, id)
		if n.exists {
			dst = appendPos(dst, n.parent, n.key, n.deleted)
		}
		dst = append(dst, `,"live":`...)
		dst = strconv.AppendBool(dst, n.mark == markLive)
		n.mark = 0
		if n.payload != nil {
			dst = append(dst, `,"payload":`...)
			dst = append(dst, n.payload...)
			dst = append(dst, `,"pts":`...)
			dst = strconv.AppendInt(dst, n.pstamp.TS, 10)
			dst = append(dst, `,"ppeer":`...)
			dst = jsonscan.AppendString(dst, n.pstamp.Peer)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `],"log":[`...)
	for i := range d.log {
		e := &d.log[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"op":`...)
		dst = e.op.Append(dst)
		switch {
		case e.skipped:
			dst = append(dst, `,"skip":true`...)
		case e.prev.exists:
			dst = append(dst, `,"prev":{"parent":`...)
			dst = jsonscan.AppendString(dst, e.prev.parent)
			dst = append(dst, `,"key":`...)
			dst = jsonscan.AppendString(dst, e.prev.key)
			if e.prev.deleted {
				dst = append(dst, `,"deleted":true`...)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if d.horizon != nil {
		dst = append(dst, `,"horizon":{"ts":`...)
		dst = strconv.AppendInt(dst, d.horizon.TS, 10)
		dst = append(dst, `,"peer":`...)
		dst = jsonscan.AppendString(dst, d.horizon.Peer)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendPos appends `,"parent":...,"key":...[,"deleted":true]`.
func appendPos(dst []byte, parent, key string, deleted bool) []byte {
	dst = append(dst, `,"parent":`...)
	dst = jsonscan.AppendString(dst, parent)
	dst = append(dst, `,"key":`...)
	dst = jsonscan.AppendString(dst, key)
	if deleted {
		dst = append(dst, `,"deleted":true`...)
	}
	return dst
}

// bool reads true or false.
func (s *scanner) bool(what, field string) (bool, error) {
	switch {
	case s.Literal("true"):
		return true, nil
	case s.Literal("false"):
		return false, nil
	}
	return false, invalid("%s: %s must be a boolean", what, field)
}

// Fields of snapshot objects, numbered for jsonscan.Fields.Once.
const (
	fNodes = iota
	fLog
	fHorizon
)

const (
	fNodeID = iota
	fNodeParent
	fNodeKey
	fNodeDeleted
	fNodeLive
	fNodePayload
	fNodePTS
	fNodePPeer
)

const (
	fEntryOp = iota
	fEntrySkip
	fEntryPrev
)

// posField reads the value of key k into p when k is a position field (parent, key, deleted,
// numbered fp, fk, fdel in fs) and reports whether it was one.
func (s *scanner) posField(fs *jsonscan.Fields, p *pos, k string, fp, fk, fdel int) (bool, error) {
	var err error
	switch k {
	case "parent":
		if err = fs.Once(fp, k); err == nil {
			p.parent, err = s.Name(fs.What, k, MaxIDBytes)
		}
	case "key":
		if err = fs.Once(fk, k); err == nil {
			p.key, err = s.Name(fs.What, k, MaxKeyBytes)
		}
	case "deleted":
		if err = fs.Once(fdel, k); err == nil && !s.Literal("true") {
			err = invalid("%s: deleted must be true when present", fs.What)
		}
		p.deleted = true
	default:
		return false, nil
	}
	return true, err
}

// checkPos checks that parent and key go together, deleted with them.
func checkPos(fs *jsonscan.Fields, p *pos, fp, fk, fdel int) error {
	if fs.Has(fp) != fs.Has(fk) || (fs.Has(fdel) && !fs.Has(fp)) {
		return invalid("%s: parent and key go together (and deleted with them)", fs.What)
	}
	p.exists = fs.Has(fp)
	return nil
}

// ParseSnapshot loads a snapshot. The "live" flags are derived: ignored and recomputed.
func ParseSnapshot(b []byte) (*Doc, error) {
	return parseSnapshot(b, MaxLog)
}

func parseSnapshot(b []byte, maxLog int) (*Doc, error) {
	d := NewDoc()
	d.maxLog = maxLog
	s := scanner{Scanner: jsonscan.NewInterning(b)}
	top := jsonscan.Fields{What: "snapshot"}
	err := s.Object("snapshot", func(k string) error {
		switch k {
		case "nodes":
			if err := top.Once(fNodes, k); err != nil {
				return err
			}
			i := 0
			d.nodes = make(map[string]*node, min(len(b)/64, MaxNodes))
			return s.Array("snapshot: nodes", func() error {
				if len(d.nodes) >= MaxNodes {
					return invalid("snapshot: more than %d nodes", MaxNodes)
				}
				i++
				if err := s.node(d, "snapshot node"); err != nil {
					return fmt.Errorf("node %d: %w", i-1, err)
				}
				return nil
			})
		case "log":
			if err := top.Once(fLog, k); err != nil {
				return err
			}
			d.log = make([]entry, 0, min(len(b)/64, maxLog))
			return s.Array("snapshot: log", func() error {
				if len(d.log) >= maxLog {
					return invalid("snapshot: more than %d log entries", maxLog)
				}
				if err := s.entry(d, "snapshot log entry"); err != nil {
					return fmt.Errorf("log entry %d: %w", len(d.log), err)
				}
				return nil
			})
		case "horizon":
			if err := top.Once(fHorizon, k); err != nil {
				return err
			}
			var h Stamp
			hf := jsonscan.Fields{What: "horizon"}
			err := s.Object("horizon", func(k string) error {
				var err error
				switch k {
				case "ts":
					if err = hf.Once(0, k); err == nil {
						h.TS, err = s.Int("horizon", k)
					}
				case "peer":
					if err = hf.Once(1, k); err == nil {
						h.Peer, err = s.Name("horizon", k, MaxPeerBytes)
					}
				default:
					err = invalid("horizon: unknown key %q", k)
				}
				return err
			})
			if err == nil && !(hf.Has(0) && hf.Has(1)) {
				err = invalid("horizon needs ts and peer")
			}
			d.horizon = &h
			return err
		}
		return invalid("snapshot: unknown key %q", k)
	})
	if err == nil {
		err = s.End("snapshot")
	}
	if err == nil && !(top.Has(fNodes) && top.Has(fLog)) {
		err = invalid("snapshot: needs nodes and log")
	}
	if err != nil {
		return nil, err
	}
	if d.payloadBytes > MaxTotalPayloadBytes {
		return nil, invalid("snapshot: payloads exceed %d bytes", MaxTotalPayloadBytes)
	}
	if err := d.checkForest(); err != nil {
		return nil, err
	}
	if d.horizon != nil && len(d.log) > 0 && d.log[0].op.Stamp.Compare(*d.horizon) <= 0 {
		return nil, invalid("snapshot: the log starts at or before the horizon")
	}
	return d, nil
}

// node reads one element of a snapshot's nodes into d.
func (s *scanner) node(d *Doc, what string) error {
	fs := jsonscan.Fields{What: what}
	var id string
	var p pos
	if len(s.slab) == 0 {
		s.slab = make([]node, 256) // nodes come in slabs: fewer objects for the guest's GC
	}
	n := &s.slab[0]
	s.slab = s.slab[1:]
	err := s.Object(what, func(k string) error {
		if ok, err := s.posField(&fs, &p, k, fNodeParent, fNodeKey, fNodeDeleted); ok {
			return err
		}
		var err error
		switch k {
		case "id":
			if err = fs.Once(fNodeID, k); err == nil {
				id, err = s.Name(what, k, MaxIDBytes)
			}
		case "live":
			if err = fs.Once(fNodeLive, k); err == nil {
				_, err = s.bool(what, k)
			}
		case "payload":
			if err = fs.Once(fNodePayload, k); err == nil {
				n.payload, err = s.Payload(what, k, MaxPayloadBytes)
			}
		case "pts":
			if err = fs.Once(fNodePTS, k); err == nil {
				n.pstamp.TS, err = s.Int(what, k)
			}
		case "ppeer":
			if err = fs.Once(fNodePPeer, k); err == nil {
				n.pstamp.Peer, err = s.Name(what, k, MaxPeerBytes)
			}
		default:
			err = invalid("%s: unknown key %q", what, k)
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := checkPos(&fs, &p, fNodeParent, fNodeKey, fNodeDeleted); err != nil {
		return err
	}
	hasPayload := fs.Has(fNodePayload)
	switch {
	case !fs.Has(fNodeID):
		return invalid("%s: no id", what)
	case id == Root:
		return invalid("%s: the root is not stored", what)
	case d.nodes[id] != nil:
		return invalid("%s: id %q appears twice", what, id)
	case p.exists && p.parent == id:
		return invalid("%s: its own parent", what)
	case hasPayload != fs.Has(fNodePTS) || hasPayload != fs.Has(fNodePPeer):
		return invalid("%s: payload, pts and ppeer go together", what)
	case !p.exists && !hasPayload:
		return invalid("%s: neither a position nor a payload", what)
	}
	n.exists, n.deleted, n.parent, n.key = p.exists, p.deleted, p.parent, p.key
	d.payloadBytes += len(n.payload)
	d.nodes[id] = n
	return nil
}

// entry reads one element of a snapshot's log and appends it to d.log.
func (s *scanner) entry(d *Doc, what string) error {
	fs := jsonscan.Fields{What: what}
	var e entry
	err := s.Object(what, func(k string) error {
		var err error
		switch k {
		case "op":
			if err = fs.Once(fEntryOp, k); err == nil {
				e.op, err = s.op(what + " op")
			}
		case "skip":
			if err = fs.Once(fEntrySkip, k); err == nil && !s.Literal("true") {
				err = invalid("%s: skip must be true when present", what)
			}
			e.skipped = true
		case "prev":
			if err = fs.Once(fEntryPrev, k); err != nil {
				return err
			}
			pf := jsonscan.Fields{What: what + " prev"}
			err = s.Object(pf.What, func(k string) error {
				if ok, err := s.posField(&pf, &e.prev, k, 0, 1, 2); ok {
					return err
				}
				return invalid("%s: unknown key %q", pf.What, k)
			})
			if err == nil {
				err = checkPos(&pf, &e.prev, 0, 1, 2)
			}
			if err == nil && !e.prev.exists {
				err = invalid("%s: prev needs a parent and a key", what)
			}
		default:
			err = invalid("%s: unknown key %q", what, k)
		}
		return err
	})
	switch {
	case err != nil:
		return err
	case !fs.Has(fEntryOp):
		return invalid("%s: no op", what)
	case e.op.Kind == Update || e.op.Payload != nil:
		return invalid("%s: updates and payloads are not logged", what)
	case e.skipped && fs.Has(fEntryPrev):
		return invalid("%s: a skipped op has no prev", what)
	}
	if n := len(d.log); n > 0 {
		if compareOps(&d.log[n-1].op, &e.op) >= 0 {
			return invalid("%s: the log is not in strictly increasing order", what)
		}
	}
	d.log = append(d.log, e)
	return nil
}

// checkForest reports a cycle among the parent pointers of existing nodes.
func (d *Doc) checkForest() error {
	var path []*node
	var err error
	for id, n := range d.nodes {
		path = path[:0]
		for p, q := id, n; err == nil; {
			if !q.exists || q.mark == markDone {
				break
			}
			if q.mark == markOnPath {
				err = invalid("snapshot: node %q is its own ancestor", p)
				break
			}
			q.mark = markOnPath
			path = append(path, q)
			if p = q.parent; p == Root {
				break
			}
			if q = d.nodes[p]; q == nil {
				break
			}
		}
		for _, q := range path {
			q.mark = markDone
		}
		if err != nil {
			break
		}
	}
	for _, n := range d.nodes {
		n.mark = 0
	}
	return err
}
