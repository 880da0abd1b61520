// Package tree is the "tree" document engine: a tree of nodes, each with a parent, an ordering
// key among its siblings and a JSON payload, edited by create, move, delete and update ops
// stamped (ts, peer). It is an operation-based CRDT after Kleppmann et al., "A highly-available
// move operation for replicated trees" (IEEE TPDS 2021): the document is defined as the result
// of applying every op it has received in stamp order, and a move that would make a node its
// own ancestor is skipped. An op that arrives late (its stamp is older than ops already
// applied) is put in place by undo-do-redo over the op log, so replicas that received the same
// set of ops, in any order, have the same tree; the transform is the identity.
//
// Payloads are separate last-writer-wins registers per node (they never make cycles), so
// updates need no log. See README.md for the op, the semantics and the snapshot.
//
// A Doc is not safe for concurrent use; the engine runs one call at a time.
package tree

import (
	"bytes"
	"encoding/json"
	"slices"
)

// node is the state of one node id.
type node struct {
	// position, set by create/move/delete
	exists  bool // created (by a create op that was not skipped)
	deleted bool // in the trash
	parent  string
	key     string
	// payload register, set by create/update, independent of the position
	payload json.RawMessage // nil: no payload op yet
	pstamp  Stamp
	mark    uint8 // scratch of whole-document walks (markLive, checkForest); zero otherwise
}

// pos is a node's position, saved in a log entry to undo it.
type pos struct {
	exists, deleted bool
	parent, key     string
}

func (n *node) pos() pos {
	if n == nil {
		return pos{}
	}
	return pos{n.exists, n.deleted, n.parent, n.key}
}

// entry is one position op (create, move, delete) in the log, with what undoes it.
type entry struct {
	op      Op
	skipped bool // the op changed nothing (unknown node or parent, or a cycle)
	prev    pos  // the node's position before the op
}

// Doc is a live tree document.
type Doc struct {
	nodes        map[string]*node
	log          []entry // position ops in stamp order, at most maxLog
	horizon      *Stamp  // stamp of the newest op folded out of the log; older ops are refused
	payloadBytes int
	maxLog       int
}

// NewDoc returns an empty document.
func NewDoc() *Doc { return &Doc{nodes: map[string]*node{}, maxLog: MaxLog} }

// Empty is the snapshot of an empty document.
const Empty = `{"nodes":[],"log":[]}`

// Apply applies op. Payloads join by last writer wins; a create, move or delete takes its
// place in the log by stamp, undoing and redoing the newer ops. It fails, leaving d unchanged,
// only on the order-dependent limits the server decides once: more than MaxNodes nodes, more
// than MaxTotalPayloadBytes of payloads, or a create/move/delete older than the log's horizon
// (see README.md).
func (d *Doc) Apply(op Op) error {
	n := d.nodes[op.ID]
	if n == nil && len(d.nodes) >= MaxNodes {
		return invalid("the document would hold more than %d nodes", MaxNodes)
	}
	setsPayload := op.Payload != nil && (n == nil || n.payload == nil || newer(op.Stamp, op.Payload, n.pstamp, n.payload))
	if setsPayload {
		old := 0
		if n != nil {
			old = len(n.payload)
		}
		if d.payloadBytes-old+len(op.Payload) > MaxTotalPayloadBytes {
			return invalid("the document's payloads would exceed %d bytes", MaxTotalPayloadBytes)
		}
	}
	if op.Kind != Update && d.horizon != nil && op.Stamp.Compare(*d.horizon) <= 0 {
		return invalid("op stamp (%d, %q) is not newer than the document's history horizon (%d, %q)", op.TS, op.Peer, d.horizon.TS, d.horizon.Peer)
	}
	if setsPayload {
		if n == nil {
			n = &node{}
			d.nodes[op.ID] = n
		}
		d.payloadBytes += len(op.Payload) - len(n.payload)
		n.payload, n.pstamp = op.Payload, op.Stamp
	}
	if op.Kind == Update {
		return nil
	}
	// The log holds the position part of the op: its payload is in the register already (so
	// payloads count once against the limits).
	op.Payload = nil
	i, found := slices.BinarySearchFunc(d.log, &op, func(e entry, o *Op) int { return compareOps(&e.op, o) })
	if found {
		return nil // redelivered: the same position op is in the log
	}
	// Undo the ops newer than op, newest first; do op; redo them in order.
	for j := len(d.log) - 1; j >= i; j-- {
		d.undo(&d.log[j])
	}
	d.log = slices.Insert(d.log, i, entry{op: op})
	for j := i; j < len(d.log); j++ {
		d.do(&d.log[j])
	}
	if over := len(d.log) - d.maxLog; over > 0 {
		h := d.log[over-1].op.Stamp
		d.horizon = &h
		clear(d.log[:over])
		d.log = d.log[over:] // O(1); append reallocates and copies only the kept entries
	}
	return nil
}

