// Package doc holds the document actor and its registry.
//
// Each loaded document is owned by one goroutine (the actor, Doc.run): it alone touches the
// document's state, assigns revisions, appends to storage (through a group committer), and fans
// ops out to its peers. Everything else talks to it through a bounded inbox; replies come back
// through callbacks the actor calls on its own goroutine, which must not block.
//
// Ordering: an op is validated, rebased over the ops since its base revision, applied in memory
// and handed to the committer at once, so the actor keeps working while appends are in flight.
// Acks, broadcasts and reads (join snapshots, HTTP gets) are released only when the revisions
// they cover are durable, in revision order.
package doc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/protocol"
)

// ErrStateLost marks an engine error after which the live state cannot be trusted (an engine
// failed halfway through an op): the document reloads from storage even when the op is refused
// as InvalidOp.
var ErrStateLost = errors.New("doc: engine state lost")

// ErrClosed is returned for requests that reach a document after its actor stopped; the caller
// gets the document again from the registry and retries.
var ErrClosed = errors.New("doc: document closed")

// Engine is what a document needs from its document engine.
type Engine interface {
	// Empty returns the snapshot of a new document.
	Empty(ctx context.Context) ([]byte, error)
	// Open loads a snapshot as live state.
	Open(ctx context.Context, snapshot []byte) (State, error)
}

// State is one document's live state inside its engine. It is used only by the document's actor.
type State interface {
	// Apply rebases op over concurrent (in order) with side, validates it against the state and
	// applies it, returning the op as applied. A refused op returns a *protocol.Error with code
	// InvalidOp and leaves the state unchanged.
	Apply(ctx context.Context, op []byte, concurrent [][]byte, side int32) ([]byte, error)
	// Snapshot serializes the state.
	Snapshot(ctx context.Context) ([]byte, error)
	// Close releases the state.
	Close(ctx context.Context)
}

// Engines finds the engine for a document type.
type Engines interface {
	Engine(docType string) (Engine, bool)
}

// Committer appends ops durably. Enqueue must not block; done is called exactly once, from
// any goroutine, and must not block either.
type Committer interface {
	Enqueue(a storage.Append, done func(storage.AppendResult))
}

// Peer is one connection's membership in a document, as the actor sees it.
type Peer interface {
	// ID is the server-assigned peer id.
	ID() string
	// Send queues an encoded message for the peer without blocking; false means the peer's
	// outbox is full, and the actor drops the peer.
	Send(msg []byte) bool
	// Dropped tells the peer's connection that the document dropped it, with the reason. It must
	// not block.
	Dropped(doc storage.DocKey, err *protocol.Error)
}

type opEntry struct {
	rev      int64
	clientID string
	seq      uint64
	data     []byte
}

type clientState struct {
	Seq uint64 `json:"s"`
	Rev int64  `json:"r"`
}

type peerEntry struct {
	peer      Peer
	joinedRev int64 // ops up to here were in the peer's join reply
	ready     bool  // the join reply was sent
	// afterJoin holds replies to this peer's own submits that became durable while its
	// (re)join reply waited: they follow that reply, so the peer gets the ops before its own
	// op (listed in the reply) first and never an ack ahead of them.
	afterJoin []func()
	awareness json.RawMessage
	awareAt   time.Time
}

// pendingOp is an applied op waiting to become durable.
type pendingOp struct {
	entry  opEntry
	author string // peer id, "" for HTTP
	reply  func(SubmitResult, error)
	start  time.Time  // when the op reached the actor (apply latency)
	span   trace.Span // opstream.store.append, ended when the op is durable
	rebase int        // concurrent ops the op was rebased over
}

// waiter is released when the document is durable up to rev.
type waiter struct {
	rev  int64
	fn   func()
	fail func(error) // called instead of fn when the document fails first; may be nil
}

// Doc is a loaded document. Its exported methods are safe for concurrent use; they hand requests
// to the actor.
type Doc struct {
	key     storage.DocKey
	reg     *Registry
	inbox   chan *request
	commits *commitBox
	done    chan struct{}
	log     *slog.Logger
	idPart  []byte // the JSON-encoded doc id, for hand-built messages

	// Owned by the actor goroutine.
	docType     string
	state       State
	exists      bool  // the document is in storage (or an append creating it is in flight)
	rev         int64 // applied in memory
	durable     int64 // appended durably
	recent      []opEntry
	clients     map[string]clientState
	peers       map[string]*peerEntry
	pending     []pendingOp
	unsent      []storage.Op
	outstanding int
	waiters     []waiter
	snapRev     int64
	snapAt      time.Time
	lastActive  time.Time
	broken      bool
	epoch       uint64 // fencing epoch of this node's ownership, carried by every append
}

type requestKind int

const (
	reqJoin requestKind = iota
	reqLeave
	reqSubmit
	reqAwareness
	reqRead
	reqEvict
	reqDiag
)

type request struct {
	kind  requestKind
	taken atomic.Int32 // 0 queued, 1 taken by the actor, 2 cancelled by the sender

	peer      Peer
	peerID    string
	docType   string
	knownRev  *int64
	submit    SubmitRequest
	state     json.RawMessage
	onJoin    func(JoinResult, error)
	onSubmit  func(SubmitResult, error)
	onRead    func(ReadResult, error)
	onLeave   func()
	onDiag    func(Diag)
	limit     int
	createNew bool
	evictErr  *protocol.Error
}

