package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// batchRows is how many rows one multi-row statement carries at most.
const batchRows = 64

// Kinds of multi-row statement.
const (
	stmtOpsInsert  = iota // into the main database's ops, ignoring rows already there
	stmtDocsUpsert        // the main database's document heads, never moving backwards
	stmtKinds
)

// batchStmts holds the multi-row statements for every row count, prepared when the files open
// (each writer has one connection, which a transaction holds: nothing can be prepared on it
// during a write).
type batchStmts struct {
	s [stmtKinds][batchRows + 1]*sql.Stmt
}

func (b *batchStmts) prepare(ctx context.Context, db *sql.DB) error {
	for kind := range stmtKinds {
		for n := 1; n <= batchRows; n++ {
			var q string
			switch kind {
			case stmtOpsInsert:
				q = `INSERT OR IGNORE INTO ops (tenant, id, revision, client_id, seq, data, ts) VALUES ` +
					rows("(?, ?, ?, ?, ?, ?, ?)", n)
			case stmtDocsUpsert:
				q = `INSERT INTO docs (tenant, id, type, revision, epoch) VALUES ` + rows("(?, ?, ?, ?, ?)", n) + `
					ON CONFLICT (tenant, id) DO UPDATE SET revision = max(revision, excluded.revision),
					epoch = max(epoch, excluded.epoch)`
			}
			s, err := db.PrepareContext(ctx, q)
			if err != nil {
				return fmt.Errorf("prepare %d-row statement: %w", n, err)
			}
			b.s[kind][n] = s
		}
	}
	return nil
}

func (b *batchStmts) get(kind, n int) *sql.Stmt { return b.s[kind][n] }

func (b *batchStmts) close() {
	for kind := range b.s {
		for _, s := range b.s[kind] {
			if s != nil {
				_ = s.Close() // the pointer stays: see stmts.close
			}
		}
	}
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

// multiRow executes a multi-row statement of one kind over args in chunks of batchRows rows of
// width columns each.
func (b *batchStmts) multiRow(ctx context.Context, tx *sql.Tx, kind, width int, args []any) error {
	for len(args) > 0 {
		n := min(len(args)/width, batchRows)
		if _, err := tx.StmtContext(ctx, b.get(kind, n)).ExecContext(ctx, args[:n*width]...); err != nil {
			return err
		}
		args = args[n*width:]
	}
	return nil
}
