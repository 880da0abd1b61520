package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/opstream/opstream/protocol"
)

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventOp is another peer's op: Revision, Op, ClientID, Seq. Ops come in revision order,
	// each once, each greater than the Doc's revision when it was delivered.
	EventOp EventKind = iota + 1
	// EventAck reports that this client's op Seq is durable at Revision. It is ordered with the
	// EventOps (everything before it has a lower revision), which is what a client-side OT loop
	// needs to know which remote ops already include its op.
	EventAck
	// EventReject reports that the server refused this client's op Seq with Err (a
	// *protocol.Error); the caller must undo or drop it.
	EventReject
	// EventAwareness is a peer's awareness State (nil: the peer cleared it).
	EventAwareness
	// EventPeerLeft reports that Peer left or its connection died: drop its state.
	EventPeerLeft
	// EventReload reports that a rejoin could not send the missing ops: Snapshot at Revision
	// replaces the document; every unacknowledged op failed with ErrReloaded.
	EventReload
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventOp:
		return "op"
	case EventAck:
		return "ack"
	case EventReject:
		return "reject"
	case EventAwareness:
		return "awareness"
	case EventPeerLeft:
		return "peerLeft"
	case EventReload:
		return "reload"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one entry of a Doc's event stream; Kind says which fields are set.
type Event struct {
	Kind     EventKind
	Revision int64           // EventOp, EventAck, EventReload
	Op       json.RawMessage // EventOp
	ClientID string          // EventOp: the author; EventAck, EventReject: this client
	Seq      uint64          // EventOp, EventAck, EventReject
	Peer     string          // EventAwareness, EventPeerLeft
	State    json.RawMessage // EventAwareness
	Snapshot json.RawMessage // EventReload
	Err      error           // EventReject
}

// LogOp returns an EventOp as the protocol's log entry.
func (e Event) LogOp() protocol.LogOp {
	return protocol.LogOp{Revision: e.Revision, Op: e.Op, ClientID: e.ClientID, Seq: e.Seq}
}

// Doc is a document joined over a Conn. Its methods are safe for concurrent use.
type Doc struct {
	c       *Conn
	id      string
	docType string
	idQ     []byte // id as a JSON string

	events chan Event
	gone   chan struct{} // closed when the Doc ends
	sendMu sync.Mutex    // held by the reader while it sends; guards evClosed
	evDone bool

	// Guarded by c.mu.
	joined    bool          // a joined reply was applied
	live      bool          // joined on the current physical connection
	joinRef   uint64        // ref of the join in flight
	ready     chan struct{} // closed at the first joined, or when the first join fails
	rev       int64         // the latest revision delivered (ops, acks, joined)
	snapshot  json.RawMessage
	snapRev   int64
	peerID    string
	access    string
	peers     map[string]json.RawMessage
	pending   []*Pending // unacknowledged ops in seq order
	awareness json.RawMessage
	err       error
}

