package doc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opstream/opstream/host/store"
	"github.com/opstream/opstream/plugins/storage/memory"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/protocol"
)

// logEngine is a tiny engine for testing the actor: the document is a list of strings, an op
// is one string appended (a JSON string); "bad" is refused. Transform is the identity, so the
// final state records the order the actor chose.
type logEngine struct{}

func (logEngine) Empty(context.Context) ([]byte, error) { return []byte(`[]`), nil }

func (logEngine) Open(_ context.Context, snap []byte) (State, error) {
	var items []string
	if err := json.Unmarshal(snap, &items); err != nil {
		return nil, err
	}
	return &logState{items: items}, nil
}

func (logEngine) Engine(docType string) (Engine, bool) { return logEngine{}, docType == "log" }

type logState struct{ items []string }

func (s *logState) Apply(_ context.Context, op []byte, _ [][]byte, _ int32) ([]byte, error) {
	var v string
	if err := json.Unmarshal(op, &v); err != nil || v == "bad" {
		return nil, protocol.Errorf(protocol.CodeInvalidOp, "not a good string")
	}
	s.items = append(s.items, v)
	return op, nil
}

func (s *logState) Snapshot(context.Context) ([]byte, error) { return json.Marshal(s.items) }
func (s *logState) Close(context.Context)                    {}

// gate holds appends until released, to observe what waits for durability.
type gate struct {
	p    store.Appender
	mu   sync.Mutex
	hold chan struct{}
	fail error
}

func (g *gate) Append(ctx context.Context, req *storage.AppendRequest) (*storage.AppendResponse, error) {
	g.mu.Lock()
	hold, fail := g.hold, g.fail
	g.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if fail != nil {
		return nil, fail
	}
	return g.p.Append(ctx, req)
}

type testPeer struct {
	id      string
	mu      sync.Mutex
	msgs    []string
	dropped []*protocol.Error
	full    bool
}

func (p *testPeer) ID() string { return p.id }
func (p *testPeer) Send(m []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.full {
		return false
	}
	p.msgs = append(p.msgs, string(m))
	return true
}
func (p *testPeer) Dropped(_ storage.DocKey, err *protocol.Error) {
	p.mu.Lock()
	p.dropped = append(p.dropped, err)
	p.mu.Unlock()
}
func (p *testPeer) messages() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

func (p *testPeer) droppedErrs() []*protocol.Error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.dropped)
}

type fixture struct {
	mem  *memory.Provider
	g    *gate
	com  *store.Committer
	reg  *Registry
	key  storage.DocKey
	done func()
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	mem := memory.New()
	g := &gate{p: mem}
	com := store.NewCommitter(g, store.CommitterConfig{}, nil)
	reg := NewRegistry(cfg, mem, logEngine{}, com, nil)
	f := &fixture{mem: mem, g: g, com: com, reg: reg, key: storage.DocKey{Tenant: "t", ID: "d"}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.mu.Lock()
		if g.hold != nil {
			close(g.hold)
			g.hold = nil
		}
		g.mu.Unlock()
		if err := reg.Close(ctx); err != nil {
			t.Error(err)
		}
		if err := com.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return f
}

func (f *fixture) submit(t *testing.T, base int64, op, client string, seq uint64) (SubmitResult, error) {
	t.Helper()
	ch := make(chan struct {
		r   SubmitResult
		err error
	}, 1)
	ctx := context.Background()
	err := f.reg.Do(ctx, f.key, func(d *Doc) error {
		return d.Submit(ctx, SubmitRequest{DocType: "log", BaseRevision: base, Op: json.RawMessage(op), ClientID: client, Seq: seq}, func(r SubmitResult, err error) {
			ch <- struct {
				r   SubmitResult
				err error
			}{r, err}
		})
	})
	if err != nil {
		return SubmitResult{}, err
	}
	select {
	case res := <-ch:
		return res.r, res.err
	case <-time.After(10 * time.Second):
		t.Fatal("submit timed out")
		return SubmitResult{}, nil
	}
}

func (f *fixture) read(t *testing.T) ReadResult {
	t.Helper()
	ch := make(chan ReadResult, 1)
	ctx := context.Background()
	if err := f.reg.Do(ctx, f.key, func(d *Doc) error {
		return d.Read(ctx, func(r ReadResult, err error) {
			if err != nil {
				t.Errorf("read: %v", err)
			}
			ch <- r
		})
	}); err != nil {
		t.Fatal(err)
	}
	return <-ch
}

func TestConcurrentSubmitsAreOrderedAndDurable(t *testing.T) {
	f := newFixture(t, Config{SnapshotEvery: 10})
	const writers, each = 8, 50
	var wg sync.WaitGroup
	revs := make(chan int64, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r, err := f.submit(t, 0, fmt.Sprintf(`"w%d-%d"`, w, i), fmt.Sprintf("w%d", w), uint64(i+1))
				if err != nil {
					t.Errorf("submit: %v", err)
					return
				}
				revs <- r.Revision
			}
		}(w)
	}
	wg.Wait()
	close(revs)
	seen := map[int64]bool{}
	for r := range revs {
		if seen[r] {
			t.Fatalf("revision %d acked twice", r)
		}
		seen[r] = true
	}
	if len(seen) != writers*each {
		t.Fatalf("%d acks", len(seen))
	}
	page, err := f.mem.ReadOps(context.Background(), &storage.ReadOpsRequest{Doc: f.key, From: 1, Limit: 10000})
	if err != nil || len(page.Ops) != writers*each {
		t.Fatalf("stored %d ops, err %v", len(page.Ops), err)
	}
	got := f.read(t)
	var items []string
	_ = json.Unmarshal(got.Snapshot, &items)
	for i, op := range page.Ops {
		var v string
		_ = json.Unmarshal(op.Data, &v)
		if items[i] != v || op.Revision != int64(i+1) {
			t.Fatalf("op %d: stored %q rev %d, state has %q", i, v, op.Revision, items[i])
		}
	}
}

