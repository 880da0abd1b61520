// Package sqlite is the SQLite storage.Provider (modernc.org/sqlite, no cgo).
//
// Appends go to the op log: segment files beside the main database (opstream.oplog.000001,
// ...), each a sequence of checksummed records written with one write(2) per request and fsynced
// once for every request written since the last fsync began (see segment.go for the format).
// No SQLite transaction is on the append path. A compactor seals the current segment (fsync,
// then a new one), moves its ops, sorted by document, into the main database (opstream.db, WAL
// mode: documents, the op log clustered by document and revision, snapshots) once CompactOps of
// them wait or CompactIntervalMs after the oldest arrived, and removes the segment. Written
// directly into the clustered table, every document in a group commit dirtied its own page: with
// 100 documents per commit that was 100 pages (400 KB of WAL) per commit, and SQLite's cost grew
// 5x.
//
// The provider owns the files: it holds an exclusive lock on PATH.lock, and it keeps every
// document's head (revision, epoch) and its not yet compacted ops in memory, which is where
// conflicts and fencing are checked and where recent ops are read from. At open, whatever the
// op log holds (after a crash) is moved into the main database first, a torn record at the end
// of the last segment dropped (it was never acknowledged); compaction inserts with INSERT OR
// IGNORE, so doing it twice is harmless. A delete writes a tombstone record first, so an
// interrupted delete is finished at the next open. An op log file of the previous format
// (opstream.oplog.db, an SQLite table) is recovered the same way and removed.
//
// Config (JSON, unknown keys rejected):
//
//	{"path": "/var/lib/opstream/opstream.db", "synchronous": "full", "busyTimeoutMs": 5000,
//	 "compactOps": 16384, "compactIntervalMs": 2000}
package sqlite