// clone copies a request for another delivery attempt, with a fresh taken flag.
func (r *request) clone() *request {
	return &request{
		kind: r.kind, peer: r.peer, peerID: r.peerID, docType: r.docType, knownRev: r.knownRev,
		submit: r.submit, state: r.state, onJoin: r.onJoin, onSubmit: r.onSubmit, onRead: r.onRead,
		onLeave: r.onLeave, onDiag: r.onDiag, limit: r.limit, createNew: r.createNew, evictErr: r.evictErr,
	}
}

func (r *request) fail(err error) {
	switch {
	case r.onJoin != nil:
		r.onJoin(JoinResult{}, err)
	case r.onSubmit != nil:
		r.onSubmit(SubmitResult{}, err)
	case r.onRead != nil:
		r.onRead(ReadResult{}, err)
	case r.onLeave != nil:
		r.onLeave()
	case r.onDiag != nil:
		r.onDiag(Diag{})
	}
}

type commitResult struct {
	upTo int64
	res  storage.AppendResult
}

// JoinResult is the reply to a join.
type JoinResult struct {
	DocType  string
	Revision int64
	// Snapshot is set unless Ops carries the catch-up from the known revision.
	Snapshot json.RawMessage
	Ops      []protocol.LogOp
	Reload   bool
	Peers    []protocol.PeerState
}

// SubmitRequest is one op submission.
type SubmitRequest struct {
	DocType      string
	BaseRevision int64
	Op           json.RawMessage
	ClientID     string
	Seq          uint64
	// Author is the submitting peer's id ("" for HTTP); its op is not echoed back to it.
	Author string
	// SpanContext is the submitter's opstream.session.apply_op span (possibly on another
	// node); the actor's engine and store spans are its children. The zero value (tracing off)
	// starts no spans and costs nothing.
	SpanContext trace.SpanContext
}

// SubmitResult is the outcome of an accepted op, sent once it is durable.
type SubmitResult struct {
	Revision  int64
	Op        json.RawMessage
	Duplicate bool
	// Transforms is how many concurrent ops the op was rebased over (for its span).
	Transforms int
}

// ReadResult is a document's durable state.
type ReadResult struct {
	DocType  string
	Revision int64
	Snapshot json.RawMessage
}

func newDoc(reg *Registry, key storage.DocKey) *Doc {
	idJSON, _ := json.Marshal(key.ID)
	return &Doc{
		key:     key,
		reg:     reg,
		inbox:   make(chan *request, reg.cfg.InboxSize),
		commits: &commitBox{signal: make(chan struct{}, 1)},
		done:    make(chan struct{}),
		log:     reg.log.With("doc", key.String()),
		idPart:  idJSON,
		clients: make(map[string]clientState),
		peers:   make(map[string]*peerEntry),
	}
}

// Key returns the document's key.
func (d *Doc) Key() storage.DocKey { return d.key }

// send hands a request to the actor. It fails with ErrClosed if the actor has stopped; then
// nothing was done and no callback will be called.
func (d *Doc) send(ctx context.Context, r *request) error {
	select {
	case d.inbox <- r:
	case <-d.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-d.done:
		// The actor may have stopped before draining this request; whoever flips the flag first
		// owns it.
		if r.taken.CompareAndSwap(0, 2) {
			return ErrClosed
		}
	default:
	}
	return nil
}

// Join adds peer to the document (creating it in memory with docType when it does not exist).
// onJoin is called on the actor goroutine once the reply's revision is durable.
func (d *Doc) Join(ctx context.Context, peer Peer, docType string, knownRev *int64, onJoin func(JoinResult, error)) error {
	return d.send(ctx, &request{kind: reqJoin, peer: peer, peerID: peer.ID(), docType: docType, knownRev: knownRev, onJoin: onJoin, createNew: true})
}

// Leave removes a peer; onLeave (optional) is called when done.
func (d *Doc) Leave(ctx context.Context, peerID string, onLeave func()) error {
	return d.send(ctx, &request{kind: reqLeave, peerID: peerID, onLeave: onLeave})
}

// Submit orders an op. onSubmit is called on the actor goroutine once the op is durable (or
// refused).
func (d *Doc) Submit(ctx context.Context, s SubmitRequest, onSubmit func(SubmitResult, error)) error {
	return d.send(ctx, &request{kind: reqSubmit, submit: s, docType: s.DocType, onSubmit: onSubmit, createNew: true})
}

// SetAwareness sets a peer's ephemeral state (nil or "null" clears it).
func (d *Doc) SetAwareness(ctx context.Context, peerID string, state json.RawMessage) error {
	return d.send(ctx, &request{kind: reqAwareness, peerID: peerID, state: state})
}

// Read returns the document's durable snapshot. A document that does not exist gives NotFound.
func (d *Doc) Read(ctx context.Context, onRead func(ReadResult, error)) error {
	return d.send(ctx, &request{kind: reqRead, onRead: onRead})
}

// --- the actor ---

