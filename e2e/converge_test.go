package e2e

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/opstream/opstream/client"
	"github.com/opstream/opstream/plugins/transforms/text"
)

// otClient is a ShareDB-style OT text client over the Go client: one op in flight, later local
// edits composed into a buffer, remote ops transformed over both (the late op takes left).
type otClient struct {
	t        *testing.T
	doc      *client.Doc
	text     string
	rev      int64
	inflight text.Op
	buffer   text.Op
	sent     int
	rnd      *rand.Rand
	// Optional hooks for history checks: submitting runs just before an op is sent, submitted
	// sees each op sent, observed each event.
	submitting func()
	submitted  func(p *client.Pending)
	observed   func(ev client.Event)
}

func newOTClient(t *testing.T, d *client.Doc, seed uint64) *otClient {
	var snap string
	if err := json.Unmarshal(d.Snapshot(), &snap); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return &otClient{t: t, doc: d, text: snap, rev: d.SnapshotRevision(), rnd: rand.New(rand.NewPCG(seed, seed))}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func (c *otClient) randomEdit() {
	n := len([]rune(c.text))
	pos := c.rnd.IntN(n + 1)
	var op text.Op
	if pos > 0 {
		op = append(op, text.SkipN(pos))
	}
	if n > pos && c.rnd.IntN(3) == 0 {
		op = append(op, text.DeleteN(1+c.rnd.IntN(min(3, n-pos))))
	} else {
		op = append(op, text.InsertText([]string{"a", "bc", "é", "😀", "xyz"}[c.rnd.IntN(5)]))
	}
	c.text = must(text.Apply(c.text, op))
	if c.buffer == nil {
		c.buffer = op
	} else {
		c.buffer = must(text.Compose(c.buffer, op))
	}
	c.flush()
}

func (c *otClient) flush() {
	if c.inflight != nil || c.buffer == nil {
		return
	}
	c.inflight, c.buffer = c.buffer, nil
	b, _ := json.Marshal(c.inflight)
	if c.submitting != nil {
		c.submitting()
	}
	p, err := c.doc.SubmitAsync(b, c.rev)
	if err != nil {
		c.t.Errorf("submit: %v", err)
	} else if c.submitted != nil {
		c.submitted(p)
	}
	c.sent++
}

func (c *otClient) onEvent(ev client.Event) {
	if c.observed != nil {
		c.observed(ev)
	}
	switch ev.Kind {
	case client.EventAck:
		c.rev = ev.Revision
		c.inflight = nil
		c.flush()
	case client.EventOp:
		if ev.Revision != c.rev+1 {
			c.t.Errorf("op revision %d after %d", ev.Revision, c.rev)
		}
		remote := must(text.ParseOp(ev.Op))
		if c.inflight != nil {
			in2 := must(text.Transform(c.inflight, remote, text.Left))
			remote = must(text.Transform(remote, c.inflight, text.Right))
			c.inflight = in2
		}
		if c.buffer != nil {
			b2 := must(text.Transform(c.buffer, remote, text.Left))
			remote = must(text.Transform(remote, c.buffer, text.Right))
			c.buffer = b2
		}
		c.text = must(text.Apply(c.text, remote))
		c.rev = ev.Revision
	case client.EventReject:
		c.t.Errorf("op rejected: %v", ev.Err)
	case client.EventReload:
		c.t.Errorf("unexpected reload")
	}
}

func TestThreeClientsConverge(t *testing.T) {
	s := startServer(t, "", "--snapshot-every", "20")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const clients, edits = 3, 150
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		finals = make([]*otClient, clients)
	)
	conns := make([]*client.Conn, clients)
	docs := make([]*client.Doc, clients)
	for i := range conns {
		c, err := client.Dial(ctx, s.wsURL(), client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
		if docs[i], err = c.Join(ctx, "converge", "text"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := newOTClient(t, docs[i], uint64(i+1))
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			for c.sent < edits || c.inflight != nil || c.buffer != nil {
				select {
				case ev, ok := <-docs[i].Events():
					if !ok {
						t.Errorf("client %d: events closed: %v", i, docs[i].Err())
						return
					}
					c.onEvent(ev)
				case <-tick.C:
					if c.sent < edits && c.rnd.IntN(2) == 0 {
						c.randomEdit()
					}
				case <-ctx.Done():
					t.Errorf("client %d: timed out with %d sent", i, c.sent)
					return
				}
			}
			mu.Lock()
			finals[i] = c
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Everyone drains to the final revision.
	_, d := getDoc(t, s, "converge")
	var want string
	_ = json.Unmarshal(d.Snapshot, &want)
	for i, c := range finals {
		for c.rev < d.Revision {
			select {
			case ev := <-docs[i].Events():
				c.onEvent(ev)
			case <-ctx.Done():
				t.Fatalf("client %d stuck at %d of %d", i, c.rev, d.Revision)
			}
		}
		if c.text != want {
			t.Fatalf("client %d diverged:\n got %q\nwant %q", i, c.text, want)
		}
	}
	// The op log replays to the same text, with contiguous revisions.
	ops := getOps(t, s, "converge")
	replay := ""
	for i, op := range ops.Ops {
		if op.Revision != int64(i+1) {
			t.Fatalf("revision %d at %d", op.Revision, i)
		}
		replay = must(text.Apply(replay, must(text.ParseOp(op.Op))))
	}
	if replay != want || int64(len(ops.Ops)) != d.Revision {
		t.Fatalf("replay of %d ops gives %q, want %q", len(ops.Ops), replay, want)
	}
	if d.Revision < int64(clients*edits)/2 {
		t.Fatalf("only %d revisions for %d edits", d.Revision, clients*edits)
	}
	t.Logf("%d clients converged on %d runes at revision %d", clients, len([]rune(want)), d.Revision)
}
