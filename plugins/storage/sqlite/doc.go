// Package sqlite is the SQLite storage.Provider (modernc.org/sqlite, no cgo).
//
// The database runs in WAL mode with one writer connection, through which every write goes, and
// a separate pool of read connections. An AppendRequest is one transaction (group commit across
// documents) with a SAVEPOINT per document append. The schema is versioned with PRAGMA
// user_version and migrated in Configure. The provider starts no goroutines of its own.
//
// Config (JSON, unknown keys rejected):
//
//	{"path": "/var/lib/opstream/opstream.db", "synchronous": "full", "busyTimeoutMs": 5000}
package sqlite
