package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// healthTimeout bounds Health when the caller's context has no earlier deadline.
const healthTimeout = 2 * time.Second

// readConns is the size of the read connection pool.
const readConns = 4

// Provider is the SQLite storage provider. Create it with New, then Configure it before any
// other call. Safe for concurrent use.
type Provider struct {
	st atomic.Pointer[state]
}

// state is everything Configure opens.
type state struct {
	cfg    Config
	lock   *os.File // holds the exclusive lock on cfg.Path + ".lock"
	main   *sql.DB  // the main database's writer, one connection
	reader *sql.DB  // read-only pool on the main database
	stmts  stmts
	batch  batchStmts
	logger *slog.Logger

	// wmu serializes appends and every write to the log file; cmu serializes compactions
	// with deletes; dmu keeps snapshots out of a delete. Lock order: dmu, cmu, wmu, mu.
	wmu sync.Mutex
	cmu sync.Mutex
	dmu sync.RWMutex
	// Guarded by wmu.
	nextSeq int64  // seq of the next record appended to the log
	closed  bool   // appends refused
	broken  error  // set when a write or fsync of the log failed: appends refused
	wbuf    []byte // reused encoding buffer
	// seg is the op log segment appends go to (nil once closed); it changes with wmu held and
	// the syncer reads it. sealed are the segments compaction is moving (guarded by cmu).
	seg    atomic.Pointer[segment]
	sealed []*segment

	sync syncQueue

	mu        sync.RWMutex
	docs      map[storage.DocKey]*docState
	tailOps   int       // ops in the log, not yet compacted
	tailBytes int       // their data
	tailSince time.Time // when the oldest of them arrived; zero when none

	// snaps are snapshots put since the last compaction, the newest per document, written to
	// the main database by the next one (see PutSnapshot); snapsSince is when the oldest came.
	snaps      map[storage.DocKey]pendingSnap
	snapsSince time.Time
	snapGen    uint64

	kick chan struct{} // wakes the compactor
	stop chan struct{} // closed to stop it
	done chan struct{} // closed when it stopped
}

func (st *state) logf(format string, args ...any) {
	st.logger.Info(fmt.Sprintf(format, args...), "path", st.cfg.Path)
}

// New returns an unconfigured provider; Configure opens the database.
func New() *Provider { return &Provider{} }

// Configure parses the config block (see Config; unknown keys are rejected), creates the data
// file's directory, opens the database and migrates its schema. It may be called once.
func (p *Provider) Configure(ctx context.Context, raw []byte) error {
	cfg, err := parseConfig(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", err, storage.ErrInvalid)
	}
	if p.st.Load() != nil {
		return fmt.Errorf("configure: already configured: %w", storage.ErrInvalid)
	}
	st, err := open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	if !p.st.CompareAndSwap(nil, st) {
		st.close()
		return fmt.Errorf("configure: already configured: %w", storage.ErrInvalid)
	}
	return nil
}

func dsn(path string, cfg Config, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.Itoa(cfg.BusyTimeoutMs)+")")
	q.Add("_pragma", "synchronous("+cfg.Synchronous+")")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// openWriter opens a database with its one write connection.
func openWriter(path string, cfg Config) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, cfg, false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

func open(ctx context.Context, cfg Config) (_ *state, err error) {
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	st := &state{
		cfg:    cfg,
		docs:   make(map[storage.DocKey]*docState),
		logger: slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "sqlite"),
		kick:   make(chan struct{}, 1),
		sync:   syncQueue{wake: make(chan struct{}, 1), done: make(chan struct{})},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	defer func() {
		if err != nil {
			st.closeFiles()
		}
	}()
	if st.lock, err = lockFile(ctx, cfg.Path+".lock"); err != nil {
		return nil, err
	}
	if st.main, err = openWriter(cfg.Path, cfg); err != nil {
		return nil, err
	}
	if err := migrate(ctx, st.main); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", cfg.Path, err)
	}
	if st.reader, err = sql.Open("sqlite", dsn(cfg.Path, cfg, true)); err != nil {
		return nil, fmt.Errorf("open %s for reading: %w", cfg.Path, err)
	}
	st.reader.SetMaxOpenConns(readConns)
	st.reader.SetMaxIdleConns(readConns)
	if err := st.stmts.prepare(ctx, st.main, st.reader); err != nil {
		return nil, fmt.Errorf("prepare statements: %w", err)
	}
	if err := st.batch.prepare(ctx, st.main); err != nil {
		return nil, fmt.Errorf("prepare batch statements: %w", err)
	}
	if err := st.recoverLog(ctx); err != nil {
		return nil, err
	}
	go st.syncer()
	go st.compactor()
	return st, nil
}

