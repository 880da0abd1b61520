package sqlite_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/opstream/opstream/plugins/storage/sqlite"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

// compactingConfig is a config block whose compaction thresholds are ops and ms.
func compactingConfig(t testing.TB, path string, ops, ms int) []byte {
	t.Helper()
	return providerConfig(t, path, "normal", ops, ms)
}

// providerConfig is a config block with the given synchronous mode and compaction thresholds.
func providerConfig(t testing.TB, path, synchronous string, ops, ms int) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"path": path, "synchronous": synchronous, "compactOps": ops, "compactIntervalMs": ms})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConformanceCompactingAlways runs the contract with compaction after every append, so
// every read merges the main database and the log.
func TestConformanceCompactingAlways(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) storage.Provider {
		return openProvider(t, compactingConfig(t, filepath.Join(t.TempDir(), "c.db"), 1, 1))
	})
}

// opData is the data of a document's op at a revision, so reads can be checked.
func opData(doc string, rev int64) []byte { return fmt.Appendf(nil, `{"doc":%q,"rev":%d}`, doc, rev) }

// appendN appends n ops to doc from revision rev, checking the result.
func appendN(t *testing.T, p storage.Provider, doc string, rev int64, n int) {
	t.Helper()
	ops := make([]storage.Op, n)
	for i := range ops {
		r := rev + 1 + int64(i)
		ops[i] = storage.Op{Revision: r, ClientID: "c-" + doc, Seq: uint64(r), Data: opData(doc, r), UnixMillis: r}
	}
	resp, err := p.Append(context.Background(), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: storage.DocKey{Tenant: "t", ID: doc}, Type: "text", ExpectedRevision: rev, Epoch: 2, Ops: ops},
	}})
	if err != nil || resp.Results[0].Err != nil {
		t.Errorf("append %s@%d: %v %+v", doc, rev, err, resp)
	}
}

// checkLog reads a document's whole log and checks it is revisions 1..want with their data.
func checkLog(t *testing.T, p storage.Provider, doc string, want int64) {
	t.Helper()
	var got int64
	for {
		resp, err := p.ReadOps(context.Background(), &storage.ReadOpsRequest{Doc: storage.DocKey{Tenant: "t", ID: doc}, From: got + 1, Limit: 37})
		if err != nil {
			t.Fatalf("read %s from %d: %v", doc, got+1, err)
		}
		if len(resp.Ops) == 0 {
			break
		}
		for _, op := range resp.Ops {
			if op.Revision != got+1 || string(op.Data) != string(opData(doc, op.Revision)) || op.Seq != uint64(op.Revision) {
				t.Fatalf("%s: after revision %d got %d %s", doc, got, op.Revision, op.Data)
			}
			got++
		}
	}
	if got != want {
		t.Fatalf("%s: log ends at %d, want %d", doc, got, want)
	}
}

// TestReadsDuringCompaction reads documents while they are appended to and compacted every few
// ops: every read is contiguous and holds the right data.
func TestReadsDuringCompaction(t *testing.T) {
	t.Parallel()
	p := openProvider(t, compactingConfig(t, filepath.Join(t.TempDir(), "r.db"), 7, 1))
	const docs, perDoc = 5, 300
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		revs = make(map[string]int64)
		stop = make(chan struct{})
	)
	for d := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := fmt.Sprintf("doc-%d", d)
			var rev int64
			for rev < perDoc {
				n := min(1+rand.IntN(3), perDoc-int(rev))
				appendN(t, p, doc, rev, n)
				rev += int64(n)
				mu.Lock()
				revs[doc] = rev
				mu.Unlock()
			}
		}()
	}
	var readers sync.WaitGroup
	reads := 0
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				doc := fmt.Sprintf("doc-%d", rand.IntN(docs))
				mu.Lock()
				known := revs[doc]
				reads++
				mu.Unlock()
				from := 1 + rand.Int64N(known+1)
				resp, err := p.ReadOps(t.Context(), &storage.ReadOpsRequest{Doc: storage.DocKey{Tenant: "t", ID: doc}, From: from, Limit: 50})
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				for i, op := range resp.Ops {
					if op.Revision != from+int64(i) || string(op.Data) != string(opData(doc, op.Revision)) {
						t.Errorf("%s from %d: op %d is revision %d %s", doc, from, i, op.Revision, op.Data)
						return
					}
				}
				if want := min(known-from+1, 50); int64(len(resp.Ops)) < want {
					t.Errorf("%s from %d: %d ops, want at least %d (acknowledged up to %d)", doc, from, len(resp.Ops), want, known)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	t.Logf("%d reads", reads)
	for d := range docs {
		checkLog(t, p, fmt.Sprintf("doc-%d", d), perDoc)
	}
}