func (d *Doc) run(ctx context.Context) {
	defer d.exit()
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("document actor panicked", "panic", p)
			d.failAll(protocol.Errorf(protocol.CodeInternal, "document failed; rejoin"))
		}
	}()
	if err := d.load(ctx); err != nil {
		d.failLoad(err)
		return
	}
	tick := time.NewTicker(d.reg.cfg.TickInterval)
	defer tick.Stop()
	for {
		select {
		case r := <-d.inbox:
			if !r.taken.CompareAndSwap(0, 1) {
				continue
			}
			d.lastActive = d.reg.now()
			d.handle(ctx, r)
		case <-d.commits.signal:
			for _, c := range d.commits.take() {
				d.onCommit(ctx, c)
				if d.broken {
					return
				}
			}
		case <-tick.C:
			if d.tick(ctx) {
				return
			}
		case <-ctx.Done():
			d.shutdown()
			return
		}
		if d.broken {
			return
		}
	}
}

// exit stops the actor: it leaves the registry, then fails whatever is still queued.
func (d *Doc) exit() {
	d.reg.remove(d)
	close(d.done)
	for {
		select {
		case r := <-d.inbox:
			// A request that raced the exit goes to a fresh actor for the document (which
			// loads it from storage), so its sender sees no difference.
			if r.taken.CompareAndSwap(0, 1) {
				d.reg.redeliver(d.key, r)
			}
		default:
			if d.state != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				d.state.Close(ctx)
				cancel()
				d.state = nil
			}
			return
		}
	}
}

func (d *Doc) failLoad(err error) {
	d.log.Warn("load document", "err", err)
	perr := protocol.AsError(err)
	if !errors.As(err, new(*protocol.Error)) {
		perr = protocol.Errorf(protocol.CodeUnavailable, "document cannot be loaded now; retry")
	}
	d.broken = true
	for {
		select {
		case r := <-d.inbox:
			if r.taken.CompareAndSwap(0, 1) {
				r.fail(perr)
			}
		default:
			return
		}
	}
}

func (d *Doc) load(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, d.reg.cfg.LoadTimeout)
	defer cancel()
	d.lastActive = d.reg.now()
	d.snapAt = d.reg.now()
	loaded, err := d.reg.store.Load(lctx, d.key)
	notFound := errors.Is(err, storage.ErrNotFound)
	if err != nil && !notFound {
		return fmt.Errorf("load %s: %w", d.key, err)
	}
	var stored uint64
	if !notFound {
		stored = loaded.Info.Epoch
	}
	if d.epoch, err = d.reg.epoch(lctx, d.key, stored); err != nil {
		return err
	}
	if notFound {
		return nil // created by its first op, or by a join naming its type
	}
	d.exists = true
	d.docType = loaded.Info.Type
	eng, ok := d.reg.engines.Engine(d.docType)
	if !ok {
		return protocol.Errorf(protocol.CodeUnknownDocType, "document has type %q, which no engine serves", d.docType)
	}
	var snap []byte
	if loaded.Snapshot != nil {
		snap = loaded.Snapshot.Data
		d.rev = loaded.Snapshot.Revision
		d.snapRev = d.rev
		if len(loaded.Snapshot.Meta) > 0 {
			if err := json.Unmarshal(loaded.Snapshot.Meta, &d.clients); err != nil {
				d.log.Warn("snapshot metadata unreadable; deduplication starts empty", "err", err)
				d.clients = make(map[string]clientState)
			}
		}
	} else if snap, err = eng.Empty(lctx); err != nil {
		return fmt.Errorf("empty snapshot for %s: %w", d.docType, err)
	}
	st, err := eng.Open(lctx, snap)
	if err != nil {
		return fmt.Errorf("open snapshot of %s at %d: %w", d.key, d.rev, err)
	}
	d.state = st
	for d.rev < loaded.Info.Revision {
		page, err := d.reg.store.ReadOps(lctx, &storage.ReadOpsRequest{Doc: d.key, From: d.rev + 1, Limit: 1000})
		if err != nil {
			return fmt.Errorf("read ops of %s from %d: %w", d.key, d.rev+1, err)
		}
		if len(page.Ops) == 0 {
			return fmt.Errorf("op log of %s ends at %d, head says %d", d.key, d.rev, loaded.Info.Revision)
		}
		for _, op := range page.Ops {
			if op.Revision != d.rev+1 {
				return fmt.Errorf("op log of %s has a gap at %d", d.key, d.rev+1)
			}
			if _, err := st.Apply(lctx, op.Data, nil, 0); err != nil {
				return fmt.Errorf("replay op %d of %s: %w", op.Revision, d.key, err)
			}
			d.rev = op.Revision
			d.remember(opEntry{rev: op.Revision, clientID: op.ClientID, seq: op.Seq, data: op.Data})
		}
	}
	d.durable = d.rev
	return nil
}