// syncDir makes the files just created in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync data directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync data directory: %w", err)
	}
	return nil
}

// close stops the compactor, compacts what the log holds and closes the files.
func (st *state) close() error {
	st.wmu.Lock()
	st.closed = true
	st.wmu.Unlock()
	st.sync.close()
	close(st.stop)
	<-st.done
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := st.compact(ctx, true)
	return errors.Join(err, st.closeFiles())
}

func (st *state) closeFiles() error {
	st.stmts.close()
	st.batch.close()
	var errs []error
	for _, db := range []*sql.DB{st.reader, st.main} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	st.wmu.Lock()
	if seg := st.seg.Swap(nil); seg != nil {
		errs = append(errs, seg.f.Close())
	}
	st.wmu.Unlock()
	if st.lock != nil {
		errs = append(errs, st.lock.Close())
	}
	return errors.Join(errs...)
}

func (p *Provider) state() (*state, error) {
	st := p.st.Load()
	if st == nil {
		return nil, fmt.Errorf("sqlite: not configured or closed: %w", storage.ErrUnavailable)
	}
	return st, nil
}

// dbErr classifies a database error: lock timeouts and interruptions become ErrUnavailable
// (retryable); context errors pass through.
func dbErr(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", what, ctxErr)
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6, 9: // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_INTERRUPT
			return fmt.Errorf("%s: %w: %w", what, err, storage.ErrUnavailable)
		}
	}
	if errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("%s: %w: %w", what, err, storage.ErrUnavailable)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ReadOps implements storage.Provider. The ops still in the log come from memory, the older
// ones from the main database's read pool. Pages hold at most storage.MaxReadOps ops and about
// storage.MaxReadBytes of data.
func (p *Provider) ReadOps(ctx context.Context, req *storage.ReadOpsRequest) (*storage.ReadOpsResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	if err := storage.ValidateKey(req.Doc); err != nil {
		return nil, err
	}
	if req.From < 1 {
		return nil, fmt.Errorf("read ops %s: from %d < 1: %w", req.Doc, req.From, storage.ErrInvalid)
	}
	limit := storage.ReadLimit(req.Limit)
	// The tail is copied before the main database is read: ops that compaction moves meanwhile
	// are then in the copy or in what the read sees.
	var (
		tail      []storage.Op
		firstTail int64 = -1
	)
	st.mu.RLock()
	if ds := st.docs[req.Doc]; ds != nil && len(ds.tail) > 0 {
		firstTail = ds.tail[0].op.Revision
		i, _ := slices.BinarySearchFunc(ds.tail, req.From, func(o logOp, rev int64) int { return cmp.Compare(o.op.Revision, rev) })
		for _, o := range ds.tail[i:min(len(ds.tail), i+limit)] {
			if o.op.Revision > ds.durable {
				break
			}
			tail = append(tail, o.op)
		}
	}
	st.mu.RUnlock()
	resp := &storage.ReadOpsResponse{}
	size := 0
	add := func(op storage.Op) bool {
		if len(resp.Ops) >= limit || len(resp.Ops) > 0 && size+len(op.Data) > storage.MaxReadBytes {
			return false
		}
		size += len(op.Data)
		resp.Ops = append(resp.Ops, op)
		return true
	}
	if firstTail < 0 || req.From < firstTail {
		rows, err := st.stmts.readOps.QueryContext(ctx, req.Doc.Tenant, req.Doc.ID, req.From, limit)
		if err != nil {
			return nil, dbErr(ctx, "read ops "+req.Doc.String(), err)
		}
		defer rows.Close()
		resp.Ops = make([]storage.Op, 0, min(limit, 1024))
		for rows.Next() {
			var (
				op  storage.Op
				seq int64
			)
			if err := rows.Scan(&op.Revision, &op.ClientID, &seq, &op.Data, &op.UnixMillis); err != nil {
				return nil, dbErr(ctx, "read ops "+req.Doc.String(), err)
			}
			op.Seq = uint64(seq)
			if !add(op) {
				return resp, nil
			}
		}
		if err := rows.Err(); err != nil {
			return nil, dbErr(ctx, "read ops "+req.Doc.String(), err)
		}
	}
	next := req.From
	if n := len(resp.Ops); n > 0 {
		next = resp.Ops[n-1].Revision + 1
	}
	for _, op := range tail {
		if op.Revision < next {
			continue // compacted meanwhile: the read above has it
		}
		if op.Revision != next || !add(op) {
			break
		}
		next++
	}
	return resp, nil
}