// killAndReopen kills the provider subprocess with SIGKILL, waits for it to exit and opens its
// database in process (closed when the test ends).
func killAndReopen(t *testing.T, c *storage.Client, path string) *sqlite.Provider {
	t.Helper()
	if err := syscall.Kill(c.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !c.Exited() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return openAt(t, path)
}

// TestKilledProviderKeepsLog kills the provider subprocess with SIGKILL while ops are still in
// the log file (compaction set far away): reopening recovers every acknowledged op, once.
func TestKilledProviderKeepsLog(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "k.db")
	c := startPlugin(t, compactingConfig(t, path, 1_000_000, 3_600_000))
	for d := range 3 {
		for rev := int64(0); rev < 60; rev += 4 {
			appendN(t, c, fmt.Sprintf("doc-%d", d), rev, 4)
		}
	}
	if err := c.PutSnapshot(t.Context(), storage.DocKey{Tenant: "t", ID: "doc-1"}, storage.Snapshot{Revision: 20, Type: "text", Data: []byte(`"s"`)}); err != nil {
		t.Fatalf("snapshot of a document whose ops are all in the log: %v", err)
	}
	p := killAndReopen(t, c, path)
	for d := range 3 {
		doc := fmt.Sprintf("doc-%d", d)
		checkLog(t, p, doc, 60)
		got, err := p.Load(t.Context(), storage.DocKey{Tenant: "t", ID: doc})
		if err != nil || got.Info.Revision != 60 || got.Info.Epoch != 2 || got.Info.Type != "text" {
			t.Fatalf("load %s: %+v %v", doc, got, err)
		}
		// The snapshot was still waiting for a compaction (they are derived data, written with
		// the next one): the kill may lose it, never make it wrong.
		if got.Snapshot != nil && (d != 1 || got.Snapshot.Revision != 20) {
			t.Fatalf("load %s: snapshot %+v", doc, got.Snapshot)
		}
	}
	// Appends go on where the log left off.
	appendN(t, p, "doc-0", 60, 1)
	checkLog(t, p, "doc-0", 61)
}