// remember records an applied op in the recent window and the deduplication table.
func (d *Doc) remember(e opEntry) {
	d.recent = append(d.recent, e)
	if n := len(d.recent) - d.reg.cfg.RecentOps; n > d.reg.cfg.RecentOps/4 {
		d.recent = append(d.recent[:0:0], d.recent[n:]...)
	}
	if e.clientID != "" {
		if cs, ok := d.clients[e.clientID]; !ok || e.seq > cs.Seq {
			d.clients[e.clientID] = clientState{Seq: e.seq, Rev: e.rev}
		}
	}
	if len(d.clients) > d.reg.cfg.MaxClients {
		d.trimClients()
	}
}

// trimClients forgets the clients whose last op is oldest, keeping 3/4 of the limit.
func (d *Doc) trimClients() {
	keep := d.reg.cfg.MaxClients * 3 / 4
	revs := make([]int64, 0, len(d.clients))
	for _, cs := range d.clients {
		revs = append(revs, cs.Rev)
	}
	cut := nthLargest(revs, keep)
	for id, cs := range d.clients {
		if cs.Rev < cut {
			delete(d.clients, id)
		}
	}
}

func nthLargest(v []int64, n int) int64 {
	if n <= 0 || len(v) == 0 {
		return 1<<63 - 1
	}
	// selection by sorting a copy: rare and bounded by MaxClients.
	s := append([]int64(nil), v...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] > s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if n > len(s) {
		n = len(s)
	}
	return s[n-1]
}

func (d *Doc) handle(ctx context.Context, r *request) {
	switch r.kind {
	case reqJoin:
		d.handleJoin(ctx, r)
	case reqLeave:
		d.removePeer(r.peerID, false)
		if r.onLeave != nil {
			r.onLeave()
		}
	case reqSubmit:
		d.handleSubmit(ctx, r)
	case reqAwareness:
		d.handleAwareness(r.peerID, r.state)
	case reqRead:
		d.handleRead(ctx, r)
	case reqEvict:
		d.log.Warn("document evicted", "reason", r.evictErr.Message)
		d.failAll(r.evictErr)
	case reqDiag:
		r.onDiag(d.diag(r.limit))
	}
}

// ensureType checks the document's type against a request's, creating the in-memory document
// when it does not exist yet.
func (d *Doc) ensureType(ctx context.Context, docType string) error {
	if d.state != nil {
		if docType != "" && docType != d.docType {
			return protocol.Errorf(protocol.CodeDocTypeMismatch, "document has type %q, not %q", d.docType, docType)
		}
		return nil
	}
	if docType == "" {
		return protocol.Errorf(protocol.CodeNotFound, "no document %q", d.key.ID)
	}
	eng, ok := d.reg.engines.Engine(docType)
	if !ok {
		return protocol.Errorf(protocol.CodeUnknownDocType, "no engine for document type %q", docType)
	}
	snap, err := eng.Empty(ctx)
	if err != nil {
		return fmt.Errorf("empty snapshot for %s: %w", docType, err)
	}
	st, err := eng.Open(ctx, snap)
	if err != nil {
		return fmt.Errorf("open empty %s document: %w", docType, err)
	}
	d.state, d.docType = st, docType
	return nil
}

func (d *Doc) handleJoin(ctx context.Context, r *request) {
	if err := d.ensureType(ctx, r.docType); err != nil {
		r.onJoin(JoinResult{}, err)
		return
	}
	// A rejoin over the same connection replaces the membership.
	pe := &peerEntry{peer: r.peer, joinedRev: d.rev}
	d.peers[r.peerID] = pe
	d.reg.cfg.Metrics.PeersPerDoc(ctx, len(d.peers))
	res := JoinResult{DocType: d.docType, Revision: d.rev}
	known := r.knownRev
	switch {
	case known != nil && *known == d.rev:
		res.Ops = []protocol.LogOp{}
	case known != nil && *known < d.rev && d.rev-*known <= int64(d.reg.cfg.MaxCatchupOps):
		ops, err := d.opsRange(ctx, *known+1, d.rev)
		if err == nil {
			res.Ops = make([]protocol.LogOp, len(ops))
			for i, e := range ops {
				res.Ops[i] = protocol.LogOp{Revision: e.rev, Op: e.data, ClientID: e.clientID, Seq: e.seq}
			}
			break
		}
		d.log.Warn("catch-up ops unavailable; client reloads", "err", err)
		fallthrough
	default:
		snap, err := d.state.Snapshot(ctx)
		if err != nil {
			delete(d.peers, r.peerID)
			r.onJoin(JoinResult{}, fmt.Errorf("snapshot for join: %w", err))
			d.resetOnEngineError(ctx, err)
			return
		}
		res.Snapshot = snap
		res.Reload = known != nil
	}
	for id, p := range d.peers {
		if id != r.peerID && p.awareness != nil {
			res.Peers = append(res.Peers, protocol.PeerState{Peer: id, State: p.awareness})
		}
	}
	d.whenDurable(res.Revision, func() {
		pe.ready = true
		r.onJoin(res, nil)
		pe.runAfterJoin()
	}, func(err error) {
		r.onJoin(JoinResult{}, err)
		pe.runAfterJoin()
	})
}

func (pe *peerEntry) runAfterJoin() {
	fns := pe.afterJoin
	pe.afterJoin = nil
	for _, fn := range fns {
		fn()
	}
}

