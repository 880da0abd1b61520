package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// healthTimeout bounds Health when the caller's context has no earlier deadline.
const healthTimeout = 2 * time.Second

// Provider is the PostgreSQL storage provider. Create it with New, then Configure it before any
// other call. Safe for concurrent use.
type Provider struct {
	st atomic.Pointer[state]
}

// state is everything Configure opens; it is immutable once published.
type state struct {
	cfg  Config
	pool *pgxpool.Pool
}

var (
	_ storage.Provider   = (*Provider)(nil)
	_ storage.Configurer = (*Provider)(nil)
)

// New returns an unconfigured provider; Configure connects and migrates the schema.
func New() *Provider { return &Provider{} }

// Configure parses the config block (see Config; unknown keys are rejected), opens the
// connection pool, and creates or migrates the schema. It may be called once. A server that
// cannot be reached gives an error wrapping storage.ErrUnavailable.
func (p *Provider) Configure(ctx context.Context, raw []byte) error {
	cfg, err := parseConfig(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", err, storage.ErrInvalid)
	}
	if p.st.Load() != nil {
		return fmt.Errorf("configure: already configured: %w", storage.ErrInvalid)
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgx's message can quote the DSN, password included: keep it out of the error.
		return fmt.Errorf("postgres config: dsn cannot be parsed (want postgres://user:pass@host:port/db or key=value pairs): %w", storage.ErrInvalid)
	}
	pcfg.MaxConns = int32(cfg.MaxConns)
	pcfg.MinConns = int32(cfg.MinConns)
	pcfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{cfg.Schema}.Sanitize()
	if _, ok := pcfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		pcfg.ConnConfig.RuntimeParams["application_name"] = "opstream"
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("configure: open pool: %w", err)
	}
	if err := migrate(ctx, pool, cfg.Schema); err != nil {
		pool.Close()
		return dbErr(ctx, "configure: migrate", err)
	}
	if !p.st.CompareAndSwap(nil, &state{cfg: cfg, pool: pool}) {
		pool.Close()
		return fmt.Errorf("configure: already configured: %w", storage.ErrInvalid)
	}
	return nil
}

func (p *Provider) state() (*state, error) {
	st := p.st.Load()
	if st == nil {
		return nil, fmt.Errorf("postgres: not configured or closed: %w", storage.ErrUnavailable)
	}
	return st, nil
}

// SQLSTATE codes the provider branches on.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeReadOnlyTransaction  = "25006"
	codeCharNotInRepertoire  = "22021"
	codeUntranslatableChar   = "22P05"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// isUniqueViolation reports that an insert hit an existing key.
func isUniqueViolation(err error) bool { return pgCode(err) == codeUniqueViolation }

// isRetryable reports a transaction the server aborted to break a deadlock or a serialization
// conflict: running it again is safe.
func isRetryable(err error) bool {
	c := pgCode(err)
	return c == codeSerializationFailure || c == codeDeadlockDetected
}

// unavailable reports an error meaning the server cannot serve us right now: any failure that
// is not a server error response (dial, broken connection, TLS, ...), or a server error of
// class 08 (connection), 53 (insufficient resources), 57P (shut down, starting up), a
// read-only server (a replica, or a primary being demoted), or a retryable abort.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return !errors.Is(err, pgx.ErrNoRows) && !errors.Is(err, pgx.ErrTxClosed)
	}
	switch {
	case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57P"):
		return true
	case pe.Code == codeReadOnlyTransaction, pe.Code == codeSerializationFailure, pe.Code == codeDeadlockDetected:
		return true
	}
	return false
}

