package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations[i] takes the schema from version i to i+1. Append new steps; never edit old ones.
// Text keys use the "C" collation so that List orders ids bytewise, as the other providers do,
// whatever the database's locale.
var migrations = []string{
	`CREATE TABLE docs (
		tenant text COLLATE "C" NOT NULL,
		id text COLLATE "C" NOT NULL,
		type text NOT NULL,
		revision bigint NOT NULL,
		epoch bigint NOT NULL,
		snapshot_revision bigint NOT NULL DEFAULT 0,
		PRIMARY KEY (tenant, id)
	);
	CREATE TABLE ops (
		tenant text COLLATE "C" NOT NULL,
		id text COLLATE "C" NOT NULL,
		revision bigint NOT NULL,
		client_id text NOT NULL,
		seq bigint NOT NULL,
		data bytea NOT NULL,
		ts bigint NOT NULL,
		PRIMARY KEY (tenant, id, revision)
	);
	CREATE TABLE snapshots (
		tenant text COLLATE "C" NOT NULL,
		id text COLLATE "C" NOT NULL,
		revision bigint NOT NULL,
		type text NOT NULL,
		data bytea NOT NULL,
		meta bytea NOT NULL,
		ts bigint NOT NULL,
		PRIMARY KEY (tenant, id)
	);`,
}

// migrateLockKey is the first half of the advisory lock key taken while migrating; the second
// half is a hash of the schema name, so two schemas migrate independently.
const migrateLockKey = 0x6f707374 // "opst"

// migrate creates the schema and brings it to the newest version, in one transaction under a
// transaction-scoped advisory lock, so several nodes starting at once migrate it exactly once.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, migrateLockKey, schema); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	ident := pgx.Identifier{schema}.Sanitize()
	for _, q := range []string{
		`CREATE SCHEMA IF NOT EXISTS ` + ident,
		`SET LOCAL search_path TO ` + ident,
		`CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema %s is at version %d, newer than this build knows (%d): upgrade opstream", schema, version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate %s to version %d: %w", schema, v+1, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v+1); err != nil {
			return fmt.Errorf("record version %d: %w", v+1, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
