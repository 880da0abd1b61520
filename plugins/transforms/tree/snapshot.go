package tree

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
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
		dst = appendString(dst, id)
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
			dst = appendString(dst, n.pstamp.Peer)
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
			dst = appendString(dst, e.prev.parent)
			dst = append(dst, `,"key":`...)
			dst = appendString(dst, e.prev.key)
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
		dst = appendString(dst, d.horizon.Peer)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendPos appends `,"parent":...,"key":...[,"deleted":true]`.
func appendPos(dst []byte, parent, key string, deleted bool) []byte {
	dst = append(dst, `,"parent":`...)
	dst = appendString(dst, parent)
	dst = append(dst, `,"key":`...)
	dst = appendString(dst, key)
	if deleted {
		dst = append(dst, `,"deleted":true`...)
	}
	return dst
}

// bool reads true or false.
func (s *scanner) bool(what, field string) (bool, error) {
	switch {
	case s.literal("true"):
		return true, nil
	case s.literal("false"):
		return false, nil
	}
	return false, invalid("%s: %s must be a boolean", what, field)
}

// Fields of snapshot objects, numbered for fields.once.
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
func (s *scanner) posField(fs *fields, p *pos, k string, fp, fk, fdel int) (bool, error) {
	var err error
	switch k {
	case "parent":
		if err = fs.once(fp, k); err == nil {
			p.parent, err = s.name(fs.what, k, MaxIDBytes)
		}
	case "key":
		if err = fs.once(fk, k); err == nil {
			p.key, err = s.name(fs.what, k, MaxKeyBytes)
		}
	case "deleted":
		if err = fs.once(fdel, k); err == nil && !s.literal("true") {
			err = invalid("%s: deleted must be true when present", fs.what)
		}
		p.deleted = true
	default:
		return false, nil
	}
	return true, err
}

// checkPos checks that parent and key go together, deleted with them.
func checkPos(fs *fields, p *pos, fp, fk, fdel int) error {
	if fs.has(fp) != fs.has(fk) || (fs.has(fdel) && !fs.has(fp)) {
		return invalid("%s: parent and key go together (and deleted with them)", fs.what)
	}
	p.exists = fs.has(fp)
	return nil
}

// ParseSnapshot loads a snapshot. The "live" flags are derived: ignored and recomputed.
func ParseSnapshot(b []byte) (*Doc, error) {
	return parseSnapshot(b, MaxLog)
}

func parseSnapshot(b []byte, maxLog int) (*Doc, error) {
	d := NewDoc()
	d.maxLog = maxLog
	s := scanner{b: b, names: map[string]string{}}
	top := fields{what: "snapshot"}
	err := s.object("snapshot", func(k string) error {
		switch k {
		case "nodes":
			if err := top.once(fNodes, k); err != nil {
				return err
			}
			i := 0
			d.nodes = make(map[string]*node, min(len(b)/64, MaxNodes))
			return s.array("snapshot: nodes", func() error {
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
			if err := top.once(fLog, k); err != nil {
				return err
			}
			d.log = make([]entry, 0, min(len(b)/64, maxLog))
			return s.array("snapshot: log", func() error {
				if len(d.log) >= maxLog {
					return invalid("snapshot: more than %d log entries", maxLog)
				}
				if err := s.entry(d, "snapshot log entry"); err != nil {
					return fmt.Errorf("log entry %d: %w", len(d.log), err)
				}
				return nil
			})
		case "horizon":
			if err := top.once(fHorizon, k); err != nil {
				return err
			}
			var h Stamp
			hf := fields{what: "horizon"}
			err := s.object("horizon", func(k string) error {
				var err error
				switch k {
				case "ts":
					if err = hf.once(0, k); err == nil {
						h.TS, err = s.int("horizon", k)
					}
				case "peer":
					if err = hf.once(1, k); err == nil {
						h.Peer, err = s.name("horizon", k, MaxPeerBytes)
					}
				default:
					err = invalid("horizon: unknown key %q", k)
				}
				return err
			})
			if err == nil && !(hf.has(0) && hf.has(1)) {
				err = invalid("horizon needs ts and peer")
			}
			d.horizon = &h
			return err
		}
		return invalid("snapshot: unknown key %q", k)
	})
	if err == nil {
		err = s.end("snapshot")
	}
	if err == nil && !(top.has(fNodes) && top.has(fLog)) {
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
	fs := fields{what: what}
	var id string
	var p pos
	if len(s.slab) == 0 {
		s.slab = make([]node, 256) // nodes come in slabs: fewer objects for the guest's GC
	}
	n := &s.slab[0]
	s.slab = s.slab[1:]
	err := s.object(what, func(k string) error {
		if ok, err := s.posField(&fs, &p, k, fNodeParent, fNodeKey, fNodeDeleted); ok {
			return err
		}
		var err error
		switch k {
		case "id":
			if err = fs.once(fNodeID, k); err == nil {
				id, err = s.name(what, k, MaxIDBytes)
			}
		case "live":
			if err = fs.once(fNodeLive, k); err == nil {
				_, err = s.bool(what, k)
			}
		case "payload":
			if err = fs.once(fNodePayload, k); err == nil {
				n.payload, err = s.payload(what, k, MaxPayloadBytes)
			}
		case "pts":
			if err = fs.once(fNodePTS, k); err == nil {
				n.pstamp.TS, err = s.int(what, k)
			}
		case "ppeer":
			if err = fs.once(fNodePPeer, k); err == nil {
				n.pstamp.Peer, err = s.name(what, k, MaxPeerBytes)
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
	hasPayload := fs.has(fNodePayload)
	switch {
	case !fs.has(fNodeID):
		return invalid("%s: no id", what)
	case id == Root:
		return invalid("%s: the root is not stored", what)
	case d.nodes[id] != nil:
		return invalid("%s: id %q appears twice", what, id)
	case p.exists && p.parent == id:
		return invalid("%s: its own parent", what)
	case hasPayload != fs.has(fNodePTS) || hasPayload != fs.has(fNodePPeer):
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
	fs := fields{what: what}
	var e entry
	err := s.object(what, func(k string) error {
		var err error
		switch k {
		case "op":
			if err = fs.once(fEntryOp, k); err == nil {
				e.op, err = s.op(what + " op")
			}
		case "skip":
			if err = fs.once(fEntrySkip, k); err == nil && !s.literal("true") {
				err = invalid("%s: skip must be true when present", what)
			}
			e.skipped = true
		case "prev":
			if err = fs.once(fEntryPrev, k); err != nil {
				return err
			}
			pf := fields{what: what + " prev"}
			err = s.object(pf.what, func(k string) error {
				if ok, err := s.posField(&pf, &e.prev, k, 0, 1, 2); ok {
					return err
				}
				return invalid("%s: unknown key %q", pf.what, k)
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
	case !fs.has(fEntryOp):
		return invalid("%s: no op", what)
	case e.op.Kind == Update || e.op.Payload != nil:
		return invalid("%s: updates and payloads are not logged", what)
	case e.skipped && fs.has(fEntryPrev):
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
