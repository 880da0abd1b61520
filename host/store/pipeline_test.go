package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/opstream/opstream/plugins/storage/sqlite"
	"github.com/opstream/opstream/pluginsdk/storage"
)

func openSQLite(t *testing.T) *sqlite.Provider {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{"path": filepath.Join(t.TempDir(), "p.db"), "compactOps": 50})
	if err != nil {
		t.Fatal(err)
	}
	p := sqlite.New()
	if err := p.Configure(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestCommitterPipelined runs documents that keep several appends queued, the way a document
// actor does, through a committer with three calls in flight on the real SQLite provider (an
// AsyncAppender): every append succeeds, in order, and the logs are contiguous.
func TestCommitterPipelined(t *testing.T) {
	p := openSQLite(t)
	c := NewCommitter(p, CommitterConfig{InFlight: 3}, nil)
	if c.async == nil {
		t.Fatal("the SQLite provider was not used as an AsyncAppender")
	}
	const docs, perDoc = 20, 100
	var wg sync.WaitGroup
	for d := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := storage.DocKey{Tenant: "t", ID: fmt.Sprintf("doc-%d", d)}
			acked := make(chan int64, perDoc)
			for rev := int64(1); rev <= perDoc; rev++ {
				c.Enqueue(storage.Append{Doc: key, Type: "text", ExpectedRevision: rev - 1, Epoch: 1,
					Ops: []storage.Op{{Revision: rev, ClientID: "c", Seq: uint64(rev), Data: []byte(`["x"]`)}}},
					func(res storage.AppendResult) {
						if res.Err != nil {
							t.Errorf("%s@%d: %v", key, rev, res.Err)
						}
						acked <- res.Revision
					})
			}
			last := int64(0)
			for range perDoc {
				r := <-acked
				if r < last {
					t.Errorf("%s: acknowledged revision %d after %d", key, r, last)
				}
				last = r
			}
		}()
	}
	wg.Wait()
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for d := range docs {
		key := storage.DocKey{Tenant: "t", ID: fmt.Sprintf("doc-%d", d)}
		resp, err := p.ReadOps(t.Context(), &storage.ReadOpsRequest{Doc: key, From: 1})
		if err != nil || len(resp.Ops) != perDoc {
			t.Fatalf("%s: %d ops, %v", key, len(resp.Ops), err)
		}
		for i, op := range resp.Ops {
			if op.Revision != int64(i+1) {
				t.Fatalf("%s: op %d has revision %d", key, i, op.Revision)
			}
		}
	}
}

// TestCommitterPipelinedConflict: an append that conflicts fails, and so does its queued
// continuation; another document's append in the same calls succeeds.
func TestCommitterPipelinedConflict(t *testing.T) {
	p := openSQLite(t)
	c := NewCommitter(p, CommitterConfig{InFlight: 2}, nil)
	defer c.Close(context.Background())
	results := make(chan error, 3)
	one := func(id string, expected int64) storage.Append {
		return storage.Append{Doc: storage.DocKey{Tenant: "t", ID: id}, Type: "text", ExpectedRevision: expected, Epoch: 1,
			Ops: []storage.Op{{Revision: expected + 1, ClientID: "c", Seq: uint64(expected + 1), Data: []byte(`1`)}}}
	}
	c.Enqueue(one("x", 5), func(r storage.AppendResult) { results <- r.Err })
	c.Enqueue(one("x", 6), func(r storage.AppendResult) { results <- r.Err })
	c.Enqueue(one("y", 0), func(r storage.AppendResult) { results <- r.Err })
	var conflicts, ok int
	for range 3 {
		switch err := <-results; {
		case errors.Is(err, storage.ErrConflict):
			conflicts++
		case err == nil:
			ok++
		default:
			t.Fatalf("unexpected: %v", err)
		}
	}
	if conflicts != 2 || ok != 1 {
		t.Fatalf("%d conflicts and %d successes, want 2 and 1", conflicts, ok)
	}
}