// Join joins docID (of engine docType) and waits for the server's joined reply. While the
// connection is down (with Reconnect), the join is sent after the next connect. A refusal is a
// wrapped *protocol.Error.
func (c *Conn) Join(ctx context.Context, docID, docType string) (*Doc, error) {
	if err := protocol.ValidateDocID(docID, protocol.Limits{}); err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	if err := protocol.ValidateDocType(docType, protocol.Limits{}); err != nil {
		return nil, fmt.Errorf("join %s: %w", docID, err)
	}
	idQ, err := json.Marshal(docID)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", docID, err)
	}
	d := &Doc{
		c:       c,
		id:      docID,
		docType: docType,
		idQ:     idQ,
		events:  make(chan Event, c.opts.EventBuffer),
		gone:    make(chan struct{}),
		ready:   make(chan struct{}),
		peers:   make(map[string]json.RawMessage),
	}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, fmt.Errorf("join %s: %w", docID, err)
	}
	if c.docs[docID] != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("join %s: %w", docID, ErrAlreadyJoined)
	}
	c.docs[docID] = d
	if c.connected {
		c.sendJoinLocked(d)
	}
	c.mu.Unlock()

	select {
	case <-d.ready:
	case <-ctx.Done():
		c.mu.Lock()
		select {
		case <-d.ready: // the reply won the race
			c.mu.Unlock()
		default:
			sent := d.joinRef != 0
			if c.docs[docID] == d {
				delete(c.docs, docID)
			}
			c.endDocLocked(d, ctx.Err())
			if sent && c.connected {
				c.enqueueLocked(fmt.Appendf(nil, `{"type":"leave","doc":%s}`, d.idQ))
			}
			c.mu.Unlock()
			return nil, fmt.Errorf("join %s: %w", docID, ctx.Err())
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !d.joined {
		return nil, fmt.Errorf("join %s: %w", docID, d.err)
	}
	return d, nil
}

// ID returns the document id.
func (d *Doc) ID() string { return d.id }

// Type returns the document type named at join.
func (d *Doc) Type() string { return d.docType }

// Revision returns the latest revision the Doc knows: the joined revision, advanced by every
// delivered op and every ack of this client's ops.
func (d *Doc) Revision() int64 {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return d.rev
}

// Snapshot returns the document snapshot received at join (or at the latest reload).
func (d *Doc) Snapshot() json.RawMessage {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return d.snapshot
}

// SnapshotRevision returns the revision Snapshot is at.
func (d *Doc) SnapshotRevision() int64 {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return d.snapRev
}

// PeerID returns the peer id the server assigned at the latest join.
func (d *Doc) PeerID() string {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return d.peerID
}

// Access returns the access the server granted: "read" or "write".
func (d *Doc) Access() string {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return d.access
}

// Peers returns the other peers' live awareness states, sorted by peer id.
func (d *Doc) Peers() []protocol.PeerState {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	out := make([]protocol.PeerState, 0, len(d.peers))
	for p, s := range d.peers {
		out = append(out, protocol.PeerState{Peer: p, State: s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Peer < out[j].Peer })
	return out
}

// Pending returns how many of this client's ops await their ack.
func (d *Doc) Pending() int {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return len(d.pending)
}

// Events returns the Doc's ordered event stream. The caller must drain it: the connection's
// reader blocks while it is full. It is closed when the Doc ends (Leave, Close, a refused
// rejoin, or a drop without Reconnect); Err then says why.
func (d *Doc) Events() <-chan Event { return d.events }

// Done is closed when the Doc ends.
func (d *Doc) Done() <-chan struct{} { return d.gone }

// Err returns why the Doc ended, or nil while it is joined.
func (d *Doc) Err() error {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return d.err
}

// deliver hands ev to the consumer; it gives up when the Doc or the Conn ends.
func (d *Doc) deliver(ctx context.Context, ev Event) {
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	if d.evDone {
		return
	}
	select {
	case d.events <- ev:
	case <-d.gone:
	case <-ctx.Done():
	}
}

// closeEvents ends the Doc's channels; the caller holds c.mu (the reader never holds c.mu while
// it holds sendMu, and closing gone releases a reader blocked in deliver).
func (d *Doc) closeEvents() {
	close(d.gone)
	d.sendMu.Lock()
	d.evDone = true
	close(d.events)
	d.sendMu.Unlock()
}

// Pending is a submitted op awaiting its ack.
type Pending struct {
	// Seq numbers the op among this client's ops on the document (1, 2, ...).
	Seq uint64
	// Base is the revision the op was made against.
	Base int64

	doc *Doc
	op  json.RawMessage
	ref uint64 // ref of the submit in flight; guarded by c.mu
	// early is the revision of an ack that arrived before the ops preceding it (the document
	// dropped this client meanwhile): the ack is held until those ops are delivered.
	early int64
	done  chan struct{}
	rev   int64
	err   error
}

// Done is closed when the op is acknowledged or has failed.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Result returns the op's revision, or why it failed; call it after Done is closed.
func (p *Pending) Result() (revision int64, err error) {
	select {
	case <-p.done:
		return p.rev, p.err
	default:
		return 0, errors.New("client: op still pending")
	}
}

// Wait waits for the ack and returns the op's revision. When ctx ends first the op stays
// pending (it is still sent, acknowledged and resubmitted after a reconnect).
func (p *Pending) Wait(ctx context.Context) (revision int64, err error) {
	select {
	case <-p.done:
		return p.rev, p.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// SubmitAsync sends op, made against revision base, and returns at once. The op is numbered
// with the next seq of this document; it stays pending until acknowledged, across reconnects.
// The client does no transformation: keep one op in flight per document and compose the rest
// (see docs/protocol.md).
func (d *Doc) SubmitAsync(op json.RawMessage, base int64) (*Pending, error) {
	if !json.Valid(op) {
		return nil, fmt.Errorf("submit to %s: %w", d.id, protocol.Errorf(protocol.CodeInvalidMessage, "op is not valid JSON"))
	}
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.err != nil {
		return nil, fmt.Errorf("submit to %s: %w", d.id, d.err)
	}
	seq := c.seqs[d.id] + 1
	c.seqs[d.id] = seq
	p := &Pending{Seq: seq, Base: base, doc: d, op: bytes.Clone(op), done: make(chan struct{})}
	d.pending = append(d.pending, p)
	if d.live {
		c.sendSubmitLocked(d, p)
	}
	return p, nil
}

// Submit sends op made against revision base and waits for its ack: the op's revision. A
// refusal is a wrapped *protocol.Error.
func (d *Doc) Submit(ctx context.Context, op json.RawMessage, base int64) (revision int64, err error) {
	p, err := d.SubmitAsync(op, base)
	if err != nil {
		return 0, err
	}
	r, err := p.Wait(ctx)
	if err != nil {
		return 0, fmt.Errorf("submit to %s seq %d: %w", d.id, p.Seq, err)
	}
	return r, nil
}

// SetAwareness publishes this peer's awareness state on the document (nil or "null" clears
// it). It returns without waiting: awareness has no reply. The state is sent again after a
// rejoin.
func (d *Doc) SetAwareness(ctx context.Context, state json.RawMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(state) == 0 {
		state = json.RawMessage("null")
	}
	if !json.Valid(state) {
		return fmt.Errorf("awareness on %s: %w", d.id, protocol.Errorf(protocol.CodeInvalidMessage, "state is not valid JSON"))
	}
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.err != nil {
		return fmt.Errorf("awareness on %s: %w", d.id, d.err)
	}
	d.awareness = bytes.Clone(state)
	if d.live {
		c.sendAwarenessLocked(d)
	}
	if string(state) == "null" {
		d.awareness = nil // nothing to restore after a rejoin
	}
	return nil
}

// Leave leaves the document and waits for the server's reply. The Doc ends with ErrLeft: its
// unacknowledged ops fail and its event channel closes. While disconnected it leaves locally.
func (d *Doc) Leave(ctx context.Context) error {
	c := d.c
	c.mu.Lock()
	if c.docs[d.id] != d {
		c.mu.Unlock()
		return nil
	}
	delete(c.docs, d.id)
	live := d.live && c.connected
	c.endDocLocked(d, ErrLeft)
	var ch chan reply
	if live {
		ref := c.newRefLocked()
		ch = make(chan reply, 1)
		c.waiters[ref] = waiter{ch: ch}
		c.enqueueLocked(fmt.Appendf(nil, `{"type":"leave","ref":%d,"doc":%s}`, ref, d.idQ))
	}
	c.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case r := <-ch:
		if r.err != nil && !errors.Is(r.err, ErrDisconnected) && !errors.Is(r.err, ErrClosed) {
			return fmt.Errorf("leave %s: %w", d.id, r.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("leave %s: %w", d.id, ctx.Err())
	}
}