// acknowledge answers a durable submit of author's: now, or right after author's join reply
// when that is still waiting (for a revision at or past this op's), so that the reply's ops
// reach the peer before the ack.
func (d *Doc) acknowledge(author string, reply func(SubmitResult, error), res SubmitResult) {
	if author != "" {
		if pe := d.peers[author]; pe != nil && !pe.ready {
			pe.afterJoin = append(pe.afterJoin, func() { reply(res, nil) })
			return
		}
	}
	reply(res, nil)
}

func (d *Doc) handleRead(ctx context.Context, r *request) {
	if d.state == nil || (!d.exists && d.rev == 0) {
		r.onRead(ReadResult{}, protocol.Errorf(protocol.CodeNotFound, "no document %q", d.key.ID))
		return
	}
	snap, err := d.state.Snapshot(ctx)
	if err != nil {
		r.onRead(ReadResult{}, fmt.Errorf("snapshot for read: %w", err))
		d.resetOnEngineError(ctx, err)
		return
	}
	res := ReadResult{DocType: d.docType, Revision: d.rev, Snapshot: snap}
	d.whenDurable(res.Revision, func() { r.onRead(res, nil) }, func(err error) { r.onRead(ReadResult{}, err) })
}

// whenDurable runs fn now if rev is durable, else once it is (in revision order with acks and
// broadcasts).
func (d *Doc) whenDurable(rev int64, fn func(), fail func(error)) {
	if rev <= d.durable {
		fn()
		return
	}
	d.waiters = append(d.waiters, waiter{rev: rev, fn: fn, fail: fail})
}

// opsRange returns the ops from..to, from the recent window or storage.
func (d *Doc) opsRange(ctx context.Context, from, to int64) ([]opEntry, error) {
	if from > to {
		return nil, nil
	}
	var out []opEntry
	if len(d.recent) == 0 || from < d.recent[0].rev {
		end := to
		if len(d.recent) > 0 && d.recent[0].rev-1 < end {
			end = d.recent[0].rev - 1
		}
		for next := from; next <= end; {
			page, err := d.reg.store.ReadOps(ctx, &storage.ReadOpsRequest{Doc: d.key, From: next, Limit: int(end - next + 1)})
			if err != nil {
				return nil, fmt.Errorf("read ops %d..%d: %w", next, end, err)
			}
			if len(page.Ops) == 0 {
				return nil, fmt.Errorf("ops from %d are no longer stored", next)
			}
			for _, op := range page.Ops {
				if op.Revision != next {
					return nil, fmt.Errorf("op log has a gap at %d", next)
				}
				out = append(out, opEntry{rev: op.Revision, clientID: op.ClientID, seq: op.Seq, data: op.Data})
				next++
				if next > end {
					break
				}
			}
		}
		from = end + 1
	}
	if from <= to && len(d.recent) > 0 {
		i := int(from - d.recent[0].rev)
		j := int(to - d.recent[0].rev + 1)
		out = append(out, d.recent[i:j]...)
	}
	return out, nil
}

func (d *Doc) handleSubmit(ctx context.Context, r *request) {
	s := r.submit
	start := time.Now()
	// Spans are children of the submitter's apply_op span; with tracing off (or no span
	// context) tctx is ctx and every span below is a no-op that costs a branch.
	tctx := ctx
	tracer := d.reg.cfg.Tracer
	if s.SpanContext.IsValid() && tracer.Enabled() {
		tctx = trace.ContextWithSpanContext(ctx, s.SpanContext)
	} else {
		tracer = nil
	}
	if err := d.ensureType(ctx, s.DocType); err != nil {
		r.onSubmit(SubmitResult{}, err)
		return
	}
	if cs, ok := d.clients[s.ClientID]; ok && s.Seq <= cs.Seq {
		d.duplicate(ctx, r, cs)
		return
	}
	if s.BaseRevision > d.rev {
		r.onSubmit(SubmitResult{}, protocol.Errorf(protocol.CodeInvalidOp, "baseRevision %d is ahead of the document's revision %d", s.BaseRevision, d.rev))
		return
	}
	var concurrent [][]byte
	if s.BaseRevision < d.rev {
		// The engine rebases and applies in one guest call; this span covers the host's part
		// of the rebase: gathering the concurrent ops (from memory, or storage when older).
		_, tspan := tracer.Start(tctx, telemetry.SpanEngineTransform)
		ops, err := d.opsRange(ctx, s.BaseRevision+1, d.rev)
		if err != nil {
			telemetry.SetStatus(tspan, string(protocol.CodeUnavailable), err)
			tspan.End()
			r.onSubmit(SubmitResult{}, protocol.Errorf(protocol.CodeUnavailable, "ops since revision %d cannot be read now", s.BaseRevision))
			d.log.WarnContext(tctx, "read ops for rebase", "err", err)
			return
		}
		concurrent = make([][]byte, len(ops))
		for i, e := range ops {
			concurrent[i] = e.data
		}
		telemetry.SetEngine(tspan, d.docType)
		telemetry.SetTransforms(tspan, len(concurrent))
		tspan.End()
	}
	_, aspan := tracer.Start(tctx, telemetry.SpanEngineApply)
	applied, err := d.state.Apply(ctx, s.Op, concurrent, 0)
	telemetry.SetEngine(aspan, d.docType)
	if err != nil {
		var perr *protocol.Error
		spanErr := error(nil) // a refusal's message may quote the op: record only the code
		if !errors.As(err, &perr) {
			perr = protocol.Errorf(protocol.CodeUnavailable, "the document engine failed on this op; the document reloads, retry")
			spanErr = err
		}
		telemetry.SetStatus(aspan, string(perr.Code), spanErr)
		aspan.End()
		r.onSubmit(SubmitResult{}, perr)
		// The log line carries the op's trace and span ids when it has a span context.
		lctx := ctx
		if s.SpanContext.IsValid() {
			lctx = trace.ContextWithSpanContext(ctx, s.SpanContext)
		}
		d.resetOnEngineError(lctx, err)
		return
	}
	if len(concurrent) > 0 {
		telemetry.SetTransforms(aspan, len(concurrent))
	}
	aspan.End()
	d.reg.cfg.Metrics.TransformsPerOp(ctx, len(concurrent))
	d.rev++
	d.exists = true
	e := opEntry{rev: d.rev, clientID: s.ClientID, seq: s.Seq, data: applied}
	d.remember(e)
	_, sspan := tracer.Start(tctx, telemetry.SpanStoreAppend)
	d.pending = append(d.pending, pendingOp{entry: e, author: s.Author, reply: r.onSubmit, start: start, span: sspan, rebase: len(concurrent)})
	d.unsent = append(d.unsent, storage.Op{Revision: e.rev, ClientID: e.clientID, Seq: e.seq, Data: e.data, UnixMillis: d.reg.now().UnixMilli()})
	d.flush()
}