func TestDuplicateIsAckedWithOriginalRevision(t *testing.T) {
	f := newFixture(t, Config{})
	if r, err := f.submit(t, 0, `"a"`, "c", 1); err != nil || r.Revision != 1 {
		t.Fatal(r, err)
	}
	if r, err := f.submit(t, 0, `"b"`, "x", 1); err != nil || r.Revision != 2 {
		t.Fatal(r, err)
	}
	r, err := f.submit(t, 0, `"a"`, "c", 1)
	if err != nil || r.Revision != 1 || !r.Duplicate || string(r.Op) != `"a"` {
		t.Fatalf("duplicate: %+v %v", r, err)
	}
	if got := f.read(t); got.Revision != 2 {
		t.Fatalf("revision %d after duplicate", got.Revision)
	}
	// A lower seq than the client's last: acknowledged with its revision when it was applied,
	// refused (never applied, never falsely acknowledged) when it was not.
	if r, err := f.submit(t, 2, `"c3"`, "c", 3); err != nil || r.Revision != 3 {
		t.Fatalf("seq 3: %+v %v", r, err)
	}
	if r, err := f.submit(t, 0, `"a"`, "c", 1); err != nil || r.Revision != 1 || !r.Duplicate {
		t.Fatalf("resubmitted seq 1 after seq 3: %+v %v", r, err)
	}
	var refused *protocol.Error
	if r, err := f.submit(t, 1, `"c2"`, "c", 2); !errors.As(err, &refused) || refused.Code != protocol.CodeInvalidOp {
		t.Fatalf("seq 2, never applied, after seq 3: %+v %v, want InvalidOp", r, err)
	}
	if got := f.read(t); got.Revision != 3 {
		t.Fatalf("revision %d after the refused lower seq", got.Revision)
	}
	_, err = f.submit(t, 3, `"bad"`, "c", 4)
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Code != protocol.CodeInvalidOp {
		t.Fatalf("bad op: %v", err)
	}
	if _, err := f.submit(t, 9, `"z"`, "c", 5); !errors.As(err, &perr) || perr.Code != protocol.CodeInvalidOp {
		t.Fatalf("future base: %v", err)
	}
}

