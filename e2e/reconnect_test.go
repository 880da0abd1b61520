package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/opstream/opstream/client"
)

// TestClientReconnectsAndResubmitsAcrossKill9 drives the Go client against a server that is
// killed with SIGKILL mid-load and restarted: the client reconnects with backoff, rejoins with
// its revision and resubmits what was not acknowledged; every op ends up in the log exactly once.
func TestClientReconnectsAndResubmitsAcrossKill9(t *testing.T) {
	s := startServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, s.wsURL(), client.Options{Reconnect: true, MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.Join(ctx, "reconnect", "text")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range d.Events() {
		}
	}()
	const total = 300
	var (
		rev     int64
		pending []*client.Pending
		killed  bool
	)
	// Keep up to 5 ops in flight, each based on the last acknowledged revision.
	for sent := 0; sent < total || len(pending) > 0; {
		for len(pending) < 5 && sent < total {
			p, err := d.SubmitAsync(json.RawMessage(`["x"]`), rev)
			if err != nil {
				t.Fatalf("submit %d: %v", sent, err)
			}
			pending = append(pending, p)
			sent++
		}
		if sent == total/2 && !killed {
			killed = true
			s.kill9()
			go func() {
				time.Sleep(300 * time.Millisecond)
				s.start()
			}()
		}
		r, err := pending[0].Wait(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("op never acknowledged: %v", err)
			}
			t.Fatalf("op failed: %v", err)
		}
		pending = pending[1:]
		rev = max(rev, r)
	}
	ops := getOps(t, s, "reconnect")
	if len(ops.Ops) != total {
		t.Fatalf("%d ops in the log, want %d", len(ops.Ops), total)
	}
	seen := map[uint64]bool{}
	for i, op := range ops.Ops {
		if op.Revision != int64(i+1) || op.ClientID != c.ClientID() || seen[op.Seq] {
			t.Fatalf("op %d: rev %d client %s seq %d (dup %v)", i, op.Revision, op.ClientID, op.Seq, seen[op.Seq])
		}
		seen[op.Seq] = true
	}
}