// duplicate answers a resubmitted op with its original revision, once that is durable.
func (d *Doc) duplicate(ctx context.Context, r *request, cs clientState) {
	s := r.submit
	rev := cs.Rev
	if s.Seq < cs.Seq {
		rev = 0
		for i := len(d.recent) - 1; i >= 0; i-- {
			if e := d.recent[i]; e.clientID == s.ClientID && e.seq == s.Seq {
				rev = e.rev
				break
			}
		}
		if rev == 0 {
			// Not applied now (a lower seq never is), and no revision to acknowledge it with: it
			// was refused earlier while a later op of the client's went in (the client pipelined
			// submits), or applied too long ago to be found. An ack would claim it was applied.
			r.onSubmit(SubmitResult{}, protocol.Errorf(protocol.CodeInvalidOp,
				"seq %d of client %q is below its last applied seq %d and not among the last %d ops: not applied (a client's seq must grow, one op in flight per document)",
				s.Seq, s.ClientID, cs.Seq, len(d.recent)))
			return
		}
	}
	var op json.RawMessage
	if rev > 0 {
		if ops, err := d.opsRange(ctx, rev, rev); err == nil && len(ops) == 1 {
			op = ops[0].data
		}
	}
	res := SubmitResult{Revision: rev, Op: op, Duplicate: true}
	d.whenDurable(rev, func() { d.acknowledge(s.Author, r.onSubmit, res) },
		func(err error) { r.onSubmit(SubmitResult{}, err) })
}

// flush hands the unsent ops to the committer at once. The committer merges a document's
// queued appends into one, so ops that arrive while a call is in flight go together in the next.
func (d *Doc) flush() {
	if len(d.unsent) == 0 {
		return
	}
	ops := d.unsent
	d.unsent = nil
	d.outstanding++
	upTo := ops[len(ops)-1].Revision
	a := storage.Append{Doc: d.key, Type: d.docType, ExpectedRevision: ops[0].Revision - 1, Epoch: d.epoch, Ops: ops}
	d.reg.committer.Enqueue(a, func(res storage.AppendResult) {
		d.commits.put(commitResult{upTo: upTo, res: res})
	})
}

func (d *Doc) onCommit(ctx context.Context, c commitResult) {
	d.outstanding--
	if errors.Is(c.res.Err, storage.ErrFenced) {
		d.log.Warn("append fenced: another node owns the document now", "epoch", d.epoch, "upTo", c.upTo)
		if d.reg.cfg.OnFenced != nil {
			d.reg.cfg.OnFenced(d.key)
		}
		d.failAll(protocol.Errorf(protocol.CodeUnavailable, "document moved to another node; the op was not applied, resubmit it"))
		return
	}
	if c.res.Err != nil {
		d.log.Error("append failed; document resets from storage", "err", c.res.Err, "upTo", c.upTo)
		d.failAll(protocol.Errorf(protocol.CodeUnavailable, "storage failed; the op was not applied, resubmit it"))
		return
	}
	from := d.durable + 1
	met := d.reg.cfg.Metrics
	for len(d.pending) > 0 && d.pending[0].entry.rev <= c.upTo {
		p := d.pending[0]
		d.pending = d.pending[1:]
		d.releaseWaiters(p.entry.rev - 1)
		d.durable = p.entry.rev
		if p.span != nil {
			p.span.End()
		}
		if p.reply != nil {
			d.acknowledge(p.author, p.reply, SubmitResult{Revision: p.entry.rev, Op: p.entry.data, Transforms: p.rebase})
			met.OpProcessed(ctx, d.docType)
			if !p.start.IsZero() {
				met.ApplyLatency(ctx, d.docType, time.Since(p.start))
			}
		}
		d.broadcastOp(p.entry, p.author)
	}
	if c.upTo >= from && d.reg.cfg.Hooks.Changed != nil {
		d.reg.cfg.Hooks.Changed(d.key, from, c.upTo)
	}
	d.durable = c.upTo
	d.releaseWaiters(d.durable)
	if len(d.pending) == 0 {
		d.pending = nil
	}
	d.flush()
	d.maybeSnapshot(ctx, false)
}

