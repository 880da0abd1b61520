package doc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/protocol"
)

// Handle is a document as sessions and the HTTP API use it: the local actor (*Doc) or, on a
// cluster node that does not own the document, a proxy that forwards to the owner node. The
// callbacks keep the actor's guarantees either way: they run in revision order, once the
// revisions they cover are durable, and must not block.
type Handle interface {
	Join(ctx context.Context, peer Peer, docType string, knownRev *int64, onJoin func(JoinResult, error)) error
	Leave(ctx context.Context, peerID string, onLeave func()) error
	Submit(ctx context.Context, s SubmitRequest, onSubmit func(SubmitResult, error)) error
	SetAwareness(ctx context.Context, peerID string, state json.RawMessage) error
	Read(ctx context.Context, onRead func(ReadResult, error)) error
}

// Router finds where a document lives and runs fn with its handle, getting the handle again
// when it closed under fn. The Registry is the single-node router; host/cluster routes across
// nodes.
type Router interface {
	Route(ctx context.Context, key storage.DocKey, fn func(Handle) error) error
}

var _ Handle = (*Doc)(nil)

// Route implements Router for a single node: every document is local.
func (r *Registry) Route(ctx context.Context, key storage.DocKey, fn func(Handle) error) error {
	return r.Do(ctx, key, func(d *Doc) error { return fn(d) })
}

// Evict stops a loaded document at once: pending ops fail with err (they were not acknowledged),
// peers are dropped with err so they rejoin, and the next request loads it again. The cluster
// router evicts a document whose ownership lease was lost. It does nothing when the document is
// not loaded.
func (r *Registry) Evict(key storage.DocKey, err *protocol.Error) {
	r.mu.Lock()
	d, ok := r.docs[key]
	r.mu.Unlock()
	if !ok {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.LoadTimeout)
		defer cancel()
		_ = d.send(ctx, &request{kind: reqEvict, evictErr: err})
	}()
}

// Keys returns the keys of the loaded documents.
func (r *Registry) Keys() []storage.DocKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]storage.DocKey, 0, len(r.docs))
	for k := range r.docs {
		keys = append(keys, k)
	}
	return keys
}

// IsLoaded reports whether the document has a running actor.
func (r *Registry) IsLoaded(key storage.DocKey) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.docs[key]
	return ok
}

// Diag is what a loaded document's actor reports about itself (the management API's diag).
type Diag struct {
	// Loaded is false when the document had no actor on this node (the other fields are zero).
	Loaded   bool
	DocType  string
	Revision int64
	// Durable is the last revision the storage provider acknowledged.
	Durable int64
	// Pending counts ops applied in memory and not durable yet.
	Pending int
	Peers   []string
	// SnapshotRevision is the revision of the latest snapshot taken (0 when none);
	// SnapshotAt when it was taken, or when the document loaded if none was taken since.
	SnapshotRevision int64
	SnapshotAt       time.Time
	// Ops are the last ops kept in memory, oldest first, at most the limit asked for.
	Ops []protocol.LogOp
}

// Diag asks a loaded document for its state, with at most lastOps of its recent ops. It does
// not load a document that is not loaded: then it returns Diag{Loaded: false}.
func (r *Registry) Diag(ctx context.Context, key storage.DocKey, lastOps int) (Diag, error) {
	r.mu.Lock()
	d, ok := r.docs[key]
	r.mu.Unlock()
	if !ok {
		return Diag{}, nil
	}
	ch := make(chan Diag, 1)
	if err := d.send(ctx, &request{kind: reqDiag, limit: lastOps, onDiag: func(g Diag) { ch <- g }}); err != nil {
		if errors.Is(err, ErrClosed) {
			return Diag{}, nil
		}
		return Diag{}, fmt.Errorf("diag %s: %w", key, err)
	}
	select {
	case g := <-ch:
		return g, nil
	case <-ctx.Done():
		return Diag{}, fmt.Errorf("diag %s: %w", key, ctx.Err())
	}
}

// diag runs on the actor.
func (d *Doc) diag(lastOps int) Diag {
	g := Diag{Loaded: true, DocType: d.docType, Revision: d.rev, Durable: d.durable, Pending: len(d.pending),
		SnapshotRevision: d.snapRev, SnapshotAt: d.snapAt, Peers: make([]string, 0, len(d.peers))}
	for id := range d.peers {
		g.Peers = append(g.Peers, id)
	}
	sort.Strings(g.Peers)
	if lastOps > 0 {
		from := max(0, len(d.recent)-lastOps)
		for _, e := range d.recent[from:] {
			g.Ops = append(g.Ops, protocol.LogOp{Revision: e.rev, Op: e.data, ClientID: e.clientID, Seq: e.seq})
		}
	}
	return g
}

// EvictWait evicts a loaded document like Evict and waits until its actor has stopped, so
// that what follows (deleting it from storage) does not race its last writes. It returns the
// number of peers that were connected and nil when the document was not loaded.
func (r *Registry) EvictWait(ctx context.Context, key storage.DocKey, err *protocol.Error) (int, error) {
	r.mu.Lock()
	d, ok := r.docs[key]
	r.mu.Unlock()
	if !ok {
		return 0, nil
	}
	peers := 0
	ch := make(chan Diag, 1)
	if serr := d.send(ctx, &request{kind: reqDiag, onDiag: func(g Diag) { ch <- g }}); serr == nil {
		select {
		case g := <-ch:
			peers = len(g.Peers)
		case <-ctx.Done():
			return 0, fmt.Errorf("evict %s: %w", key, ctx.Err())
		}
	}
	if serr := d.send(ctx, &request{kind: reqEvict, evictErr: err}); serr != nil && !errors.Is(serr, ErrClosed) {
		return peers, fmt.Errorf("evict %s: %w", key, serr)
	}
	select {
	case <-d.done:
		r.snapshots.drop(key)
		return peers, nil
	case <-ctx.Done():
		return peers, fmt.Errorf("evict %s: wait for the document to stop: %w", key, ctx.Err())
	}
}
