package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] takes the schema from user_version i to i+1. Append new steps; never edit old
// ones.
var migrations = []string{
	`CREATE TABLE docs (
		tenant TEXT NOT NULL,
		id TEXT NOT NULL,
		type TEXT NOT NULL,
		revision INTEGER NOT NULL,
		epoch INTEGER NOT NULL,
		snapshot_revision INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID;
	CREATE TABLE ops (
		tenant TEXT NOT NULL,
		id TEXT NOT NULL,
		revision INTEGER NOT NULL,
		client_id TEXT NOT NULL,
		seq INTEGER NOT NULL,
		data BLOB NOT NULL,
		ts INTEGER NOT NULL,
		PRIMARY KEY (tenant, id, revision)
	) WITHOUT ROWID;
	CREATE TABLE snapshots (
		tenant TEXT NOT NULL,
		id TEXT NOT NULL,
		revision INTEGER NOT NULL,
		type TEXT NOT NULL,
		data BLOB NOT NULL,
		meta BLOB NOT NULL,
		ts INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)
	);`,
}

// migrate brings the schema to the newest version in one transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read user_version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this build knows (%d): upgrade opstream", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
	}
	if version < len(migrations) {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
			return fmt.Errorf("set user_version: %w", err)
		}
	}
	return tx.Commit()
}

// stmts are the prepared statements of the main database: writer statements on its writer,
// readers on the pool.
type stmts struct {
	// writer
	snapHead, insertSnapDoc, upsertSnap, setSnapRev *sql.Stmt
	deleteOps, deleteSnap, deleteDoc                *sql.Stmt
	// reader
	head, readOps, loadDoc, loadSnap, list *sql.Stmt
}

func (s *stmts) all() []**sql.Stmt {
	return []**sql.Stmt{&s.snapHead, &s.insertSnapDoc, &s.upsertSnap, &s.setSnapRev, &s.deleteOps, &s.deleteSnap,
		&s.deleteDoc, &s.head, &s.readOps, &s.loadDoc, &s.loadSnap, &s.list}
}

func (s *stmts) prepare(ctx context.Context, writer, reader *sql.DB) error {
	for _, q := range []struct {
		db   *sql.DB
		dst  **sql.Stmt
		text string
	}{
		{writer, &s.snapHead, `SELECT revision, snapshot_revision FROM docs WHERE tenant = ? AND id = ?`},
		{writer, &s.insertSnapDoc, `INSERT INTO docs (tenant, id, type, revision, epoch) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (tenant, id) DO UPDATE SET revision = max(revision, excluded.revision), epoch = max(epoch, excluded.epoch)`},
		{writer, &s.upsertSnap, `INSERT INTO snapshots (tenant, id, revision, type, data, meta, ts) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant, id) DO UPDATE SET revision = excluded.revision, type = excluded.type,
			data = excluded.data, meta = excluded.meta, ts = excluded.ts`},
		{writer, &s.setSnapRev, `UPDATE docs SET snapshot_revision = ? WHERE tenant = ? AND id = ?`},
		{writer, &s.deleteOps, `DELETE FROM ops WHERE tenant = ? AND id = ?`},
		{writer, &s.deleteSnap, `DELETE FROM snapshots WHERE tenant = ? AND id = ?`},
		{writer, &s.deleteDoc, `DELETE FROM docs WHERE tenant = ? AND id = ?`},
		{reader, &s.head, `SELECT type, revision, epoch FROM docs WHERE tenant = ? AND id = ?`},
		{reader, &s.readOps, `SELECT revision, client_id, seq, data, ts FROM ops
			WHERE tenant = ? AND id = ? AND revision >= ? ORDER BY revision LIMIT ?`},
		{reader, &s.loadDoc, `SELECT type, revision, epoch, snapshot_revision FROM docs WHERE tenant = ? AND id = ?`},
		{reader, &s.loadSnap, `SELECT revision, type, data, meta, ts FROM snapshots WHERE tenant = ? AND id = ?`},
		{reader, &s.list, `SELECT id, type, revision, epoch, snapshot_revision FROM docs
			WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?`},
	} {
		stmt, err := q.db.PrepareContext(ctx, q.text)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q.text, err)
		}
		*q.dst = stmt
	}
	return nil
}

// close closes the statements. It leaves the pointers in place: calls still in flight when the
// provider closes read them without a lock, and a closed statement fails them with an error.
func (s *stmts) close() {
	for _, st := range s.all() {
		if *st != nil {
			_ = (*st).Close()
		}
	}
}
