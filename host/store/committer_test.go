package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// recorder is an Appender that records each call's appends and takes a fixed time, like an
// fsync-bound provider.
type recorder struct {
	took  time.Duration
	mu    sync.Mutex
	calls [][]storage.Append
}

func (r *recorder) Append(_ context.Context, req *storage.AppendRequest) (*storage.AppendResponse, error) {
	time.Sleep(r.took)
	r.mu.Lock()
	r.calls = append(r.calls, req.Appends)
	r.mu.Unlock()
	return &storage.AppendResponse{Results: make([]storage.AppendResult, len(req.Appends))}, nil
}

func (r *recorder) snapshot() [][]storage.Append {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]storage.Append(nil), r.calls...)
}

func op(client string, rev int64) storage.Append {
	return storage.Append{Doc: storage.DocKey{Tenant: "t", ID: "d"}, ExpectedRevision: rev - 1,
		Ops: []storage.Op{{Revision: rev, ClientID: client, Seq: uint64(rev), Data: []byte(`["x"]`)}}}
}

func wait(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("appends never completed")
	}
}

// Writers that resubmit a little apart after their acks are merged into one call by the
// linger; a lone writer is never held back.
func TestCommitterLingerMergesWriters(t *testing.T) {
	rec := &recorder{took: 40 * time.Millisecond} // linger up to 40ms (one call)
	c := NewCommitter(rec, CommitterConfig{Linger: 80 * time.Millisecond}, nil)
	defer c.Close(context.Background())
	var wg sync.WaitGroup
	enqueue := func(a storage.Append) {
		wg.Add(1)
		c.Enqueue(a, func(res storage.AppendResult) {
			if res.Err != nil {
				t.Errorf("append: %v", res.Err)
			}
			wg.Done()
		})
	}
	// Round 1: three writers together.
	enqueue(op("a", 1))
	wait(t, &wg)
	enqueue(op("b", 2))
	enqueue(op("c", 3))
	wait(t, &wg)
	// Round 2: the three resubmit 12ms apart, the last 24ms after the first (more than half
	// a call's duration, less than one): one call, not three.
	before := len(rec.snapshot())
	for i, w := range []string{"a", "b", "c"} {
		enqueue(op(w, int64(4+i)))
		if i < 2 {
			time.Sleep(12 * time.Millisecond)
		}
	}
	wait(t, &wg)
	calls := rec.snapshot()[before:]
	if len(calls) != 1 || len(calls[0]) != 1 || len(calls[0][0].Ops) != 3 {
		t.Fatalf("round 2 took %d calls (%v); want one call with the three ops merged", len(calls), calls)
	}
	// Revisions stay in order within the merged append.
	for i, o := range calls[0][0].Ops {
		if o.Revision != int64(4+i) {
			t.Fatalf("merged ops out of order: %+v", calls[0][0].Ops)
		}
	}
}

func TestCommitterLoneWriterDoesNotLinger(t *testing.T) {
	rec := &recorder{took: time.Millisecond}
	c := NewCommitter(rec, CommitterConfig{Linger: 200 * time.Millisecond}, nil)
	defer c.Close(context.Background())
	for rev := int64(1); rev <= 5; rev++ {
		start := time.Now()
		done := make(chan struct{})
		c.Enqueue(op("solo", rev), func(storage.AppendResult) { close(done) })
		select {
		case <-done:
		case <-time.After(100 * time.Millisecond):
			t.Fatalf("a lone writer's append %d waited %s: it lingered", rev, time.Since(start))
		}
	}
}