// memHead returns the durable in-memory head of a document, if any.
func (st *state) memHead(k storage.DocKey) (head, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	ds := st.docs[k]
	if ds == nil || ds.durable == 0 {
		return head{}, false
	}
	return head{typ: ds.typ, rev: ds.durable, epoch: ds.epoch, exists: true}, true
}

// Load implements storage.Provider: the head and snapshot are read in one read transaction, so
// they are consistent with each other; the head is then brought up to what the log holds.
// Memory is read first: what a compaction moves out of it meanwhile is then in what the read
// transaction sees.
func (p *Provider) Load(ctx context.Context, k storage.DocKey) (*storage.LoadResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	if err := storage.ValidateKey(k); err != nil {
		return nil, err
	}
	ps, pending := st.pendingSnapshot(k)
	h, inMem := st.memHead(k)
	tx, err := st.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, dbErr(ctx, "load "+k.String(), err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	resp := &storage.LoadResponse{Info: storage.DocInfo{Doc: k}}
	var epoch int64
	err = tx.StmtContext(ctx, st.stmts.loadDoc).QueryRowContext(ctx, k.Tenant, k.ID).
		Scan(&resp.Info.Type, &resp.Info.Revision, &epoch, &resp.Info.SnapshotRevision)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbErr(ctx, "load "+k.String(), err)
	}
	resp.Info.Epoch = uint64(epoch)
	if found {
		snap := &storage.Snapshot{}
		err = tx.StmtContext(ctx, st.stmts.loadSnap).QueryRowContext(ctx, k.Tenant, k.ID).
			Scan(&snap.Revision, &snap.Type, &snap.Data, &snap.Meta, &snap.UnixMillis)
		switch {
		case err == nil:
			resp.Snapshot = snap
		case !errors.Is(err, sql.ErrNoRows):
			return nil, dbErr(ctx, "load snapshot "+k.String(), err)
		}
	}
	if pending && (resp.Snapshot == nil || ps.Revision >= resp.Snapshot.Revision) {
		resp.Snapshot = &ps
		resp.Info.SnapshotRevision = max(resp.Info.SnapshotRevision, ps.Revision)
	}
	if inMem {
		if !found {
			resp.Info.Type = h.typ
		}
		resp.Info.Revision = max(resp.Info.Revision, h.rev)
		resp.Info.Epoch = max(resp.Info.Epoch, h.epoch)
	} else if !found {
		return nil, fmt.Errorf("load %s: %w", k, storage.ErrNotFound)
	}
	return resp, nil
}

// PutSnapshot implements storage.Provider. The document must exist (else ErrNotFound) and the
// snapshot may not be ahead of its log (else ErrInvalid); an older snapshot is ignored.
func (p *Provider) PutSnapshot(ctx context.Context, k storage.DocKey, snap storage.Snapshot) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	if err := storage.ValidateKey(k); err != nil {
		return err
	}
	st.dmu.RLock()
	defer st.dmu.RUnlock()
	mem, inMem := st.memHead(k)
	if inMem {
		// A document with its head in memory is being written: keep the snapshot for the next
		// compaction, which writes the newest of each document in its one transaction. A hot
		// document snapshotted every 100 ops cost the provider a transaction and an fsync of a
		// whole snapshot each time (a quarter of its CPU at 10,000 ops/s); it now costs one per
		// compaction. A crash loses the pending snapshots, not correctness: the ops they cover
		// are durable in the op log and the main database keeps an older snapshot.
		if snap.Revision < 0 || snap.Revision > mem.rev {
			return fmt.Errorf("put snapshot %s: revision %d outside 0..%d: %w", k, snap.Revision, mem.rev, storage.ErrInvalid)
		}
		st.mu.Lock()
		if old, ok := st.snaps[k]; !ok || snap.Revision >= old.snap.Revision {
			if st.snaps == nil {
				st.snaps = make(map[storage.DocKey]pendingSnap)
			}
			st.snapGen++
			st.snaps[k] = pendingSnap{snap: snap, h: mem, gen: st.snapGen}
			if st.snapsSince.IsZero() {
				st.snapsSince = time.Now()
			}
		}
		st.mu.Unlock()
		return nil
	}
	tx, err := st.main.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(ctx, "put snapshot: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := st.writeSnapshot(ctx, tx, k, snap, head{}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbErr(ctx, "put snapshot: commit", err)
	}
	return nil
}

// pendingSnap is a snapshot waiting for compaction, with its document's head when it was put.
type pendingSnap struct {
	snap storage.Snapshot
	h    head
	gen  uint64 // tells a snapshot put again apart from the one compaction wrote
}

