// Package postgres is the PostgreSQL storage.Provider (jackc/pgx/v5, pgxpool).
//
// Several OpStream nodes may share one database: every decision an append depends on is taken
// inside a transaction holding the document's row lock (SELECT ... FOR UPDATE, rows locked in key
// order), documents are created with INSERT ... ON CONFLICT DO NOTHING, and the ops table's
// (tenant, id, revision) primary key is the backstop that turns any remaining race into
// storage.ErrConflict. An AppendRequest is one transaction (group commit across documents);
// the ops of all its appends go in with one multi-row INSERT over unnest'ed arrays. If an
// insert still hits the key, the request is redone with a SAVEPOINT per append so only that
// append fails. Transactions the server aborts to break a deadlock are retried.
//
// The provider creates and migrates its schema itself (table schema_migrations, versioned steps
// in one transaction under an advisory lock), so nodes starting together migrate it once. It
// starts no goroutines of its own; pgxpool runs its health-check goroutine until Close.
//
// Config (JSON, unknown keys rejected):
//
//	{"dsn": "postgres://opstream@db:5432/opstream", "maxConns": 10, "minConns": 1, "schema": "opstream"}
//	{"dsnEnv": "OPSTREAM_PG_DSN"}
package postgres
