package doc

import (
	"context"
	"encoding/json"

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