// TestSnapshotDurableAfterCompaction: a snapshot put is served at once and is on disk after the
// next compaction: a SIGKILL of the provider subprocess afterwards keeps it.
func TestSnapshotDurableAfterCompaction(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s.db")
	c := startPlugin(t, compactingConfig(t, path, 1_000_000, 20))
	appendN(t, c, "doc", 0, 30)
	time.Sleep(500 * time.Millisecond) // its ops move: the snapshot alone must make a compaction due
	k := storage.DocKey{Tenant: "t", ID: "doc"}
	if err := c.PutSnapshot(t.Context(), k, storage.Snapshot{Revision: 20, Type: "text", Data: []byte(`"s20"`)}); err != nil {
		t.Fatal(err)
	}
	// An older one never replaces it.
	if err := c.PutSnapshot(t.Context(), k, storage.Snapshot{Revision: 10, Type: "text", Data: []byte(`"s10"`)}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Load(t.Context(), k)
	if err != nil || got.Snapshot == nil || got.Snapshot.Revision != 20 || string(got.Snapshot.Data) != `"s20"` || got.Info.SnapshotRevision != 20 {
		t.Fatalf("load before compaction: %+v %v", got, err)
	}
	time.Sleep(2 * time.Second) // compactions run every 20ms
	p := killAndReopen(t, c, path)
	got, err = p.Load(t.Context(), k)
	if err != nil || got.Snapshot == nil || got.Snapshot.Revision != 20 || string(got.Snapshot.Data) != `"s20"` || got.Info.Revision != 30 {
		t.Fatalf("load after kill: %+v %v", got, err)
	}
	checkLog(t, p, "doc", 30)
}

// TestSecondProcessRefused: a database in use is not opened twice.
func TestSecondProcessRefused(t *testing.T) {
	t.Parallel()
	cfg := configJSON(t, t.TempDir())
	c := startPlugin(t, cfg)
	appendN(t, c, "a", 0, 1)
	p := sqlite.New()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := p.Configure(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		p.Close()
		t.Fatalf("second open: %v, want in use", err)
	}
	t.Log(err)
}

// TestOpenWaitsForHolder: after a kill -9 of the server its orphaned provider still holds the
// files for a moment; the restarted server's provider waits for it instead of failing.
func TestOpenWaitsForHolder(t *testing.T) {
	t.Parallel()
	cfg := configJSON(t, t.TempDir())
	c := startPlugin(t, cfg)
	appendN(t, c, "a", 0, 3)
	go func() {
		time.Sleep(300 * time.Millisecond)
		c.Kill()
	}()
	p := sqlite.New()
	if err := p.Configure(t.Context(), cfg); err != nil {
		t.Fatalf("open after the holder went: %v", err)
	}
	defer p.Close()
	checkLog(t, p, "a", 3)
}

// TestFailedWriteIsUndone: a write to the op log that fails halfway (here: past the process's
// file size limit, as on a full disk) fails its request with Unavailable and is cut off again,
// so later appends go on and every acknowledged op survives a SIGKILL and recovery.
func TestFailedWriteIsUndone(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f.db")
	c := startPlugin(t, compactingConfig(t, path, 1_000_000, 3_600_000))
	appendN(t, c, "doc", 0, 10)
	segs, err := sqlite.ListSegments(path)
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments: %v %v", segs, err)
	}
	fi, err := os.Stat(sqlite.SegmentPath(path, segs[0]))
	if err != nil {
		t.Fatal(err)
	}
	var old unix.Rlimit
	limit := unix.Rlimit{Cur: uint64(fi.Size()) + 1000, Max: unix.RLIM_INFINITY}
	if err := unix.Prlimit(c.Pid(), unix.RLIMIT_FSIZE, &limit, &old); err != nil {
		t.Fatalf("prlimit: %v", err)
	}
	big := storage.Op{Revision: 11, ClientID: "c-doc", Seq: 11, Data: make([]byte, 64<<10), UnixMillis: 11}
	for i := range big.Data {
		big.Data[i] = 'x'
	}
	resp, err := c.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: storage.DocKey{Tenant: "t", ID: "doc"}, Type: "text", ExpectedRevision: 10, Epoch: 2, Ops: []storage.Op{big}},
	}})
	if err == nil && resp.Results[0].Err == nil || err != nil && !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("append past the file size limit: %+v %v, want Unavailable", resp, err)
	}
	if fi2, err := os.Stat(sqlite.SegmentPath(path, segs[0])); err != nil || fi2.Size() != fi.Size() {
		t.Fatalf("segment after the failed write: %v %v, want its old size %d", fi2.Size(), err, fi.Size())
	}
	if err := unix.Prlimit(c.Pid(), unix.RLIMIT_FSIZE, &old, nil); err != nil {
		t.Fatalf("prlimit: %v", err)
	}
	if err := c.Health(t.Context()); err != nil {
		t.Fatalf("health after an undone write: %v", err)
	}
	appendN(t, c, "doc", 10, 5)
	p := killAndReopen(t, c, path)
	checkLog(t, p, "doc", 15)
}