func (d *Doc) releaseWaiters(upTo int64) {
	n := 0
	for n < len(d.waiters) && d.waiters[n].rev <= upTo {
		n++
	}
	if n == 0 {
		return
	}
	ws := d.waiters[:n]
	d.waiters = d.waiters[n:]
	for _, w := range ws {
		w.fn()
	}
}

// broadcastOp sends an op to every ready peer but its author.
func (d *Doc) broadcastOp(e opEntry, author string) {
	if len(d.peers) == 0 || (len(d.peers) == 1 && d.peers[author] != nil) {
		d.reg.cfg.Metrics.FanOut(context.Background(), 0)
		return
	}
	sent := 0
	msg := make([]byte, 0, 96+len(e.data)+len(d.idPart)+len(e.clientID))
	msg = append(msg, `{"type":"op","doc":`...)
	msg = append(msg, d.idPart...)
	msg = append(msg, `,"revision":`...)
	msg = strconv.AppendInt(msg, e.rev, 10)
	msg = append(msg, `,"op":`...)
	msg = append(msg, e.data...)
	msg = append(msg, `,"clientId":`...)
	msg = appendJSONString(msg, e.clientID)
	msg = append(msg, `,"seq":`...)
	msg = strconv.AppendUint(msg, e.seq, 10)
	msg = append(msg, '}')
	for id, p := range d.peers {
		if id == author || !p.ready || p.joinedRev >= e.rev {
			continue
		}
		if !p.peer.Send(msg) {
			d.dropPeer(id, protocol.Errorf(protocol.CodeSlowConsumer, "peer cannot keep up; rejoin with your revision to catch up"))
			continue
		}
		sent++
	}
	d.reg.cfg.Metrics.FanOut(context.Background(), sent)
}

func (d *Doc) dropPeer(id string, err *protocol.Error) {
	p, ok := d.peers[id]
	if !ok {
		return
	}
	d.removePeer(id, true)
	p.peer.Dropped(d.key, err)
}

// removePeer forgets a peer and tells the others it left.
func (d *Doc) removePeer(id string, _ bool) {
	if _, ok := d.peers[id]; !ok {
		return
	}
	delete(d.peers, id)
	msg := d.peerMessage(`{"type":"peerLeft","doc":`, id, nil)
	d.sendAll(msg, "")
	d.reg.cfg.Metrics.PeersPerDoc(context.Background(), len(d.peers))
	if len(d.peers) == 0 && d.reg.cfg.Hooks.LastPeerLeft != nil {
		// The event names the snapshot of the document as it emptied: take it now (written
		// once durable), so a receiver reading the snapshot sees that revision.
		d.maybeSnapshot(context.Background(), true)
		d.reg.cfg.Hooks.LastPeerLeft(d.key, d.rev)
	}
}

func (d *Doc) peerMessage(prefix, peer string, state json.RawMessage) []byte {
	msg := make([]byte, 0, 64+len(d.idPart)+len(peer)+len(state))
	msg = append(msg, prefix...)
	msg = append(msg, d.idPart...)
	msg = append(msg, `,"peer":`...)
	msg = appendJSONString(msg, peer)
	if state != nil {
		msg = append(msg, `,"state":`...)
		msg = append(msg, state...)
	}
	return append(msg, '}')
}

// sendAll sends msg to every ready peer but except; peers whose outbox is full are dropped.
func (d *Doc) sendAll(msg []byte, except string) {
	var slow []string
	for id, p := range d.peers {
		if id == except || !p.ready {
			continue
		}
		if !p.peer.Send(msg) {
			slow = append(slow, id)
		}
	}
	for _, id := range slow {
		d.dropPeer(id, protocol.Errorf(protocol.CodeSlowConsumer, "peer cannot keep up; rejoin with your revision to catch up"))
	}
}

func (d *Doc) handleAwareness(peerID string, state json.RawMessage) {
	p, ok := d.peers[peerID]
	if !ok {
		return
	}
	if len(state) == 0 || string(state) == "null" {
		state = nil
	}
	p.awareAt = d.reg.now()
	if string(p.awareness) == string(state) {
		return // identical updates are coalesced; the refresh above keeps it alive
	}
	p.awareness = state
	out := state
	if out == nil {
		out = json.RawMessage("null")
	}
	d.sendAll(d.peerMessage(`{"type":"awareness","doc":`, peerID, out), peerID)
}