// pendingSnapshot returns the snapshot of k waiting for compaction, if any.
func (st *state) pendingSnapshot(k storage.DocKey) (storage.Snapshot, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	ps, ok := st.snaps[k]
	return ps.snap, ok
}

// writeSnapshot upserts a snapshot in tx unless the main database has a newer one. mem is the
// document's head in memory (exists false when there is none): its row is created from it
// when its ops are all still in the op log.
func (st *state) writeSnapshot(ctx context.Context, tx *sql.Tx, k storage.DocKey, snap storage.Snapshot, mem head) error {
	var rev, snapRev int64
	err := tx.StmtContext(ctx, st.stmts.snapHead).QueryRowContext(ctx, k.Tenant, k.ID).Scan(&rev, &snapRev)
	switch {
	case errors.Is(err, sql.ErrNoRows) && !mem.exists:
		return fmt.Errorf("put snapshot %s: %w", k, storage.ErrNotFound)
	case errors.Is(err, sql.ErrNoRows):
		// Its ops are all still in the log: create its row now.
		if _, err := tx.StmtContext(ctx, st.stmts.insertSnapDoc).ExecContext(ctx, k.Tenant, k.ID, mem.typ, mem.rev, int64(mem.epoch)); err != nil {
			return dbErr(ctx, "put snapshot "+k.String(), err)
		}
	case err != nil:
		return dbErr(ctx, "put snapshot "+k.String(), err)
	}
	rev = max(rev, mem.rev)
	if snap.Revision < 0 || snap.Revision > rev {
		return fmt.Errorf("put snapshot %s: revision %d outside 0..%d: %w", k, snap.Revision, rev, storage.ErrInvalid)
	}
	if snap.Revision < snapRev {
		return nil
	}
	if _, err := tx.StmtContext(ctx, st.stmts.upsertSnap).ExecContext(ctx, k.Tenant, k.ID, snap.Revision, snap.Type, nonNil(snap.Data), nonNil(snap.Meta), snap.UnixMillis); err != nil {
		return dbErr(ctx, "put snapshot "+k.String(), err)
	}
	if _, err := tx.StmtContext(ctx, st.stmts.setSnapRev).ExecContext(ctx, snap.Revision, k.Tenant, k.ID); err != nil {
		return dbErr(ctx, "put snapshot "+k.String(), err)
	}
	return nil
}

// Delete implements storage.Provider: the document's ops leave the log first, then its rows
// leave the main database.
func (p *Provider) Delete(ctx context.Context, k storage.DocKey) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	if err := storage.ValidateKey(k); err != nil {
		return err
	}
	st.dmu.Lock()
	defer st.dmu.Unlock()
	st.cmu.Lock()
	defer st.cmu.Unlock()
	st.wmu.Lock()
	defer st.wmu.Unlock()
	if st.closed {
		return fmt.Errorf("delete %s: closed: %w", k, storage.ErrUnavailable)
	}
	if st.broken != nil {
		return fmt.Errorf("delete %s: %w", k, st.broken)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", k, err)
	}
	// The tombstone goes first, durably: should the process die before the main database's rows
	// are gone, the next open finishes the delete, and it never brings back the document's
	// earlier ops still in the log.
	st.wbuf = appendTombstone(st.wbuf[:0], st.nextSeq, k)
	if err := st.writeLog(st.wbuf); err != nil {
		return fmt.Errorf("delete %s: %w", k, err)
	}
	st.nextSeq++
	if cur := st.seg.Load(); cur != nil {
		if err := cur.f.Sync(); err != nil {
			st.broken = fmt.Errorf("sqlite: fsync of the op log failed, restart the provider: %w: %w", err, storage.ErrUnavailable)
			return fmt.Errorf("delete %s: %w", k, st.broken)
		}
	}
	// With the tombstone durable the delete is decided (the next open finishes it): it is not
	// given up because the caller stops waiting, and should the main database fail, appends
	// are refused until a restart, since they would follow the tombstone in the op log and
	// survive a crash without the document's earlier ops.
	if err := st.deleteFromMain(context.WithoutCancel(ctx), k); err != nil {
		st.broken = fmt.Errorf("sqlite: delete of %s interrupted after its tombstone, restart the provider to finish it: %w: %w", k, err, storage.ErrUnavailable)
		st.logger.Error("delete failed; appends refused until restart", "err", err)
		return st.broken
	}
	st.mu.Lock()
	delete(st.snaps, k)
	if ds := st.docs[k]; ds != nil {
		st.tailOps -= len(ds.tail)
		for _, o := range ds.tail {
			st.tailBytes -= len(o.op.Data)
		}
		delete(st.docs, k)
	}
	st.mu.Unlock()
	return nil
}

