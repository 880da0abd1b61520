package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// appendAttempts is how often Append runs a transaction the server aborted to break a deadlock.
const appendAttempts = 3

// Append implements storage.Provider. The whole request is one transaction: the document rows
// are locked (SELECT ... FOR UPDATE, in key order), documents are created with INSERT ... ON
// CONFLICT DO NOTHING, and every checked append's ops go in with one multi-row INSERT. The
// (tenant, id, revision) primary key is the backstop: if an insert still hits it, the request
// is redone with a savepoint per append so that the one conflicting append fails alone.
func (p *Provider) Append(ctx context.Context, req *storage.AppendRequest) (*storage.AppendResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	errs := storage.ValidateRequest(req)
	for i := range req.Appends {
		if errs[i] == nil {
			errs[i] = validateAppend(&req.Appends[i])
		}
	}
	savepoints := false
	for attempt := 1; ; attempt++ {
		resp, err := st.appendTx(ctx, req, errs, savepoints)
		switch {
		case err == nil:
			return resp, nil
		case errors.Is(err, errNeedSavepoints):
			savepoints = true
		case isRetryable(err) && attempt < appendAttempts && ctx.Err() == nil:
		default:
			return nil, dbErr(ctx, "append", err)
		}
	}
}

var errNeedSavepoints = errors.New("append: redo with savepoints")