// tick expires awareness, takes time-based snapshots and unloads an idle document. It reports
// whether the actor should stop.
func (d *Doc) tick(ctx context.Context) bool {
	now := d.reg.now()
	for id, p := range d.peers {
		if p.awareness != nil && now.Sub(p.awareAt) > d.reg.cfg.AwarenessTTL {
			p.awareness = nil
			d.sendAll(d.peerMessage(`{"type":"awareness","doc":`, id, json.RawMessage("null")), id)
		}
	}
	d.maybeSnapshot(ctx, false)
	if len(d.peers) == 0 && len(d.pending) == 0 && d.outstanding == 0 && len(d.inbox) == 0 &&
		now.Sub(d.lastActive) >= d.reg.cfg.IdleTimeout {
		d.finalSnapshot()
		return true
	}
	return false
}

// maybeSnapshot takes a snapshot when the policy says so (or force) and writes it once the
// revision it covers is durable.
func (d *Doc) maybeSnapshot(ctx context.Context, force bool) {
	if d.state == nil || d.rev == 0 || d.rev <= d.snapRev {
		return
	}
	due := force || d.rev-d.snapRev >= int64(d.reg.cfg.SnapshotEvery) ||
		d.reg.now().Sub(d.snapAt) >= d.reg.cfg.SnapshotInterval
	if !due {
		return
	}
	data, err := d.state.Snapshot(ctx)
	if err != nil {
		d.log.Warn("take snapshot", "err", err)
		d.resetOnEngineError(ctx, err)
		return
	}
	meta, _ := json.Marshal(d.clients)
	snap := storage.Snapshot{Revision: d.rev, Type: d.docType, Data: data, Meta: meta, UnixMillis: d.reg.now().UnixMilli()}
	d.snapRev, d.snapAt = d.rev, d.reg.now()
	d.whenDurable(snap.Revision, func() { d.reg.snapshots.put(d.key, snap) }, nil)
}

// finalSnapshot writes a snapshot synchronously before the document unloads.
func (d *Doc) finalSnapshot() {
	if d.state == nil || d.rev <= d.snapRev || d.rev != d.durable {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.reg.cfg.LoadTimeout)
	defer cancel()
	data, err := d.state.Snapshot(ctx)
	if err != nil {
		d.log.Warn("final snapshot", "err", err)
		return
	}
	meta, _ := json.Marshal(d.clients)
	snap := storage.Snapshot{Revision: d.rev, Type: d.docType, Data: data, Meta: meta, UnixMillis: d.reg.now().UnixMilli()}
	if err := d.reg.store.PutSnapshot(ctx, d.key, snap); err != nil {
		d.log.Warn("write final snapshot", "err", err)
		return
	}
	d.snapRev = d.rev
}

// shutdown finishes in-flight appends, answers what is queued and writes a final snapshot.
func (d *Doc) shutdown() {
	deadline := time.NewTimer(d.reg.cfg.LoadTimeout)
	defer deadline.Stop()
	for d.outstanding > 0 {
		select {
		case <-d.commits.signal:
			for _, c := range d.commits.take() {
				d.onCommit(context.Background(), c)
				if d.broken {
					return
				}
			}
		case <-deadline.C:
			d.failAll(protocol.Errorf(protocol.CodeUnavailable, "server shutting down"))
			return
		}
	}
	d.finalSnapshot()
	for id, p := range d.peers {
		delete(d.peers, id)
		p.peer.Dropped(d.key, protocol.Errorf(protocol.CodeUnavailable, "server shutting down; reconnect"))
	}
}

// failAll gives up the in-memory state after a failure: pending ops get err (they were not
// acknowledged, so a client resubmits them and deduplication sorts out any that did land), peers
// are dropped so they rejoin, and the actor stops; the next request loads from storage.
func (d *Doc) failAll(err *protocol.Error) {
	d.broken = true
	for _, p := range d.pending {
		if p.span != nil {
			telemetry.SetStatus(p.span, string(err.Code), nil)
			p.span.End()
		}
		if p.reply != nil {
			p.reply(SubmitResult{}, err)
		}
	}
	d.pending, d.unsent = nil, nil
	for id, p := range d.peers {
		delete(d.peers, id)
		p.peer.Dropped(d.key, &protocol.Error{Code: err.Code, Message: err.Message})
	}
	for _, w := range d.waiters {
		if w.fail != nil {
			w.fail(err)
		}
	}
	d.waiters = nil
	d.outstanding = 0 // results still in flight land in the commit box, which never blocks
}

// resetOnEngineError stops the document when its engine state is lost (an instance trapped), so
// it reloads from storage; a plain InvalidOp changes nothing.
func (d *Doc) resetOnEngineError(ctx context.Context, err error) {
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.Code == protocol.CodeInvalidOp && !errors.Is(err, ErrStateLost) {
		return
	}
	d.log.ErrorContext(ctx, "engine failed; document reloads from storage", "err", err)
	d.failAll(protocol.Errorf(protocol.CodeUnavailable, "document engine failed; rejoin"))
}

// commitBox collects append results for the actor without ever blocking the committer.
type commitBox struct {
	mu     sync.Mutex
	items  []commitResult
	signal chan struct{}
}

func (b *commitBox) put(c commitResult) {
	b.mu.Lock()
	b.items = append(b.items, c)
	b.mu.Unlock()
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

func (b *commitBox) take() []commitResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	items := b.items
	b.items = nil
	return items
}

func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
