package doc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/pluginsdk/storage"
)

// Store is what documents read from storage; appends go through the Committer.
type Store interface {
	Load(ctx context.Context, doc storage.DocKey) (*storage.LoadResponse, error)
	ReadOps(ctx context.Context, req *storage.ReadOpsRequest) (*storage.ReadOpsResponse, error)
	PutSnapshot(ctx context.Context, doc storage.DocKey, snap storage.Snapshot) error
}

// Config tunes documents. Zero fields take the defaults named in their comments.
type Config struct {
	// SnapshotEvery takes a snapshot after this many ops; zero means 100.
	SnapshotEvery int
	// SnapshotInterval takes a snapshot of a changed document after this long; zero means 5m.
	SnapshotInterval time.Duration
	// IdleTimeout unloads a document without peers after this long; zero means 5m.
	IdleTimeout time.Duration
	// AwarenessTTL expires a peer's awareness state not refreshed for this long; zero means 30s.
	AwarenessTTL time.Duration
	// InboxSize bounds each document's queue of requests; zero means 1024.
	InboxSize int
	// RecentOps is how many recent ops a document keeps in memory for rebasing and catch-up;
	// zero means 1000. Older ones are read from storage.
	RecentOps int
	// MaxCatchupOps bounds the ops a rejoin is sent; a client further behind reloads the
	// snapshot. Zero means 10000.
	MaxCatchupOps int
	// MaxClients bounds each document's deduplication table (client id -> last seq); zero means
	// 10000. The least recently active clients are forgotten first.
	MaxClients int
	// LoadTimeout bounds loading a document and a final snapshot; zero means 30s.
	LoadTimeout time.Duration
	// TickInterval is how often a document checks timers; zero means 1s.
	TickInterval time.Duration
	// Epoch is the fencing epoch appends carry when EpochFor is nil (a single node).
	Epoch uint64
	// EpochFor, when set, gives the fencing epoch of this node's ownership of a document as it
	// loads (stored is the epoch of the document's last append, 0 for a new document). An error
	// fails the load: the node does not own the document.
	EpochFor func(ctx context.Context, key storage.DocKey, stored uint64) (uint64, error)
	// OnFenced, when set, is told that an append of the document was refused because a newer
	// owner appended (storage.ErrFenced).
	OnFenced func(key storage.DocKey)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Tracer starts the engine and store spans of submitted ops (children of the span context
	// a SubmitRequest carries); nil means no spans.
	Tracer *telemetry.Tracer
	// Metrics receives the documents' measurements; nil means none.
	Metrics *telemetry.Metrics
	// Hooks report document events (webhooks); nil funcs are skipped.
	Hooks Hooks
}

// Hooks report document events. They run on the document's actor goroutine, so they must not
// block (webhook.Dispatcher's methods never do).
type Hooks struct {
	// Changed: revisions from..to (both included) became durable.
	Changed func(key storage.DocKey, from, to int64)
	// LastPeerLeft: the document's last peer left; snapshotRevision is the revision of the
	// snapshot taken as it emptied (its revision then).
	LastPeerLeft func(key storage.DocKey, snapshotRevision int64)
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.SnapshotEvery, 100)
	def(&c.InboxSize, 1024)
	def(&c.RecentOps, 1000)
	def(&c.MaxCatchupOps, 10000)
	def(&c.MaxClients, 10000)
	dur(&c.SnapshotInterval, 5*time.Minute)
	dur(&c.IdleTimeout, 5*time.Minute)
	dur(&c.AwarenessTTL, 30*time.Second)
	dur(&c.LoadTimeout, 30*time.Second)
	dur(&c.TickInterval, time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Registry holds the loaded documents: it starts an actor on first use and forgets it when it
// stops. Close stops them all.
type Registry struct {
	cfg       Config
	store     Store
	engines   Engines
	committer Committer
	log       *slog.Logger
	snapshots *snapshotWriter

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	docs   map[storage.DocKey]*Doc
	closed bool
}

// ErrShuttingDown is returned once Close has begun.
var ErrShuttingDown = errors.New("doc: registry shutting down")

// NewRegistry returns a registry; Close it to stop its documents.
func NewRegistry(cfg Config, store Store, engines Engines, committer Committer, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Registry{
		cfg: cfg.withDefaults(), store: store, engines: engines, committer: committer,
		log: log.With("component", "doc"), ctx: ctx, cancel: cancel,
		docs: make(map[storage.DocKey]*Doc),
	}
	r.snapshots = newSnapshotWriter(store, r.log)
	return r
}

func (r *Registry) now() time.Time { return r.cfg.Now() }

func (r *Registry) epoch(ctx context.Context, key storage.DocKey, stored uint64) (uint64, error) {
	if r.cfg.EpochFor == nil {
		return r.cfg.Epoch, nil
	}
	e, err := r.cfg.EpochFor(ctx, key, stored)
	if err != nil {
		return 0, fmt.Errorf("ownership of %s: %w", key, err)
	}
	return e, nil
}

// Get returns the document's actor, starting it if needed.
func (r *Registry) Get(key storage.DocKey) (*Doc, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrShuttingDown
	}
	if d, ok := r.docs[key]; ok {
		return d, nil
	}
	d := newDoc(r, key)
	r.docs[key] = d
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		d.run(r.ctx)
	}()
	return d, nil
}

