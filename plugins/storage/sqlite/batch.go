package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// batchRows is how many rows one multi-row statement carries at most.
const batchRows = 64

// batchStmts holds the multi-row statements for every row count, prepared on the writer when
// the database opens (the writer has one connection, which a transaction holds: nothing can be
// prepared on it during an append).
type batchStmts struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (b *batchStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, kind := range []string{"heads", "ops", "docs"} {
		for n := 1; n <= batchRows; n++ {
			if _, err := b.prepareOne(ctx, db, kind, n); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *batchStmts) get(kind string, n int) (*sql.Stmt, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.m[fmt.Sprintf("%s/%d", kind, n)]
	if !ok {
		return nil, fmt.Errorf("no %s statement for %d rows", kind, n)
	}
	return s, nil
}

func (b *batchStmts) prepareOne(ctx context.Context, db *sql.DB, kind string, n int) (*sql.Stmt, error) {
	key := fmt.Sprintf("%s/%d", kind, n)
	b.mu.Lock()
	defer b.mu.Unlock()
	var q string
	switch kind {
	case "heads":
		q = `SELECT tenant, id, revision, epoch FROM docs WHERE (tenant, id) IN (VALUES ` + rows("(?, ?)", n) + `)`
	case "ops":
		q = `INSERT INTO ops (tenant, id, revision, client_id, seq, data, ts) VALUES ` + rows("(?, ?, ?, ?, ?, ?, ?)", n)
	case "docs":
		q = `INSERT INTO docs (tenant, id, type, revision, epoch) VALUES ` + rows("(?, ?, ?, ?, ?)", n) + `
			ON CONFLICT (tenant, id) DO UPDATE SET revision = excluded.revision, epoch = excluded.epoch`
	default:
		return nil, fmt.Errorf("unknown batch statement %q", kind)
	}
	s, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", key, err)
	}
	if b.m == nil {
		b.m = make(map[string]*sql.Stmt)
	}
	b.m[key] = s
	return s, nil
}

func (b *batchStmts) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.m {
		_ = s.Close()
	}
	b.m = nil
}

func rows(row string, n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(row)
	}
	return sb.String()
}

type head struct {
	rev   int64
	epoch uint64
}

// appendBatched writes a whole request with a few multi-row statements: one read of every
// document's head, then the ops and the heads in chunks. The head check is authoritative inside
// the write transaction; an insert that still hits an existing revision returns
// errNeedSavepoints and the caller redoes the request document by document.
func (st *state) appendBatched(ctx context.Context, tx *sql.Tx, req *storage.AppendRequest, errs []error, resp *storage.AppendResponse) error {
	heads := make(map[storage.DocKey]head, len(req.Appends))
	for start := 0; start < len(req.Appends); start += batchRows {
		chunk := req.Appends[start:min(start+batchRows, len(req.Appends))]
		stmt, err := st.batch.get("heads", len(chunk))
		if err != nil {
			return err
		}
		args := make([]any, 0, 2*len(chunk))
		for i := range chunk {
			args = append(args, chunk[i].Doc.Tenant, chunk[i].Doc.ID)
		}
		rs, err := tx.StmtContext(ctx, stmt).QueryContext(ctx, args...)
		if err != nil {
			return dbErr(ctx, "append: read heads", err)
		}
		for rs.Next() {
			var (
				k storage.DocKey
				h head
			)
			if err := rs.Scan(&k.Tenant, &k.ID, &h.rev, &h.epoch); err != nil {
				rs.Close()
				return dbErr(ctx, "append: read heads", err)
			}
			heads[k] = h
		}
		if err := rs.Err(); err != nil {
			rs.Close()
			return dbErr(ctx, "append: read heads", err)
		}
		rs.Close()
	}

	var (
		opArgs  []any
		opRows  int
		docArgs []any
		docRows int
	)
	flushOps := func() error {
		if opRows == 0 {
			return nil
		}
		stmt, err := st.batch.get("ops", opRows)
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, opArgs...); err != nil {
			if isConstraint(err) {
				return errNeedSavepoints
			}
			return dbErr(ctx, "append: insert ops", err)
		}
		opArgs, opRows = opArgs[:0], 0
		return nil
	}
	flushDocs := func() error {
		if docRows == 0 {
			return nil
		}
		stmt, err := st.batch.get("docs", docRows)
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, docArgs...); err != nil {
			return dbErr(ctx, "append: update heads", err)
		}
		docArgs, docRows = docArgs[:0], 0
		return nil
	}
	for i := range req.Appends {
		a := &req.Appends[i]
		res := &resp.Results[i]
		h, exists := heads[a.Doc]
		res.Revision = h.rev
		switch {
		case errs[i] != nil:
			res.Err = errs[i]
			continue
		case exists && a.Epoch < h.epoch:
			res.Err = fmt.Errorf("append %s: epoch %d < %d: %w", a.Doc, a.Epoch, h.epoch, storage.ErrFenced)
			continue
		case h.rev != a.ExpectedRevision:
			res.Err = fmt.Errorf("append %s: at revision %d, expected %d: %w", a.Doc, h.rev, a.ExpectedRevision, storage.ErrConflict)
			continue
		}
		for _, op := range a.Ops {
			opArgs = append(opArgs, a.Doc.Tenant, a.Doc.ID, op.Revision, op.ClientID, int64(op.Seq), nonNil(op.Data), op.UnixMillis)
			if opRows++; opRows == batchRows {
				if err := flushOps(); err != nil {
					return err
				}
			}
		}
		newRev := a.ExpectedRevision + int64(len(a.Ops))
		docArgs = append(docArgs, a.Doc.Tenant, a.Doc.ID, a.Type, newRev, int64(max(h.epoch, a.Epoch)))
		if docRows++; docRows == batchRows {
			if err := flushDocs(); err != nil {
				return err
			}
		}
		res.Revision = newRev
	}
	if err := flushOps(); err != nil {
		return err
	}
	return flushDocs()
}