// deleteFromMain deletes a document's rows from the main database in one transaction.
func (st *state) deleteFromMain(ctx context.Context, k storage.DocKey) error {
	tx, err := st.main.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(ctx, "delete: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, stmt := range []*sql.Stmt{st.stmts.deleteOps, st.stmts.deleteSnap, st.stmts.deleteDoc} {
		if _, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, k.Tenant, k.ID); err != nil {
			return dbErr(ctx, "delete "+k.String(), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return dbErr(ctx, "delete: commit", err)
	}
	return nil
}

// List implements storage.Provider: a page of the main database's documents merged with the
// documents whose heads are newer in memory.
func (p *Provider) List(ctx context.Context, req *storage.ListRequest) (*storage.ListResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	limit := storage.ListLimit(req.Limit)
	// Memory first: what a compaction moves out of it meanwhile is then in what the query sees.
	var mem []storage.DocInfo
	st.mu.RLock()
	for k, ds := range st.docs {
		if k.Tenant != req.Tenant || k.ID <= req.After || ds.durable == 0 {
			continue
		}
		mem = append(mem, storage.DocInfo{Doc: k, Type: ds.typ, Revision: ds.durable, Epoch: ds.epoch, SnapshotRevision: st.snaps[k].snap.Revision})
	}
	st.mu.RUnlock()
	rows, err := st.stmts.list.QueryContext(ctx, req.Tenant, req.After, limit)
	if err != nil {
		return nil, dbErr(ctx, "list "+req.Tenant, err)
	}
	defer rows.Close()
	byID := make(map[string]*storage.DocInfo)
	resp := &storage.ListResponse{}
	for rows.Next() {
		d := storage.DocInfo{Doc: storage.DocKey{Tenant: req.Tenant}}
		var epoch int64
		if err := rows.Scan(&d.Doc.ID, &d.Type, &d.Revision, &epoch, &d.SnapshotRevision); err != nil {
			return nil, dbErr(ctx, "list "+req.Tenant, err)
		}
		d.Epoch = uint64(epoch)
		resp.Docs = append(resp.Docs, d)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(ctx, "list "+req.Tenant, err)
	}
	for i := range resp.Docs {
		byID[resp.Docs[i].Doc.ID] = &resp.Docs[i]
	}
	var extra []storage.DocInfo
	for _, m := range mem {
		if d := byID[m.Doc.ID]; d != nil {
			d.Revision, d.Epoch = max(d.Revision, m.Revision), max(d.Epoch, m.Epoch)
			d.SnapshotRevision = max(d.SnapshotRevision, m.SnapshotRevision)
			continue
		}
		extra = append(extra, m)
	}
	if len(extra) > 0 {
		resp.Docs = append(resp.Docs, extra...)
		slices.SortFunc(resp.Docs, func(a, b storage.DocInfo) int { return cmp.Compare(a.Doc.ID, b.Doc.ID) })
		resp.Docs = resp.Docs[:min(len(resp.Docs), limit)]
	}
	return resp, nil
}

// Health implements storage.Provider: it takes and releases the write lock of both files,
// within 2s or the caller's earlier deadline.
func (p *Provider) Health(ctx context.Context) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	st.wmu.Lock()
	broken := st.broken
	st.wmu.Unlock()
	if broken != nil {
		return fmt.Errorf("health: %w", broken)
	}
	if err := st.backlog(); err != nil {
		return fmt.Errorf("health: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	for _, db := range []*sql.DB{st.main} {
		tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: proves we can write
		if err != nil {
			return dbErr(ctx, "health", fmt.Errorf("%w: %w", err, storage.ErrUnavailable))
		}
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			_ = tx.Rollback()
			return dbErr(ctx, "health", fmt.Errorf("%w: %w", err, storage.ErrUnavailable))
		}
		if err := tx.Rollback(); err != nil {
			return dbErr(ctx, "health", fmt.Errorf("%w: %w", err, storage.ErrUnavailable))
		}
	}
	return nil
}

// Close implements storage.Provider; later calls fail with ErrUnavailable.
func (p *Provider) Close() error {
	st := p.st.Swap(nil)
	if st == nil {
		return nil
	}
	if err := st.close(); err != nil {
		return fmt.Errorf("close %s: %w", st.cfg.Path, err)
	}
	return nil
}

// nonNil stores a nil slice as an empty blob rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