// Do runs fn against the document, getting it again when it closed under fn (an idle unload or
// a reset racing the request).
func (r *Registry) Do(ctx context.Context, key storage.DocKey, fn func(*Doc) error) error {
	for attempt := 0; ; attempt++ {
		d, err := r.Get(key)
		if err != nil {
			return err
		}
		err = fn(d)
		if !errors.Is(err, ErrClosed) || attempt >= 10 {
			return err
		}
		select {
		case <-d.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// redeliver hands a request that reached a stopping actor to the document's next actor. The
// stopping actor's goroutine still counts in wg, so the Add is safe during Close.
func (r *Registry) redeliver(key storage.DocKey, req *request) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.LoadTimeout)
		defer cancel()
		// Each attempt sends a fresh copy: a copy a stopping actor never took stays inert.
		err := r.Do(ctx, key, func(d *Doc) error { return d.send(ctx, req.clone()) })
		if err != nil {
			req.fail(ErrShuttingDown)
		}
	}()
}

func (r *Registry) remove(d *Doc) {
	r.mu.Lock()
	if r.docs[d.key] == d {
		delete(r.docs, d.key)
	}
	r.mu.Unlock()
}

// Loaded returns how many documents are loaded.
func (r *Registry) Loaded() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.docs)
}

// Close stops every document: in-flight appends finish, final snapshots are written, peers are
// told. It returns when all actors have stopped or ctx ends.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("close documents: %w", ctx.Err())
	}
	return r.snapshots.close(ctx)
}

// snapshotWriter writes snapshots off the actors' goroutines, one at a time, keeping only the
// newest pending snapshot per document.
type snapshotWriter struct {
	store Store
	log   *slog.Logger

	mu      sync.Mutex
	pending map[storage.DocKey]storage.Snapshot
	order   []storage.DocKey
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newSnapshotWriter(store Store, log *slog.Logger) *snapshotWriter {
	w := &snapshotWriter{store: store, log: log, pending: make(map[storage.DocKey]storage.Snapshot),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *snapshotWriter) put(key storage.DocKey, s storage.Snapshot) {
	w.mu.Lock()
	if _, ok := w.pending[key]; !ok {
		w.order = append(w.order, key)
	}
	w.pending[key] = s
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// drop forgets the pending snapshot of key (a deleted document).
func (w *snapshotWriter) drop(key storage.DocKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.pending[key]; !ok {
		return
	}
	delete(w.pending, key)
	for i, k := range w.order {
		if k == key {
			w.order = append(w.order[:i], w.order[i+1:]...)
			break
		}
	}
}

func (w *snapshotWriter) next() (storage.DocKey, storage.Snapshot, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.order) == 0 {
		return storage.DocKey{}, storage.Snapshot{}, false
	}
	k := w.order[0]
	w.order = w.order[1:]
	s := w.pending[k]
	delete(w.pending, k)
	return k, s, true
}

func (w *snapshotWriter) run() {
	defer close(w.done)
	for {
		for {
			k, s, ok := w.next()
			if !ok {
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := w.store.PutSnapshot(ctx, k, s); err != nil {
				w.log.Warn("write snapshot", "doc", k.String(), "revision", s.Revision, "err", err)
			}
			cancel()
		}
		select {
		case <-w.wake:
		case <-w.stop:
			if _, _, ok := w.peek(); !ok {
				return
			}
		}
	}
}

func (w *snapshotWriter) peek() (storage.DocKey, storage.Snapshot, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return storage.DocKey{}, storage.Snapshot{}, len(w.order) > 0
}

// close writes what is pending and stops.
func (w *snapshotWriter) close(ctx context.Context) error {
	close(w.stop)
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("write pending snapshots: %w", ctx.Err())
	}
}
