// Package storage is the contract between the OpStream host and a storage provider.
//
// A provider keeps, per document, an append-only op log and the latest snapshot. Providers run
// as hashicorp/go-plugin subprocesses speaking gRPC; a provider author implements Provider and
// calls Serve from main. The host talks to the subprocess through the same Provider interface
// (see Start and Client), so code on both sides of the boundary sees one contract.
//
// All methods must be safe for concurrent use. Every method takes a context and must return
// promptly once it is done.
package storage

import (
	"context"
	"errors"
)

// ProtocolVersion is the version of this contract, checked in the go-plugin handshake. A host and
// a provider built for different versions refuse each other at start with both versions named.
const ProtocolVersion = 1

// Errors a provider returns, carried across the plugin boundary as codes. Callers branch on them
// with errors.Is.
var (
	// ErrConflict: the document's current revision is not the expected one. Nothing was written.
	ErrConflict = errors.New("storage: revision conflict")
	// ErrFenced: the append carries a fencing epoch lower than one already seen for the document.
	// Nothing was written. A stale owner node must stop writing the document.
	ErrFenced = errors.New("storage: fenced by a newer epoch")
	// ErrNotFound: the document (or snapshot) does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrUnavailable: the backing store cannot be reached right now; the call may be retried.
	ErrUnavailable = errors.New("storage: unavailable")
	// ErrInvalid: the request itself is malformed (empty id, revisions not contiguous, ...).
	ErrInvalid = errors.New("storage: invalid request")
)

// DocKey names a document: documents live in tenant namespaces, so the same ID in two tenants is
// two documents.
type DocKey struct {
	Tenant string
	ID     string
}

// String returns tenant/id, for logs and error messages.
func (k DocKey) String() string { return k.Tenant + "/" + k.ID }

// Op is one entry of a document's op log: the op with revision R takes the document from R-1 to
// R. Data is the engine's encoding of the op (JSON for the shipped engines), stored verbatim.
type Op struct {
	Revision int64
	ClientID string
	Seq      uint64
	Data     []byte
	// UnixMillis is when the host ordered the op.
	UnixMillis int64
}

// Snapshot is a document's state at Revision. Data is the engine's snapshot encoding; Meta is
// opaque host data stored with it (for example its deduplication table).
type Snapshot struct {
	Revision   int64
	Type       string
	Data       []byte
	Meta       []byte
	UnixMillis int64
}

// Append is a conditional append to one document's op log: it succeeds only if the document's
// current revision equals ExpectedRevision (0 for a document that does not exist yet, which the
// append creates with Type) and Epoch is not lower than the highest epoch seen for the document.
// Ops must carry the revisions ExpectedRevision+1, +2, ... in order. An append is atomic: all of
// its ops are written or none.
type Append struct {
	Doc              DocKey
	Type             string
	ExpectedRevision int64
	Epoch            uint64
	Ops              []Op
}

// AppendRequest carries appends for one or more documents, so the host can group-commit the ops
// of many documents in one round trip. Each append succeeds or fails on its own; a provider may
// commit them in one transaction as long as one append's conflict does not fail the others.
// At most one Append per document in a request.
type AppendRequest struct {
	Appends []Append
}

// AppendResult is the outcome of one Append, in request order. Err is nil, ErrConflict,
// ErrFenced or ErrInvalid (wrapped is fine). Revision is the document's revision after the call
// (on a conflict: its current revision, when the provider knows it).
type AppendResult struct {
	Err      error
	Revision int64
}

// AppendResponse holds one result per append, in request order.
type AppendResponse struct {
	Results []AppendResult
}

// ReadOpsRequest asks for the ops with revisions From..From+Limit-1 (From >= 1) of one document.
type ReadOpsRequest struct {
	Doc   DocKey
	From  int64
	Limit int
}

// ReadOpsResponse holds the ops found, in revision order, without gaps. Fewer than Limit means
// the end of the log was reached (or the provider caps the page: read again from the next
// revision until an empty page).
type ReadOpsResponse struct {
	Ops []Op
}

// DocInfo describes a stored document.
type DocInfo struct {
	Doc      DocKey
	Type     string
	Revision int64
	Epoch    uint64
	// SnapshotRevision is the revision of the latest snapshot, 0 when there is none.
	SnapshotRevision int64
}

// LoadResponse is what the host needs to load a document: its head and latest snapshot.
type LoadResponse struct {
	Info     DocInfo
	Snapshot *Snapshot // nil when the document has no snapshot yet
}

// ListRequest pages through one tenant's documents ordered by id: ids greater than After, at most
// Limit of them.
type ListRequest struct {
	Tenant string
	After  string
	Limit  int
}

// ListResponse holds one page of documents. Fewer than Limit means the end was reached.
type ListResponse struct {
	Docs []DocInfo
}

// Provider is the storage contract. Implementations must be safe for concurrent use.
type Provider interface {
	// Append writes the appends of req, each atomically and conditionally (see Append). The
	// error is for failure of the whole call (ErrUnavailable, ...); per-document outcomes are in
	// the response.
	Append(ctx context.Context, req *AppendRequest) (*AppendResponse, error)
	// ReadOps returns a page of a document's op log. A missing document gives an empty page.
	ReadOps(ctx context.Context, req *ReadOpsRequest) (*ReadOpsResponse, error)
	// Load returns a document's head and latest snapshot, or ErrNotFound.
	Load(ctx context.Context, doc DocKey) (*LoadResponse, error)
	// PutSnapshot upserts the document's snapshot. A snapshot older than the stored one is
	// ignored (not an error), so late writers cannot move it backwards. Load returns it at
	// once; a provider may make it durable later (the SQLite provider writes snapshots with
	// its next compaction): a snapshot is derived from the op log, so losing the newest in a
	// crash costs a longer replay at the next load, never an op.
	PutSnapshot(ctx context.Context, doc DocKey, snap Snapshot) error
	// Delete removes a document, its op log and snapshot. Deleting a missing document is not an
	// error.
	Delete(ctx context.Context, doc DocKey) error
	// List pages through a tenant's documents.
	List(ctx context.Context, req *ListRequest) (*ListResponse, error)
	// Health returns nil when the backing store is reachable and writable.
	Health(ctx context.Context) error
	// Close releases the provider's resources.
	Close() error
}

// AsyncAppender is implemented by providers that commit an append and make it durable in
// separate steps, so the host can keep several appends in flight while one is being synced.
// AppendAsync commits req after the requests of every earlier AppendAsync call (the caller makes
// one call at a time, in order) and calls done exactly once, in call order, when req is durable
// or has failed: done's arguments mean what Append's results mean. It must not wait for
// durability before returning; ctx bounds the commit.
//
// Over the plugin boundary the host uses it through the AppendStream RPC whether or not the
// provider implements it: a provider without it has its Append called for each request in
// order.
type AsyncAppender interface {
	AppendAsync(ctx context.Context, req *AppendRequest, done func(*AppendResponse, error))
}

// Configurer is implemented by providers that take a configuration block. Configure is called
// once, before any other method, with the provider's config block from the server config as
// JSON. Unknown keys must be rejected.
type Configurer interface {
	Configure(ctx context.Context, config []byte) error
}