// appendTx runs the request in one transaction. Without savepoints, a unique violation returns
// errNeedSavepoints; with them, each append runs in its own savepoint and a unique violation
// fails only that append, with ErrConflict.
func (st *state) appendTx(ctx context.Context, req *storage.AppendRequest, errs []error, savepoints bool) (*storage.AppendResponse, error) {
	resp := &storage.AppendResponse{Results: make([]storage.AppendResult, len(req.Appends))}
	// The appends to run, in key order: every transaction locks rows in the same order.
	todo := make([]int, 0, len(req.Appends))
	for i := range req.Appends {
		if errs[i] != nil {
			resp.Results[i].Err = errs[i]
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return resp, nil
	}
	slices.SortFunc(todo, func(a, b int) int {
		ka, kb := req.Appends[a].Doc, req.Appends[b].Doc
		if c := strings.Compare(ka.Tenant, kb.Tenant); c != 0 {
			return c
		}
		return strings.Compare(ka.ID, kb.ID)
	})
	tx, err := st.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if !savepoints {
		if err := applyAppends(ctx, tx, req, todo, resp); err != nil {
			if isUniqueViolation(err) {
				return nil, errNeedSavepoints
			}
			return nil, err
		}
	} else {
		for _, i := range todo {
			if _, err := tx.Exec(ctx, `SAVEPOINT doc_append`); err != nil {
				return nil, err
			}
			err := applyAppends(ctx, tx, req, []int{i}, resp)
			switch {
			case err == nil:
				if _, err := tx.Exec(ctx, `RELEASE SAVEPOINT doc_append`); err != nil {
					return nil, err
				}
			case isUniqueViolation(err):
				if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT doc_append`); err != nil {
					return nil, err
				}
				a := &req.Appends[i]
				res := &resp.Results[i]
				res.Revision = 0
				if err := tx.QueryRow(ctx, `SELECT revision FROM docs WHERE tenant = $1 AND id = $2`,
					a.Doc.Tenant, a.Doc.ID).Scan(&res.Revision); err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return nil, err
				}
				res.Err = fmt.Errorf("append %s: revision %d already stored: %w", a.Doc, a.ExpectedRevision+1, storage.ErrConflict)
			default:
				return nil, err
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		if isUniqueViolation(err) {
			return nil, errNeedSavepoints
		}
		return nil, err
	}
	return resp, nil
}

type head struct {
	rev   int64
	epoch int64
}

// applyAppends runs the appends req.Appends[i] for i in todo (valid, distinct documents, in key
// order) inside tx and records their outcomes in resp. A returned error fails the transaction.
func applyAppends(ctx context.Context, tx pgx.Tx, req *storage.AppendRequest, todo []int, resp *storage.AppendResponse) error {
	tenants := make([]string, len(todo))
	ids := make([]string, len(todo))
	for j, i := range todo {
		tenants[j], ids[j] = req.Appends[i].Doc.Tenant, req.Appends[i].Doc.ID
	}
	heads, err := lockHeads(ctx, tx, tenants, ids)
	if err != nil {
		return err
	}

	// Check each append against its locked head; missing documents with ExpectedRevision 0
	// are created below.
	var creates, updates []int
	for _, i := range todo {
		a := &req.Appends[i]
		h, exists := heads[a.Doc]
		if !exists {
			if a.ExpectedRevision != 0 {
				resp.Results[i] = storage.AppendResult{Revision: 0, Err: fmt.Errorf("append %s: document does not exist, expected revision %d: %w", a.Doc, a.ExpectedRevision, storage.ErrConflict)}
				continue
			}
			creates = append(creates, i)
			continue
		}
		if res := check(a, h); res.Err != nil {
			resp.Results[i] = res
			continue
		}
		updates = append(updates, i)
	}

	var written []int
	if len(creates) > 0 {
		created, err := createDocs(ctx, tx, req, creates)
		if err != nil {
			return err
		}
		var lost []int
		for _, i := range creates {
			if created[req.Appends[i].Doc] {
				written = append(written, i)
			} else {
				lost = append(lost, i)
			}
		}
		if len(lost) > 0 {
			// Another transaction created these documents and committed while we waited on
			// its insert: lock their rows and check against what it wrote.
			tenants, ids = tenants[:0], ids[:0]
			for _, i := range lost {
				tenants, ids = append(tenants, req.Appends[i].Doc.Tenant), append(ids, req.Appends[i].Doc.ID)
			}
			heads, err := lockHeads(ctx, tx, tenants, ids)
			if err != nil {
				return err
			}
			for _, i := range lost {
				a := &req.Appends[i]
				h, exists := heads[a.Doc]
				res := storage.AppendResult{Err: fmt.Errorf("append %s: created concurrently: %w", a.Doc, storage.ErrConflict)}
				if exists {
					if res = check(a, h); res.Err == nil {
						res = storage.AppendResult{Revision: h.rev, Err: fmt.Errorf("append %s: at revision %d, expected %d: %w", a.Doc, h.rev, a.ExpectedRevision, storage.ErrConflict)}
					}
				}
				resp.Results[i] = res
			}
		}
	}
	written = append(written, updates...)
	if len(written) == 0 {
		return nil
	}

	b := &pgx.Batch{}
	queueOps(b, req, written)
	if len(updates) > 0 {
		n := len(updates)
		uTenants, uIDs := make([]string, n), make([]string, n)
		revs, epochs := make([]int64, n), make([]int64, n)
		for j, i := range updates {
			a := &req.Appends[i]
			uTenants[j], uIDs[j] = a.Doc.Tenant, a.Doc.ID
			revs[j] = a.ExpectedRevision + int64(len(a.Ops))
			epochs[j] = max(heads[a.Doc].epoch, int64(a.Epoch))
		}
		b.Queue(`UPDATE docs d SET revision = u.revision, epoch = u.epoch
			FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS u(tenant, id, revision, epoch)
			WHERE d.tenant = u.tenant AND d.id = u.id`, uTenants, uIDs, revs, epochs)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	for _, i := range written {
		a := &req.Appends[i]
		resp.Results[i] = storage.AppendResult{Revision: a.ExpectedRevision + int64(len(a.Ops))}
	}
	return nil
}

// check applies the fencing and revision rules to an append against its locked head.
func check(a *storage.Append, h head) storage.AppendResult {
	switch {
	case int64(a.Epoch) < h.epoch:
		return storage.AppendResult{Revision: h.rev, Err: fmt.Errorf("append %s: epoch %d < %d: %w", a.Doc, a.Epoch, h.epoch, storage.ErrFenced)}
	case h.rev != a.ExpectedRevision:
		return storage.AppendResult{Revision: h.rev, Err: fmt.Errorf("append %s: at revision %d, expected %d: %w", a.Doc, h.rev, a.ExpectedRevision, storage.ErrConflict)}
	}
	return storage.AppendResult{Revision: h.rev}
}

// lockHeads locks the document rows that exist among the keys, in key order, and returns their
// heads.
func lockHeads(ctx context.Context, tx pgx.Tx, tenants, ids []string) (map[storage.DocKey]head, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if len(tenants) == 1 {
		rows, err = tx.Query(ctx, `SELECT tenant, id, revision, epoch FROM docs
			WHERE tenant = $1 AND id = $2 FOR UPDATE`, tenants[0], ids[0])
	} else {
		rows, err = tx.Query(ctx, `SELECT d.tenant, d.id, d.revision, d.epoch
			FROM docs d JOIN unnest($1::text[], $2::text[]) AS k(tenant, id) ON d.tenant = k.tenant AND d.id = k.id
			ORDER BY d.tenant, d.id FOR UPDATE OF d`, tenants, ids)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	heads := make(map[storage.DocKey]head, len(tenants))
	for rows.Next() {
		var (
			k storage.DocKey
			h head
		)
		if err := rows.Scan(&k.Tenant, &k.ID, &h.rev, &h.epoch); err != nil {
			return nil, err
		}
		heads[k] = h
	}
	return heads, rows.Err()
}

// createDocs inserts the document rows for creating appends, already at their new revision. A
// row another transaction inserted first is skipped (after waiting for that transaction to end):
// the returned set holds the documents this transaction created.
func createDocs(ctx context.Context, tx pgx.Tx, req *storage.AppendRequest, creates []int) (map[storage.DocKey]bool, error) {
	n := len(creates)
	tenants, ids, types := make([]string, n), make([]string, n), make([]string, n)
	revs, epochs := make([]int64, n), make([]int64, n)
	for j, i := range creates {
		a := &req.Appends[i]
		tenants[j], ids[j], types[j] = a.Doc.Tenant, a.Doc.ID, a.Type
		revs[j], epochs[j] = int64(len(a.Ops)), int64(a.Epoch)
	}
	rows, err := tx.Query(ctx, `INSERT INTO docs (tenant, id, type, revision, epoch)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
		ON CONFLICT (tenant, id) DO NOTHING
		RETURNING tenant, id`, tenants, ids, types, revs, epochs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	created := make(map[storage.DocKey]bool, n)
	for rows.Next() {
		var k storage.DocKey
		if err := rows.Scan(&k.Tenant, &k.ID); err != nil {
			return nil, err
		}
		created[k] = true
	}
	return created, rows.Err()
}

// queueOps queues one multi-row INSERT of the ops of the appends req.Appends[i], i in written.
func queueOps(b *pgx.Batch, req *storage.AppendRequest, written []int) {
	n := 0
	for _, i := range written {
		n += len(req.Appends[i].Ops)
	}
	tenants, ids, clients := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	revs, seqs, tss := make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
	data := make([][]byte, 0, n)
	for _, i := range written {
		a := &req.Appends[i]
		for _, op := range a.Ops {
			tenants, ids, clients = append(tenants, a.Doc.Tenant), append(ids, a.Doc.ID), append(clients, op.ClientID)
			revs, seqs, tss = append(revs, op.Revision), append(seqs, int64(op.Seq)), append(tss, op.UnixMillis)
			data = append(data, nonNil(op.Data))
		}
	}
	b.Queue(`INSERT INTO ops (tenant, id, revision, client_id, seq, data, ts)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bytea[], $7::bigint[])`,
		tenants, ids, revs, clients, seqs, data, tss)
}
