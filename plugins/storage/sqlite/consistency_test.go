package sqlite_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// crashCopy copies the database's files as they are now (what a crash of the process would leave:
// everything written is in the page cache) into a new directory and returns the copy's path.
// The provider must be idle. The lock file and SQLite's shared-memory index are left behind.
func crashCopy(t *testing.T, path string) string {
	t.Helper()
	dir, base := filepath.Split(path)
	stem := strings.TrimSuffix(base, ".db")
	out := filepath.Join(t.TempDir(), base)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, stem+".") || strings.HasSuffix(name, ".lock") || strings.HasSuffix(name, "-shm") {
			continue
		}
		src, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(filepath.Dir(out), name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		src.Close()
		if err := dst.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// fullConfig is compactingConfig with synchronous "full" (every acknowledged op fsynced).
func fullConfig(t testing.TB, path string, ops, ms int) []byte {
	t.Helper()
	return providerConfig(t, path, "full", ops, ms)
}

func opsFrom(doc string, rev int64, n int) []storage.Op {
	ops := make([]storage.Op, n)
	for i := range ops {
		r := rev + 1 + int64(i)
		ops[i] = storage.Op{Revision: r, ClientID: "c-" + doc, Seq: uint64(r), Data: opData(doc, r), UnixMillis: r}
	}
	return ops
}

// An append still waiting for its fsync when its document is deleted and created again must not
// move the new document's durable head: the syncer used to look the document up by key and
// raised the new one's head to the old one's revision.
func TestSyncedAppendOfDeletedDocument(t *testing.T) {
	t.Parallel()
	p := openProvider(t, fullConfig(t, filepath.Join(t.TempDir(), "d.db"), 1_000_000, 3_600_000))
	ctx := t.Context()
	x := storage.DocKey{Tenant: "t", ID: "x"}
	var (
		wg      sync.WaitGroup
		entered = make(chan struct{})
		release = make(chan struct{})
		mu      sync.Mutex
		errs    []error
	)
	record := func(resp *storage.AppendResponse, err error) {
		defer wg.Done()
		if err == nil && resp.Results[0].Err != nil {
			err = resp.Results[0].Err
		}
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	// Hold the syncer in the answer of an append to another document, so that the next
	// requests wait for their fsync together.
	wg.Add(3)
	p.AppendAsync(ctx, &storage.AppendRequest{Appends: []storage.Append{
		{Doc: storage.DocKey{Tenant: "t", ID: "y"}, Type: "text", Epoch: 1, Ops: opsFrom("y", 0, 1)},
	}}, func(resp *storage.AppendResponse, err error) {
		close(entered)
		<-release
		record(resp, err)
	})
	<-entered
	p.AppendAsync(ctx, &storage.AppendRequest{Appends: []storage.Append{
		{Doc: x, Type: "text", Epoch: 1, Ops: opsFrom("x", 0, 5)},
	}}, record)
	if err := p.Delete(ctx, x); err != nil {
		t.Fatal(err)
	}
	p.AppendAsync(ctx, &storage.AppendRequest{Appends: []storage.Append{
		{Doc: x, Type: "text", Epoch: 1, Ops: opsFrom("x", 0, 1)},
	}}, record)
	close(release)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("appends: %v", errs)
	}
	got, err := p.Load(ctx, x)
	if err != nil || got.Info.Revision != 1 {
		t.Fatalf("load of the document created again: %+v %v, want revision 1", got, err)
	}
	if err := p.PutSnapshot(ctx, x, storage.Snapshot{Revision: 5, Type: "text"}); err == nil {
		t.Fatalf("snapshot at revision 5 of a document at revision 1 accepted")
	}
	checkLog(t, p, "x", 1)
}

// A snapshot put is served by Load at once, also while a compaction is moving it into the main
// database: compaction used to take the pending snapshots out of memory before its transaction
// committed, and a Load in between saw neither.
func TestLoadSeesSnapshotDuringCompaction(t *testing.T) {
	t.Parallel()
	p := openProvider(t, compactingConfig(t, filepath.Join(t.TempDir(), "s.db"), 1, 1))
	ctx := t.Context()
	k := storage.DocKey{Tenant: "t", ID: "doc"}
	for rev := int64(1); rev <= 100; rev++ {
		appendN(t, p, "doc", rev-1, 1)
		data := fmt.Appendf(nil, `"s%d"`, rev)
		if err := p.PutSnapshot(ctx, k, storage.Snapshot{Revision: rev, Type: "text", Data: data}); err != nil {
			t.Fatal(err)
		}
		got, err := p.Load(ctx, k)
		if err != nil || got.Snapshot == nil || got.Snapshot.Revision != rev || string(got.Snapshot.Data) != string(data) ||
			got.Info.SnapshotRevision != rev {
			t.Fatalf("load right after the snapshot at %d: %+v %v", rev, got, err)
		}
	}
}

// A delete whose main database transaction fails after its tombstone is in the op log (here:
// its context is cancelled) must not leave the document half deleted: appends used to go on in
// memory after the tombstone, and a crash then deleted the document's earlier ops and kept the
// later ones.
func TestFailedDeleteThenCrash(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f.db")
	p := openProvider(t, fullConfig(t, path, 1_000_000, 3_600_000))
	appendN(t, p, "doc", 0, 4)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	delErr := p.Delete(ctx, storage.DocKey{Tenant: "t", ID: "doc"})
	t.Logf("delete with a cancelled context: %v", delErr)
	// Appends after it: refused, or accepted and then kept.
	resp, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: storage.DocKey{Tenant: "t", ID: "doc"}, Type: "text", ExpectedRevision: 4, Epoch: 2, Ops: opsFrom("doc", 4, 2)},
	}})
	acked := err == nil && resp.Results[0].Err == nil
	t.Logf("append after it: %+v %v", resp, err)

	q := openAt(t, crashCopy(t, path))
	got, err := q.Load(t.Context(), storage.DocKey{Tenant: "t", ID: "doc"})
	switch {
	case err != nil && delErr == nil && !acked:
		// deleted, nothing after it
	case err != nil:
		t.Fatalf("load after the crash: %v (delete: %v, append acknowledged: %v)", err, delErr, acked)
	default:
		want := int64(4)
		if acked {
			want = 6
		}
		if got.Info.Revision != want {
			t.Fatalf("load after the crash: revision %d, want %d", got.Info.Revision, want)
		}
		checkLog(t, q, "doc", want)
	}
}

// Close while other calls are in flight: they fail (or succeed), they do not crash the provider
// or race with it (run with -race): closing used to clear the prepared statements' pointers
// under calls still using them.
func TestCloseDuringCalls(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.db")
	p := openAt(t, path)
	for d := range 8 {
		appendN(t, p, fmt.Sprint("doc-", d), 0, 1)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	for range 5 {
		// The documents are in the main database only: their snapshots are written at once.
		p := openAt(t, path)
		ctx := t.Context()
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := storage.DocKey{Tenant: "t", ID: fmt.Sprint("doc-", w)}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					switch i % 4 {
					case 0:
						p.ReadOps(ctx, &storage.ReadOpsRequest{Doc: k, From: 1})
					case 1:
						p.Load(ctx, k)
					case 2:
						p.List(ctx, &storage.ListRequest{Tenant: "t"})
					case 3:
						p.PutSnapshot(ctx, k, storage.Snapshot{Revision: 1, Type: "text", Data: big})
					}
				}
			}()
		}
		time.Sleep(50 * time.Millisecond)
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		close(stop)
		wg.Wait()
	}
}