// newer reports whether payload register value (s, v) beats (os, ov): by stamp, then value.
func newer(s Stamp, v []byte, os Stamp, ov []byte) bool {
	if c := s.Compare(os); c != 0 {
		return c > 0
	}
	return bytes.Compare(v, ov) > 0
}

// do applies a log entry to the current state, recording how to undo it.
func (d *Doc) do(e *entry) {
	op := &e.op
	n := d.nodes[op.ID]
	e.prev, e.skipped = n.pos(), true
	switch op.Kind {
	case Create:
		if d.cycle(op.ID, op.Parent) {
			return
		}
		if n == nil {
			n = &node{}
			d.nodes[op.ID] = n
		}
		n.exists, n.deleted, n.parent, n.key = true, false, op.Parent, op.Key
	case Move:
		if n == nil || !n.exists || !d.live(op.Parent) || d.cycle(op.ID, op.Parent) {
			return
		}
		n.deleted, n.parent, n.key = false, op.Parent, op.Key
	case Delete:
		if n == nil || !n.exists {
			return
		}
		n.deleted = true
	}
	e.skipped = false
}

// undo reverts a log entry: it must be the newest entry still applied.
func (d *Doc) undo(e *entry) {
	if e.skipped {
		return
	}
	n := d.nodes[e.op.ID]
	if n == nil { // only with an inconsistent snapshot
		return
	}
	n.exists, n.deleted, n.parent, n.key = e.prev.exists, e.prev.deleted, e.prev.parent, e.prev.key
	if !n.exists && n.payload == nil {
		delete(d.nodes, e.op.ID)
	}
}

// cycle reports whether making parent the parent of id would make id its own ancestor. The
// walk is bounded because the parent pointers of existing nodes form a forest (an invariant
// that snapshot loading checks).
func (d *Doc) cycle(id, parent string) bool {
	for p, steps := parent, 0; p != Root && steps <= len(d.nodes); steps++ {
		if p == id {
			return true
		}
		n := d.nodes[p]
		if n == nil || !n.exists {
			return false
		}
		p = n.parent
	}
	return false
}

// live reports whether id is in the tree: the root, or an existing node that is not deleted
// whose parent is live.
func (d *Doc) live(id string) bool {
	for steps := 0; id != Root; steps++ {
		n := d.nodes[id]
		if n == nil || !n.exists || n.deleted || steps > len(d.nodes) {
			return false
		}
		id = n.parent
	}
	return true
}

// Node is a node as a reader of the document sees it.
type Node struct {
	ID       string
	Parent   string
	Key      string
	Payload  json.RawMessage
	Children []string // ids of the live children, ordered by (key, id)
}

// Tree returns the live nodes (those reachable from the root through nodes that are not
// deleted) by id, the root included, each with its children in order.
func (d *Doc) Tree() map[string]*Node {
	live := d.liveSet()
	out := map[string]*Node{Root: {ID: Root}}
	for id := range live {
		n := d.nodes[id]
		out[id] = &Node{ID: id, Parent: n.parent, Key: n.key, Payload: n.payload}
	}
	for id := range live {
		p := out[d.nodes[id].parent]
		p.Children = append(p.Children, id)
	}
	for _, n := range out {
		slices.SortFunc(n.Children, func(a, b string) int {
			if c := bytes.Compare([]byte(d.nodes[a].key), []byte(d.nodes[b].key)); c != 0 {
				return c
			}
			return bytes.Compare([]byte(a), []byte(b))
		})
	}
	return out
}

// liveSet returns the ids of the live nodes, in O(nodes).
func (d *Doc) liveSet() map[string]bool {
	d.markLive()
	live := make(map[string]bool)
	for id, n := range d.nodes {
		if n.mark == markLive {
			live[id] = true
		}
		n.mark = 0
	}
	return live
}

// Values of node.mark, a scratch field of whole-document walks (zero between them).
const (
	markLive = iota + 1
	markDead
	markOnPath
	markDone
)

// markLive sets every node's mark to markLive or markDead, in O(nodes). The caller resets
// the marks to zero.
func (d *Doc) markLive() {
	var path []*node
	for _, n := range d.nodes {
		path = path[:0]
		state := uint8(markDead)
		for q := n; ; {
			if q.mark == markLive || q.mark == markDead {
				state = q.mark
				break
			}
			if !q.exists || q.deleted || len(path) > len(d.nodes) {
				break
			}
			path = append(path, q)
			if q.parent == Root {
				state = markLive
				break
			}
			if q = d.nodes[q.parent]; q == nil {
				break
			}
		}
		for _, q := range path {
			q.mark = state
		}
		if n.mark == 0 {
			n.mark = markDead
		}
	}
}