func TestJoinAndBroadcastWaitForDurability(t *testing.T) {
	f := newFixture(t, Config{})
	if _, err := f.submit(t, 0, `"a"`, "c", 1); err != nil {
		t.Fatal(err)
	}
	watcher := &testPeer{id: "w"}
	joined := make(chan JoinResult, 1)
	ctx := context.Background()
	d, _ := f.reg.Get(f.key)
	if err := d.Join(ctx, watcher, "log", nil, func(r JoinResult, err error) { joined <- r }); err != nil {
		t.Fatal(err)
	}
	if r := <-joined; r.Revision != 1 || string(r.Snapshot) != `["a"]` {
		t.Fatalf("join: %+v", r)
	}
	// Hold appends: an op is applied in memory but neither acked nor broadcast.
	hold := make(chan struct{})
	f.g.mu.Lock()
	f.g.hold = hold
	f.g.mu.Unlock()
	acked := make(chan SubmitResult, 1)
	if err := d.Submit(ctx, SubmitRequest{DocType: "log", BaseRevision: 1, Op: json.RawMessage(`"b"`), ClientID: "c", Seq: 2}, func(r SubmitResult, err error) { acked <- r }); err != nil {
		t.Fatal(err)
	}
	late := &testPeer{id: "late"}
	lateJoined := make(chan JoinResult, 1)
	if err := d.Join(ctx, late, "log", nil, func(r JoinResult, err error) { lateJoined <- r }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	select {
	case <-acked:
		t.Fatal("acked before durable")
	case <-lateJoined:
		t.Fatal("join answered with a non-durable revision")
	default:
	}
	if len(watcher.messages()) != 0 {
		t.Fatal("broadcast before durable")
	}
	f.g.mu.Lock()
	f.g.hold = nil
	f.g.mu.Unlock()
	close(hold)
	if r := <-acked; r.Revision != 2 {
		t.Fatalf("ack %+v", r)
	}
	if r := <-lateJoined; r.Revision != 2 || string(r.Snapshot) != `["a","b"]` {
		t.Fatalf("late join %+v", r)
	}
	if m := watcher.messages(); len(m) != 1 || m[0] != `{"type":"op","doc":"d","revision":2,"op":"b","clientId":"c","seq":2}` {
		t.Fatalf("watcher got %q", m)
	}
	// The late joiner had revision 2 in its snapshot: it must not get op 2 again.
	if m := late.messages(); len(m) != 0 {
		t.Fatalf("late joiner got %q", m)
	}
}

// A peer that rejoins while its own op waits for durability gets its join reply (which lists
// that op) before the op's ack: an ack never reaches a client ahead of ops it has not seen.
func TestAckOfRejoiningAuthorFollowsJoinReply(t *testing.T) {
	f := newFixture(t, Config{})
	if _, err := f.submit(t, 0, `"a"`, "c", 1); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, _ := f.reg.Get(f.key)
	author := &testPeer{id: "author"}
	joined := make(chan JoinResult, 1)
	if err := d.Join(ctx, author, "log", nil, func(r JoinResult, err error) { joined <- r }); err != nil {
		t.Fatal(err)
	}
	<-joined
	hold := make(chan struct{})
	f.g.mu.Lock()
	f.g.hold = hold
	f.g.mu.Unlock()
	var mu sync.Mutex
	var order []string
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	acked := make(chan struct{})
	submit := func(op string, seq uint64, dup bool) {
		err := d.Submit(ctx, SubmitRequest{DocType: "log", BaseRevision: 1, Op: json.RawMessage(op), ClientID: "c", Seq: seq, Author: "author"},
			func(r SubmitResult, err error) {
				note(fmt.Sprintf("ack %d dup=%v err=%v", r.Revision, r.Duplicate, err))
				if dup {
					close(acked)
				}
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	submit(`"b"`, 2, false)
	known := int64(1)
	if err := d.Join(ctx, author, "log", &known, func(r JoinResult, err error) {
		note(fmt.Sprintf("joined %d ops=%d err=%v", r.Revision, len(r.Ops), err))
	}); err != nil {
		t.Fatal(err)
	}
	submit(`"b"`, 2, true) // the resubmission after the rejoin: a duplicate
	time.Sleep(50 * time.Millisecond)
	f.g.mu.Lock()
	f.g.hold = nil
	f.g.mu.Unlock()
	close(hold)
	select {
	case <-acked:
	case <-time.After(10 * time.Second):
		t.Fatal("no ack")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"joined 2 ops=1 err=<nil>", "ack 2 dup=false err=<nil>", "ack 2 dup=true err=<nil>"}
	if !slices.Equal(order, want) {
		t.Fatalf("order %q, want %q", order, want)
	}
}

func TestFailedAppendResetsWithoutAck(t *testing.T) {
	f := newFixture(t, Config{})
	if _, err := f.submit(t, 0, `"a"`, "c", 1); err != nil {
		t.Fatal(err)
	}
	d, _ := f.reg.Get(f.key)
	peer := &testPeer{id: "p"}
	joined := make(chan JoinResult, 1)
	_ = d.Join(context.Background(), peer, "log", nil, func(r JoinResult, err error) { joined <- r })
	<-joined
	f.g.mu.Lock()
	f.g.fail = fmt.Errorf("disk on fire: %w", storage.ErrUnavailable)
	f.g.mu.Unlock()
	_, err := f.submit(t, 1, `"b"`, "c", 2)
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Code != protocol.CodeUnavailable {
		t.Fatalf("want Unavailable, got %v", err)
	}
	// The refusal comes first; the peers are dropped right after it on the actor.
	waitFor(t, func() bool { return len(peer.droppedErrs()) > 0 })
	if dropped := len(peer.droppedErrs()); dropped != 1 {
		t.Fatalf("peer dropped %d times after the reset", dropped)
	}
	f.g.mu.Lock()
	f.g.fail = nil
	f.g.mu.Unlock()
	// The document reloads from storage: "b" never happened; the resubmit applies it once.
	r, err := f.submit(t, 1, `"b"`, "c", 2)
	if err != nil || r.Revision != 2 || r.Duplicate {
		t.Fatalf("resubmit after reset: %+v %v", r, err)
	}
	if got := f.read(t); string(got.Snapshot) != `["a","b"]` {
		t.Fatalf("state %s", got.Snapshot)
	}
}

func TestSlowPeerIsDropped(t *testing.T) {
	f := newFixture(t, Config{})
	d, _ := f.reg.Get(f.key)
	slow := &testPeer{id: "slow", full: true}
	joined := make(chan JoinResult, 1)
	_ = d.Join(context.Background(), slow, "log", nil, func(r JoinResult, err error) { joined <- r })
	<-joined
	if _, err := f.submit(t, 0, `"a"`, "c", 1); err != nil {
		t.Fatal(err)
	}
	// The author's reply comes first; the broadcast that drops the slow peer follows on the
	// actor.
	waitFor(t, func() bool { return len(slow.droppedErrs()) > 0 })
	if dropped := slow.droppedErrs(); len(dropped) != 1 || dropped[0].Code != protocol.CodeSlowConsumer {
		t.Fatalf("slow peer: %+v", dropped)
	}
}

func TestIdleUnloadWritesSnapshotAndReloads(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	f := newFixture(t, Config{IdleTimeout: time.Minute, TickInterval: 10 * time.Millisecond, Now: clock})
	for i := 1; i <= 3; i++ {
		if _, err := f.submit(t, int64(i-1), fmt.Sprintf(`"%d"`, i), "c", uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for f.reg.Loaded() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle document not unloaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	loaded, err := f.mem.Load(context.Background(), f.key)
	if err != nil || loaded.Snapshot == nil || loaded.Snapshot.Revision != 3 {
		t.Fatalf("final snapshot: %+v %v", loaded, err)
	}
	if r, err := f.submit(t, 3, `"x"`, "c", 3); err != nil || !r.Duplicate || r.Revision != 3 {
		t.Fatalf("dedupe after reload from snapshot: %+v %v", r, err)
	}
	if got := f.read(t); got.Revision != 3 || string(got.Snapshot) != `["1","2","3"]` {
		t.Fatalf("reloaded: %+v %s", got, got.Snapshot)
	}
}

func TestAwarenessExpiresAndIsNeverStored(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	f := newFixture(t, Config{AwarenessTTL: 30 * time.Second, TickInterval: 10 * time.Millisecond, Now: clock})
	d, _ := f.reg.Get(f.key)
	a, b := &testPeer{id: "a"}, &testPeer{id: "b"}
	for _, p := range []*testPeer{a, b} {
		joined := make(chan JoinResult, 1)
		_ = d.Join(context.Background(), p, "log", nil, func(r JoinResult, err error) { joined <- r })
		<-joined
	}
	_ = d.SetAwareness(context.Background(), "a", json.RawMessage(`{"cursor":1}`))
	waitFor(t, func() bool { return len(b.messages()) == 1 })
	if m := b.messages()[0]; m != `{"type":"awareness","doc":"d","peer":"a","state":{"cursor":1}}` {
		t.Fatalf("broadcast %s", m)
	}
	mu.Lock()
	now = now.Add(31 * time.Second)
	mu.Unlock()
	waitFor(t, func() bool { return len(b.messages()) == 2 })
	if m := b.messages()[1]; m != `{"type":"awareness","doc":"d","peer":"a","state":null}` {
		t.Fatalf("expiry %s", m)
	}
	if _, err := f.mem.Load(context.Background(), f.key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("awareness reached storage: %v", err)
	}
	_ = d.Leave(context.Background(), "a", nil)
	waitFor(t, func() bool { return len(b.messages()) == 3 })
	if m := b.messages()[2]; m != `{"type":"peerLeft","doc":"d","peer":"a"}` {
		t.Fatalf("leave %s", m)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
