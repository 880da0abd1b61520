package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
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

// state is everything Configure opens; it is immutable once published.
type state struct {
	cfg    Config
	writer *sql.DB // one connection: every write goes through it
	reader *sql.DB // read-only pool
	stmts  stmts
	batch  batchStmts
}

var (
	_ storage.Provider   = (*Provider)(nil)
	_ storage.Configurer = (*Provider)(nil)
)

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

func dsn(cfg Config, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.Itoa(cfg.BusyTimeoutMs)+")")
	q.Add("_pragma", "synchronous("+cfg.Synchronous+")")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	return cfg.Path + "?" + q.Encode()
}

func open(ctx context.Context, cfg Config) (*state, error) {
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	writer, err := sql.Open("sqlite", dsn(cfg, false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.Path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	st := &state{cfg: cfg, writer: writer}
	if err := migrate(ctx, writer); err != nil {
		st.close()
		return nil, fmt.Errorf("migrate %s: %w", cfg.Path, err)
	}
	st.reader, err = sql.Open("sqlite", dsn(cfg, true))
	if err != nil {
		st.close()
		return nil, fmt.Errorf("open %s for reading: %w", cfg.Path, err)
	}
	st.reader.SetMaxOpenConns(readConns)
	st.reader.SetMaxIdleConns(readConns)
	if err := st.stmts.prepare(ctx, writer, st.reader); err != nil {
		st.close()
		return nil, fmt.Errorf("prepare statements: %w", err)
	}
	if err := st.batch.prepare(ctx, writer); err != nil {
		st.close()
		return nil, fmt.Errorf("prepare batch statements: %w", err)
	}
	return st, nil
}

func (st *state) close() error {
	st.stmts.close()
	st.batch.close()
	var errs []error
	if st.reader != nil {
		errs = append(errs, st.reader.Close())
	}
	if st.writer != nil {
		errs = append(errs, st.writer.Close())
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

// isConstraint reports a constraint violation (SQLITE_CONSTRAINT).
func isConstraint(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == 19
}

// Append implements storage.Provider: the whole request is one transaction, each append inside
// its own savepoint.
func (p *Provider) Append(ctx context.Context, req *storage.AppendRequest) (*storage.AppendResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	errs := storage.ValidateRequest(req)
	// The head check inside the write transaction is authoritative (one writer, BEGIN
	// IMMEDIATE), so appends normally need no savepoints. Only if an insert still hits the
	// (tenant, id, revision) key is the request redone with a savepoint per document, so that
	// one document's failure cannot fail the others.
	resp, err := st.appendTx(ctx, req, errs, false)
	if errors.Is(err, errNeedSavepoints) {
		resp, err = st.appendTx(ctx, req, errs, true)
	}
	return resp, err
}

var errNeedSavepoints = errors.New("append: redo with savepoints")

func (st *state) appendTx(ctx context.Context, req *storage.AppendRequest, errs []error, savepoints bool) (*storage.AppendResponse, error) {
	resp := &storage.AppendResponse{Results: make([]storage.AppendResult, len(req.Appends))}
	tx, err := st.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, dbErr(ctx, "append: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if !savepoints {
		if err := st.appendBatched(ctx, tx, req, errs, resp); err != nil {
			return nil, err
		}
	} else {
		s := st.stmts.inTx(ctx, tx)
		for i := range req.Appends {
			a := &req.Appends[i]
			res := &resp.Results[i]
			if err := st.appendOne(ctx, s, a, res, errs[i], true); err != nil {
				return nil, err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, dbErr(ctx, "append: commit", err)
	}
	return resp, nil
}

// appendOne applies one append, recording its outcome in res. The returned error fails the
// whole request.
func (st *state) appendOne(ctx context.Context, s txStmts, a *storage.Append, res *storage.AppendResult, invalid error, savepoints bool) error {
	var (
		rev   int64
		epoch uint64
	)
	err := s.head.QueryRowContext(ctx, a.Doc.Tenant, a.Doc.ID).Scan(&rev, &epoch)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return dbErr(ctx, "append: read head of "+a.Doc.String(), err)
	}
	res.Revision = rev
	switch {
	case invalid != nil:
		res.Err = invalid
		return nil
	case exists && a.Epoch < epoch:
		res.Err = fmt.Errorf("append %s: epoch %d < %d: %w", a.Doc, a.Epoch, epoch, storage.ErrFenced)
		return nil
	case rev != a.ExpectedRevision:
		res.Err = fmt.Errorf("append %s: at revision %d, expected %d: %w", a.Doc, rev, a.ExpectedRevision, storage.ErrConflict)
		return nil
	}
	if savepoints {
		if _, err := s.savepoint.ExecContext(ctx); err != nil {
			return dbErr(ctx, "append: savepoint", err)
		}
	}
	for _, op := range a.Ops {
		_, err := s.insertOp.ExecContext(ctx, a.Doc.Tenant, a.Doc.ID, op.Revision, op.ClientID, int64(op.Seq), nonNil(op.Data), op.UnixMillis)
		if err != nil {
			if !savepoints {
				if isConstraint(err) {
					return errNeedSavepoints
				}
				return dbErr(ctx, "append: insert op into "+a.Doc.String(), err)
			}
			if _, rbErr := s.rollbackTo.ExecContext(ctx); rbErr != nil {
				return dbErr(ctx, "append: roll back savepoint", rbErr)
			}
			if _, rbErr := s.release.ExecContext(ctx); rbErr != nil {
				return dbErr(ctx, "append: release savepoint", rbErr)
			}
			if isConstraint(err) {
				// The log already holds this revision: another writer got there first.
				res.Err = fmt.Errorf("append %s: revision %d already stored: %w", a.Doc, op.Revision, storage.ErrConflict)
				return nil
			}
			return dbErr(ctx, "append: insert op into "+a.Doc.String(), err)
		}
	}
	newRev := a.ExpectedRevision + int64(len(a.Ops))
	if _, err := s.upsertDoc.ExecContext(ctx, a.Doc.Tenant, a.Doc.ID, a.Type, newRev, int64(max(epoch, a.Epoch))); err != nil {
		return dbErr(ctx, "append: update head of "+a.Doc.String(), err)
	}
	if savepoints {
		if _, err := s.release.ExecContext(ctx); err != nil {
			return dbErr(ctx, "append: release savepoint", err)
		}
	}
	res.Revision = newRev
	return nil
}

// ReadOps implements storage.Provider, reading from the read pool. Pages hold at most
// storage.MaxReadOps ops and about storage.MaxReadBytes of data.
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
	rows, err := st.stmts.readOps.QueryContext(ctx, req.Doc.Tenant, req.Doc.ID, req.From, limit)
	if err != nil {
		return nil, dbErr(ctx, "read ops "+req.Doc.String(), err)
	}
	defer rows.Close()
	resp := &storage.ReadOpsResponse{Ops: make([]storage.Op, 0, min(limit, 1024))}
	size := 0
	for rows.Next() {
		var (
			op  storage.Op
			seq int64
		)
		if err := rows.Scan(&op.Revision, &op.ClientID, &seq, &op.Data, &op.UnixMillis); err != nil {
			return nil, dbErr(ctx, "read ops "+req.Doc.String(), err)
		}
		op.Seq = uint64(seq)
		if len(resp.Ops) > 0 && size+len(op.Data) > storage.MaxReadBytes {
			break
		}
		size += len(op.Data)
		resp.Ops = append(resp.Ops, op)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(ctx, "read ops "+req.Doc.String(), err)
	}
	return resp, nil
}

// Load implements storage.Provider: the head and snapshot are read in one read transaction, so
// they are consistent with each other.
func (p *Provider) Load(ctx context.Context, k storage.DocKey) (*storage.LoadResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	if err := storage.ValidateKey(k); err != nil {
		return nil, err
	}
	tx, err := st.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, dbErr(ctx, "load "+k.String(), err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	resp := &storage.LoadResponse{Info: storage.DocInfo{Doc: k}}
	var epoch int64
	err = tx.StmtContext(ctx, st.stmts.loadDoc).QueryRowContext(ctx, k.Tenant, k.ID).
		Scan(&resp.Info.Type, &resp.Info.Revision, &epoch, &resp.Info.SnapshotRevision)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("load %s: %w", k, storage.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(ctx, "load "+k.String(), err)
	}
	resp.Info.Epoch = uint64(epoch)
	snap := &storage.Snapshot{}
	err = tx.StmtContext(ctx, st.stmts.loadSnap).QueryRowContext(ctx, k.Tenant, k.ID).
		Scan(&snap.Revision, &snap.Type, &snap.Data, &snap.Meta, &snap.UnixMillis)
	switch {
	case err == nil:
		resp.Snapshot = snap
	case !errors.Is(err, sql.ErrNoRows):
		return nil, dbErr(ctx, "load snapshot "+k.String(), err)
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
	tx, err := st.writer.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(ctx, "put snapshot: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	s := st.stmts.inTx(ctx, tx)
	var rev, snapRev int64
	err = s.snapHead.QueryRowContext(ctx, k.Tenant, k.ID).Scan(&rev, &snapRev)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("put snapshot %s: %w", k, storage.ErrNotFound)
	}
	if err != nil {
		return dbErr(ctx, "put snapshot "+k.String(), err)
	}
	if snap.Revision < 0 || snap.Revision > rev {
		return fmt.Errorf("put snapshot %s: revision %d outside 0..%d: %w", k, snap.Revision, rev, storage.ErrInvalid)
	}
	if snap.Revision < snapRev {
		return nil
	}
	if _, err := s.upsertSnap.ExecContext(ctx, k.Tenant, k.ID, snap.Revision, snap.Type, nonNil(snap.Data), nonNil(snap.Meta), snap.UnixMillis); err != nil {
		return dbErr(ctx, "put snapshot "+k.String(), err)
	}
	if _, err := s.setSnapRev.ExecContext(ctx, snap.Revision, k.Tenant, k.ID); err != nil {
		return dbErr(ctx, "put snapshot "+k.String(), err)
	}
	if err := tx.Commit(); err != nil {
		return dbErr(ctx, "put snapshot: commit", err)
	}
	return nil
}

// Delete implements storage.Provider.
func (p *Provider) Delete(ctx context.Context, k storage.DocKey) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	if err := storage.ValidateKey(k); err != nil {
		return err
	}
	tx, err := st.writer.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(ctx, "delete: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	s := st.stmts.inTx(ctx, tx)
	for _, stmt := range []*sql.Stmt{s.deleteOps, s.deleteSnap, s.deleteDoc} {
		if _, err := stmt.ExecContext(ctx, k.Tenant, k.ID); err != nil {
			return dbErr(ctx, "delete "+k.String(), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return dbErr(ctx, "delete: commit", err)
	}
	return nil
}

// List implements storage.Provider.
func (p *Provider) List(ctx context.Context, req *storage.ListRequest) (*storage.ListResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	rows, err := st.stmts.list.QueryContext(ctx, req.Tenant, req.After, storage.ListLimit(req.Limit))
	if err != nil {
		return nil, dbErr(ctx, "list "+req.Tenant, err)
	}
	defer rows.Close()
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
	return resp, nil
}

// Health implements storage.Provider: it takes and releases the write lock on the writer
// connection, within 2s or the caller's earlier deadline.
func (p *Provider) Health(ctx context.Context) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	tx, err := st.writer.BeginTx(ctx, nil) // BEGIN IMMEDIATE: proves we can write
	if err != nil {
		return dbErr(ctx, "health", fmt.Errorf("%w: %w", err, storage.ErrUnavailable))
	}
	var one int
	if err := tx.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		_ = tx.Rollback()
		return dbErr(ctx, "health", fmt.Errorf("%w: %w", err, storage.ErrUnavailable))
	}
	return tx.Rollback()
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
