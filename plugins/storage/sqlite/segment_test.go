package sqlite_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opstream/opstream/plugins/storage/sqlite"
	"github.com/opstream/opstream/pluginsdk/storage"
)

// opsRecords encodes revisions from..to of doc as op log records starting at seq.
func opsRecords(b []byte, seq int64, doc string, from, to int64) []byte {
	k := storage.DocKey{Tenant: "t", ID: doc}
	for rev := from; rev <= to; rev++ {
		b = sqlite.AppendOpRecord(b, seq, k, "text", 2, storage.Op{Revision: rev, ClientID: "c", Seq: uint64(rev), Data: opData(doc, rev), UnixMillis: 1})
		seq++
	}
	return b
}

// openProvider opens a provider in process with the config block; it is closed (again, if the
// test closed it) when the test ends.
func openProvider(t *testing.T, config []byte) *sqlite.Provider {
	t.Helper()
	p := sqlite.New()
	if err := p.Configure(t.Context(), config); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// openAt opens the provider at path, compaction at its defaults.
func openAt(t *testing.T, path string) *sqlite.Provider {
	t.Helper()
	return openProvider(t, compactingConfig(t, path, 0, 0))
}

// A crash can cut the last segment's last write short: recovery keeps every whole record before
// it (they were acknowledged) and drops the torn one (it never was).
func TestRecoveryDropsTornTail(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.db")
	seg1 := opsRecords(nil, 1, "a", 1, 5)
	seg2 := opsRecords(nil, 6, "a", 6, 8)
	torn := opsRecords(nil, 9, "a", 9, 9)
	seg2 = append(seg2, torn[:len(torn)-3]...)
	if err := os.WriteFile(sqlite.SegmentPath(path, 1), seg1, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sqlite.SegmentPath(path, 2), seg2, 0o600); err != nil {
		t.Fatal(err)
	}
	p := openAt(t, path)
	checkLog(t, p, "a", 8)
	// The recovered segments are gone; appends go on in a new one.
	ns, err := sqlite.ListSegments(path)
	if err != nil || len(ns) != 1 || ns[0] != 3 {
		t.Fatalf("segments after recovery: %v %v, want [3]", ns, err)
	}
	appendN(t, p, "a", 8, 2)
	checkLog(t, p, "a", 10)
}

// A corrupt record anywhere but at the end of the last segment is not a torn write: the
// provider refuses to open rather than lose acknowledged ops silently.
func TestRecoveryRefusesCorruptSealedSegment(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.db")
	seg1 := opsRecords(nil, 1, "a", 1, 5)
	seg1[len(seg1)/2] ^= 0xff
	if err := os.WriteFile(sqlite.SegmentPath(path, 1), seg1, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sqlite.SegmentPath(path, 2), opsRecords(nil, 6, "a", 6, 6), 0o600); err != nil {
		t.Fatal(err)
	}
	p := sqlite.New()
	err := p.Configure(t.Context(), compactingConfig(t, path, 0, 0))
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		p.Close()
		t.Fatalf("open with a corrupt sealed segment: %v, want a checksum error", err)
	}
}

// A delete writes a tombstone before it deletes the main database's rows: recovery finishes an
// interrupted delete (rows already compacted into the main database go too), drops the
// document's earlier ops still in the log, and keeps ops of the document created again after it.
func TestRecoveryAppliesTombstones(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.db")
	p := sqlite.New()
	if err := p.Configure(t.Context(), compactingConfig(t, path, 0, 0)); err != nil {
		t.Fatal(err)
	}
	appendN(t, p, "gone", 0, 4)
	appendN(t, p, "again", 0, 4)
	appendN(t, p, "kept", 0, 3)
	if err := p.Close(); err != nil { // compacts everything into the main database
		t.Fatal(err)
	}
	var b []byte
	b = opsRecords(b, 100, "gone", 5, 6)
	b = sqlite.AppendTombstone(b, 102, storage.DocKey{Tenant: "t", ID: "gone"})
	b = sqlite.AppendTombstone(b, 103, storage.DocKey{Tenant: "t", ID: "again"})
	b = opsRecords(b, 104, "again", 1, 2)
	b = opsRecords(b, 106, "kept", 4, 5)
	ns, _ := sqlite.ListSegments(path)
	if len(ns) != 0 {
		t.Fatalf("segments left after close: %v", ns)
	}
	if err := os.WriteFile(sqlite.SegmentPath(path, 7), b, 0o600); err != nil {
		t.Fatal(err)
	}
	p = openAt(t, path)
	if _, err := p.Load(t.Context(), storage.DocKey{Tenant: "t", ID: "gone"}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("load of the deleted document: %v, want not found", err)
	}
	checkLog(t, p, "again", 2)
	checkLog(t, p, "kept", 5)
}

// An op log file of the previous format (one SQLite table, opstream.oplog.db) left by a crash
// is moved into the main database at open and removed.
func TestRecoveryOfLegacyLogFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	legacy := filepath.Join(dir, "x.oplog.db")
	db, err := sql.Open("sqlite", legacy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(sqlite.LegacyLogSchema); err != nil {
		t.Fatal(err)
	}
	for rev := int64(1); rev <= 7; rev++ {
		if _, err := db.Exec(`INSERT INTO log (seq, tenant, id, type, epoch, revision, client_id, client_seq, data, ts) VALUES (?, 't', 'old', 'text', 2, ?, 'c', ?, ?, 1)`,
			rev, rev, rev, opData("old", rev)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	p := openAt(t, path)
	checkLog(t, p, "old", 7)
	if _, err := os.Stat(legacy); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("legacy op log file still there: %v", err)
	}
	appendN(t, p, "old", 7, 1)
	checkLog(t, p, "old", 8)
}

// A compaction that cannot start the next segment leaves appends going to the current one
// (still open) and succeeds once it can.
func TestSealWithoutNextSegmentKeepsAppending(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.db")
	p := openProvider(t, compactingConfig(t, path, 5, 3_600_000))
	ns, err := sqlite.ListSegments(path)
	if err != nil || len(ns) != 1 {
		t.Fatalf("segments %v %v", ns, err)
	}
	blocker := sqlite.SegmentPath(path, ns[0]+1)
	if err := os.Mkdir(blocker, 0o700); err != nil { // the next segment's name is taken
		t.Fatal(err)
	}
	for rev := int64(0); rev < 40; rev += 4 {
		appendN(t, p, "a", rev, 4)
		time.Sleep(20 * time.Millisecond) // compactions try (and fail) meanwhile
	}
	checkLog(t, p, "a", 40)
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	appendN(t, p, "a", 40, 10)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ns, _ := sqlite.ListSegments(path); len(ns) == 1 && ns[0] > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("compaction did not move on to a new segment")
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkLog(t, p, "a", 50)
}