// dbErr classifies a database error: connection failures become storage.ErrUnavailable
// (retryable), text the database cannot store becomes storage.ErrInvalid; context errors pass
// through.
func dbErr(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", what, ctxErr)
	}
	switch c := pgCode(err); {
	case c == codeCharNotInRepertoire || c == codeUntranslatableChar:
		return fmt.Errorf("%s: %w: %w", what, err, storage.ErrInvalid)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", what, err, storage.ErrUnavailable)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// validText reports whether PostgreSQL can store s in a text column: valid UTF-8 without NUL.
func validText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// validateKey is storage.ValidateKey plus what a text column can hold.
func validateKey(k storage.DocKey) error {
	if err := storage.ValidateKey(k); err != nil {
		return err
	}
	if !validText(k.Tenant) || !validText(k.ID) {
		return fmt.Errorf("document %q: tenant and id must be valid UTF-8 without NUL bytes: %w", k.String(), storage.ErrInvalid)
	}
	return nil
}

// validateAppend checks what storage.Append.Validate leaves to the provider: text PostgreSQL
// can store, and an epoch that fits in a bigint.
func validateAppend(a *storage.Append) error {
	if err := validateKey(a.Doc); err != nil {
		return err
	}
	if a.Epoch > math.MaxInt64 {
		return fmt.Errorf("append %s: epoch %d above %d: %w", a.Doc, a.Epoch, int64(math.MaxInt64), storage.ErrInvalid)
	}
	if !validText(a.Type) {
		return fmt.Errorf("append %s: type must be valid UTF-8 without NUL bytes: %w", a.Doc, storage.ErrInvalid)
	}
	for _, op := range a.Ops {
		if !validText(op.ClientID) {
			return fmt.Errorf("append %s: op %d: client id must be valid UTF-8 without NUL bytes: %w", a.Doc, op.Revision, storage.ErrInvalid)
		}
	}
	return nil
}

// readOpsSQL returns ops from a revision on, in order, capped at a count and (after the first op)
// at a total data size. The running size is computed from octet_length, which reads the stored
// length without de-TOASTing the data, so ops past the cap are never sent or even loaded.
const readOpsSQL = `SELECT revision, client_id, seq, data, ts FROM (
		SELECT revision, client_id, seq, data, ts,
			row_number() OVER w AS n,
			sum(octet_length(data)) OVER w AS total
		FROM ops
		WHERE tenant = $1 AND id = $2 AND revision >= $3
		WINDOW w AS (ORDER BY revision ROWS UNBOUNDED PRECEDING)
		ORDER BY revision
		LIMIT $4
	) page
	WHERE n = 1 OR total <= $5
	ORDER BY revision`

// ReadOps implements storage.Provider. Pages hold at most storage.MaxReadOps ops and
// storage.MaxReadBytes of data (at least one op).
func (p *Provider) ReadOps(ctx context.Context, req *storage.ReadOpsRequest) (*storage.ReadOpsResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	if err := validateKey(req.Doc); err != nil {
		return nil, err
	}
	if req.From < 1 {
		return nil, fmt.Errorf("read ops %s: from %d < 1: %w", req.Doc, req.From, storage.ErrInvalid)
	}
	limit := storage.ReadLimit(req.Limit)
	rows, err := st.pool.Query(ctx, readOpsSQL, req.Doc.Tenant, req.Doc.ID, req.From, limit, storage.MaxReadBytes)
	if err != nil {
		return nil, dbErr(ctx, "read ops "+req.Doc.String(), err)
	}
	defer rows.Close()
	resp := &storage.ReadOpsResponse{Ops: make([]storage.Op, 0, min(limit, 1024))}
	for rows.Next() {
		var (
			op  storage.Op
			seq int64
		)
		if err := rows.Scan(&op.Revision, &op.ClientID, &seq, &op.Data, &op.UnixMillis); err != nil {
			return nil, dbErr(ctx, "read ops "+req.Doc.String(), err)
		}
		op.Seq = uint64(seq)
		resp.Ops = append(resp.Ops, op)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(ctx, "read ops "+req.Doc.String(), err)
	}
	return resp, nil
}

// Load implements storage.Provider. The head and the snapshot come from one statement, so they
// are consistent with each other.
func (p *Provider) Load(ctx context.Context, k storage.DocKey) (*storage.LoadResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	if err := validateKey(k); err != nil {
		return nil, err
	}
	resp := &storage.LoadResponse{Info: storage.DocInfo{Doc: k}}
	var (
		epoch   int64
		snapRev *int64
		snap    storage.Snapshot
		snapTS  *int64
		snapTyp *string
	)
	err = st.pool.QueryRow(ctx, `SELECT d.type, d.revision, d.epoch, d.snapshot_revision,
			s.revision, s.type, s.data, s.meta, s.ts
		FROM docs d LEFT JOIN snapshots s ON s.tenant = d.tenant AND s.id = d.id
		WHERE d.tenant = $1 AND d.id = $2`, k.Tenant, k.ID).
		Scan(&resp.Info.Type, &resp.Info.Revision, &epoch, &resp.Info.SnapshotRevision,
			&snapRev, &snapTyp, &snap.Data, &snap.Meta, &snapTS)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("load %s: %w", k, storage.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(ctx, "load "+k.String(), err)
	}
	resp.Info.Epoch = uint64(epoch)
	if snapRev != nil {
		snap.Revision, snap.Type, snap.UnixMillis = *snapRev, *snapTyp, *snapTS
		resp.Snapshot = &snap
	}
	return resp, nil
}

// PutSnapshot implements storage.Provider. The document must exist (else ErrNotFound) and the
// snapshot may not be ahead of its log (else ErrInvalid); an older snapshot is ignored. The
// document row is locked while the snapshot is written, so concurrent writers serialize.
func (p *Provider) PutSnapshot(ctx context.Context, k storage.DocKey, snap storage.Snapshot) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	if err := validateKey(k); err != nil {
		return err
	}
	if !validText(snap.Type) {
		return fmt.Errorf("put snapshot %s: type must be valid UTF-8 without NUL bytes: %w", k, storage.ErrInvalid)
	}
	err = pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		var rev, snapRev int64
		err := tx.QueryRow(ctx, `SELECT revision, snapshot_revision FROM docs WHERE tenant = $1 AND id = $2 FOR UPDATE`,
			k.Tenant, k.ID).Scan(&rev, &snapRev)
		if errors.Is(err, pgx.ErrNoRows) {
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
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO snapshots (tenant, id, revision, type, data, meta, ts) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (tenant, id) DO UPDATE SET revision = excluded.revision, type = excluded.type,
			data = excluded.data, meta = excluded.meta, ts = excluded.ts`,
			k.Tenant, k.ID, snap.Revision, snap.Type, nonNil(snap.Data), nonNil(snap.Meta), snap.UnixMillis)
		b.Queue(`UPDATE docs SET snapshot_revision = $3 WHERE tenant = $1 AND id = $2`, k.Tenant, k.ID, snap.Revision)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return dbErr(ctx, "put snapshot "+k.String(), err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrInvalid) {
		return dbErr(ctx, "put snapshot "+k.String(), err)
	}
	return err
}

// Delete implements storage.Provider. Deleting the document row first takes its lock, so a
// concurrent append either finishes before the delete or finds no document.
func (p *Provider) Delete(ctx context.Context, k storage.DocKey) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	if err := validateKey(k); err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM docs WHERE tenant = $1 AND id = $2`, k.Tenant, k.ID)
		b.Queue(`DELETE FROM ops WHERE tenant = $1 AND id = $2`, k.Tenant, k.ID)
		b.Queue(`DELETE FROM snapshots WHERE tenant = $1 AND id = $2`, k.Tenant, k.ID)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return dbErr(ctx, "delete "+k.String(), err)
	}
	return nil
}

