// Package sqlite is the SQLite storage.Provider (modernc.org/sqlite, no cgo).
//
// It keeps two files, both in WAL mode. Appends go to the op log file (opstream.oplog.db): one
// table in insertion order, so a group commit of ops for many documents writes a few
// contiguous pages whatever documents they belong to. A compactor moves those ops, sorted by
// document, into the main database (opstream.db: documents, the op log clustered by document
// and revision, snapshots) once CompactOps of them wait or CompactIntervalMs after the oldest
// arrived, and the log rows are deleted afterwards. Written directly into the clustered table,
// every document in a group commit dirtied its own page: with 100 documents per commit that
// was 100 pages (400 KB of WAL) per commit, and SQLite's cost grew 5x.
//
// The provider owns the files: it holds an exclusive lock on PATH.lock, and it keeps every
// document's head (revision, epoch) and its not yet compacted ops in memory, which is where
// conflicts and fencing are checked and where recent ops are read from. At open, whatever the
// log holds (after a crash) is compacted first; compaction inserts with INSERT OR IGNORE, so
// doing it twice is harmless.
//
// Config (JSON, unknown keys rejected):
//
//	{"path": "/var/lib/opstream/opstream.db", "synchronous": "full", "busyTimeoutMs": 5000,
//	 "compactOps": 16384, "compactIntervalMs": 2000}
package sqlite