// List implements storage.Provider: ids in bytewise order.
func (p *Provider) List(ctx context.Context, req *storage.ListRequest) (*storage.ListResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	if !validText(req.Tenant) || !validText(req.After) {
		return nil, fmt.Errorf("list %q: tenant and after must be valid UTF-8 without NUL bytes: %w", req.Tenant, storage.ErrInvalid)
	}
	limit := storage.ListLimit(req.Limit)
	rows, err := st.pool.Query(ctx, `SELECT id, type, revision, epoch, snapshot_revision FROM docs
		WHERE tenant = $1 AND id > $2 ORDER BY id LIMIT $3`, req.Tenant, req.After, limit)
	if err != nil {
		return nil, dbErr(ctx, "list "+req.Tenant, err)
	}
	defer rows.Close()
	resp := &storage.ListResponse{Docs: make([]storage.DocInfo, 0, min(limit, 256))}
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

// Health implements storage.Provider: within 2s (or the caller's earlier deadline) it runs a
// trivial query and checks the server accepts writes (is not a replica in recovery). Every
// failure wraps storage.ErrUnavailable. A connection broken by a server restart is dropped and
// the check tried once more on a fresh one.
func (p *Provider) Health(ctx context.Context) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		var recovery bool
		err := st.pool.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&recovery)
		switch {
		case err == nil && recovery:
			return fmt.Errorf("health: server is a read-only replica: %w", storage.ErrUnavailable)
		case err == nil:
			return nil
		case attempt == 0 && ctx.Err() == nil && unavailable(err):
			continue
		}
		return fmt.Errorf("health: %w: %w", err, storage.ErrUnavailable)
	}
}

// Close implements storage.Provider: it waits for connections in use to be returned, then
// closes the pool. Later calls fail with ErrUnavailable.
func (p *Provider) Close() error {
	if st := p.st.Swap(nil); st != nil {
		st.pool.Close()
	}
	return nil
}

// nonNil stores a nil slice as an empty bytea rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
