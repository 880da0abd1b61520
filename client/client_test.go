package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opstream/opstream/protocol"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialT(t *testing.T, s *fakeServer, opts Options) *Conn {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff = 5 * time.Millisecond
		opts.MaxBackoff = 50 * time.Millisecond
	}
	c, err := Dial(testCtx(t), s.url(), opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func joinT(t *testing.T, c *Conn, id string) *Doc {
	t.Helper()
	d, err := c.Join(testCtx(t), id, "log")
	if err != nil {
		t.Fatalf("Join %s: %v", id, err)
	}
	return d
}

// next returns the next event of kind (skipping others), failing after a timeout.
func next(t *testing.T, d *Doc, kind EventKind) Event {
	t.Helper()
	return nextMatching(t, d, kind.String(), func(k EventKind) bool { return k == kind })
}

// nextAny returns the next op, ack, reject or reload event (skipping awareness and peerLeft).
func nextAny(t *testing.T, d *Doc) Event {
	t.Helper()
	return nextMatching(t, d, "op, ack, reject or reload", func(k EventKind) bool {
		return k == EventOp || k == EventAck || k == EventReject || k == EventReload
	})
}

func nextMatching(t *testing.T, d *Doc, what string, match func(EventKind) bool) Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-d.Events():
			if !ok {
				t.Fatalf("events of %s closed (%v) while waiting for %s", d.ID(), d.Err(), what)
			}
			if match(ev.Kind) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event on %s", what, d.ID())
		}
	}
}

func TestJoinSubmitFanout(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	a, b := dialT(t, s, Options{ClientID: "A"}), dialT(t, s, Options{ClientID: "B"})
	ctx := testCtx(t)
	da, db := joinT(t, a, "doc1"), joinT(t, b, "doc1")
	if da.Revision() != 0 || string(da.Snapshot()) != "[]" || da.Access() != "write" || da.PeerID() == "" {
		t.Fatalf("joined: rev %d snapshot %s access %q peer %q", da.Revision(), da.Snapshot(), da.Access(), da.PeerID())
	}
	for i := 1; i <= 3; i++ {
		r, err := da.Submit(ctx, json.RawMessage(fmt.Sprintf(`"a%d"`, i)), da.Revision())
		if err != nil || r != int64(i) {
			t.Fatalf("Submit %d: rev %d, %v", i, r, err)
		}
		ack := next(t, da, EventAck)
		if ack.Revision != int64(i) || ack.Seq != uint64(i) {
			t.Fatalf("ack event %+v", ack)
		}
		ev := next(t, db, EventOp)
		if ev.Revision != int64(i) || ev.ClientID != "A" || ev.Seq != uint64(i) || string(ev.Op) != fmt.Sprintf(`"a%d"`, i) {
			t.Fatalf("op event %+v", ev)
		}
	}
	if db.Revision() != 3 || da.Revision() != 3 {
		t.Fatalf("revisions: a %d b %d", da.Revision(), db.Revision())
	}
	// A third client joining late gets the snapshot with every op applied.
	c := dialT(t, s, Options{})
	dc := joinT(t, c, "doc1")
	var st logState
	if err := st.reset(dc.Snapshot()); err != nil || len(st.ops) != 3 || dc.SnapshotRevision() != 3 {
		t.Fatalf("late snapshot %s rev %d: %v", dc.Snapshot(), dc.SnapshotRevision(), err)
	}
}

func TestWriterBatchesQueuedMessages(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c := dialT(t, s, Options{})
	// Queue three pings while the writer cannot take them: they must leave in one frame.
	c.mu.Lock()
	chans := make([]chan reply, 3)
	for i := range chans {
		ref := c.newRefLocked()
		chans[i] = make(chan reply, 1)
		c.waiters[ref] = waiter{ch: chans[i]}
		c.enqueueLocked(fmt.Appendf(nil, `{"type":"ping","ref":%d}`, ref))
	}
	c.mu.Unlock()
	for i, ch := range chans {
		select {
		case r := <-ch:
			if r.err != nil || r.msg.Type != protocol.TypePong {
				t.Fatalf("ping %d: %+v", i, r)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("ping %d: no pong", i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) != 1 || !s.frames[0].array || s.frames[0].n != 3 {
		t.Fatalf("frames %+v, want one array of 3", s.frames)
	}
}

func TestBatchedFramesBothWays(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	s.set(func(s *fakeServer) { s.batch = true; s.dupAcks = true })
	// The test reads events only after every ack: the buffers must hold all 300 (a full
	// buffer holds the reader back, by design, and later acks would never be read).
	a, b := dialT(t, s, Options{EventBuffer: 1024}), dialT(t, s, Options{EventBuffer: 1024})
	da, db := joinT(t, a, "d"), joinT(t, b, "d")
	const n = 300
	pend := make([]*Pending, n)
	for i := range pend {
		p, err := da.SubmitAsync(json.RawMessage(fmt.Sprintf("%d", i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		pend[i] = p
	}
	ctx := testCtx(t)
	for i, p := range pend {
		r, err := p.Wait(ctx)
		if err != nil || r != int64(i+1) {
			t.Fatalf("op %d: rev %d, %v", i, r, err)
		}
	}
	for i := 1; i <= n; i++ {
		if ev := next(t, db, EventOp); ev.Revision != int64(i) {
			t.Fatalf("op %d: got revision %d", i, ev.Revision)
		}
	}
	// Duplicate acks (sent in the same array frames) produce exactly n ack events.
	for i := 1; i <= n; i++ {
		if ev := next(t, da, EventAck); ev.Seq != uint64(i) {
			t.Fatalf("ack %d: %+v", i, ev)
		}
	}
	select {
	case ev := <-da.Events():
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs, arrays := 0, 0
	for _, f := range s.frames {
		msgs += f.n
		if f.array {
			arrays++
		}
	}
	if arrays == 0 || len(s.frames) >= msgs {
		t.Fatalf("%d messages in %d frames (%d arrays): the writer did not batch", msgs, len(s.frames), arrays)
	}
}

func TestRefMatchingAndErrors(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c := dialT(t, s, Options{})
	ctx := testCtx(t)

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() { errs <- c.Ping(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}

	cases := []struct {
		name string
		do   func() error
		code protocol.Code
	}{
		{"unknown doc type", func() error { _, err := c.Join(ctx, "x", "nope"); return err }, protocol.CodeUnknownDocType},
		{"invalid op", func() error {
			d := joinT(t, c, "e1")
			_, err := d.Submit(ctx, json.RawMessage(`"bad"`), 0)
			if ev := next(t, d, EventReject); ev.Seq != 1 || ev.Err == nil {
				t.Errorf("reject event %+v", ev)
			}
			return err
		}, protocol.CodeInvalidOp},
		{"base ahead", func() error {
			d := joinT(t, c, "e2")
			_, err := d.Submit(ctx, json.RawMessage(`1`), 7)
			return err
		}, protocol.CodeInvalidOp},
		{"invalid doc id", func() error { _, err := c.Join(ctx, "", "log"); return err }, protocol.CodeInvalidMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			var perr *protocol.Error
			if !errors.As(err, &perr) || perr.Code != tc.code {
				t.Fatalf("got %v, want code %s", err, tc.code)
			}
		})
	}
	// The failed join left no trace: joining the same id again works.
	if _, err := c.Join(ctx, "x", "log"); err != nil {
		t.Fatalf("rejoin after failed join: %v", err)
	}
	if _, err := c.Join(ctx, "x", "log"); !errors.Is(err, ErrAlreadyJoined) {
		t.Fatalf("double join: %v", err)
	}
}

func TestDialUnauthenticated(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	s.set(func(s *fakeServer) { s.token = "secret" })
	_, err := Dial(testCtx(t), s.url(), Options{Token: "wrong"})
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Code != protocol.CodeUnauthenticated {
		t.Fatalf("Dial with a wrong token: %v", err)
	}
	dialT(t, s, Options{Token: "secret"})
}

func TestAwareness(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	a, b := dialT(t, s, Options{}), dialT(t, s, Options{})
	ctx := testCtx(t)
	da := joinT(t, a, "aw")
	if err := da.SetAwareness(ctx, json.RawMessage(`{"cursor":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.Ping(ctx); err != nil { // the awareness message is processed by now
		t.Fatal(err)
	}
	db := joinT(t, b, "aw")
	if ev := next(t, db, EventAwareness); ev.Peer != da.PeerID() || string(ev.State) != `{"cursor":1}` {
		t.Fatalf("initial awareness %+v", ev)
	}
	if ps := db.Peers(); len(ps) != 1 || ps[0].Peer != da.PeerID() {
		t.Fatalf("Peers %+v", ps)
	}
	if err := da.SetAwareness(ctx, json.RawMessage(`{"cursor":2}`)); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, db, EventAwareness); string(ev.State) != `{"cursor":2}` {
		t.Fatalf("awareness %+v", ev)
	}
	if err := da.SetAwareness(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, db, EventAwareness); ev.State != nil {
		t.Fatalf("cleared awareness %+v", ev)
	}
	if err := da.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if ev := next(t, db, EventPeerLeft); ev.Peer != da.PeerID() {
		t.Fatalf("peerLeft %+v", ev)
	}
	if _, ok := <-da.Events(); ok {
		t.Fatal("events still open after Leave")
	}
	if _, err := da.SubmitAsync(json.RawMessage(`1`), 0); !errors.Is(err, ErrLeft) {
		t.Fatalf("submit after leave: %v", err)
	}
}

// TestReconnectResubmit cuts the connection once after the server applied an op but before the
// ack, and once before the server saw the op: the client must rejoin with its revision, learn
// the first op's revision from the rejoin, resubmit the second, and never apply anything twice.
func TestReconnectResubmit(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	a := dialT(t, s, Options{ClientID: "A", Reconnect: true})
	b := dialT(t, s, Options{ClientID: "B"})
	ctx := testCtx(t)
	da, db := joinT(t, a, "r"), joinT(t, b, "r")

	if r, err := da.Submit(ctx, json.RawMessage(`"one"`), 0); err != nil || r != 1 {
		t.Fatalf("submit one: %d %v", r, err)
	}
	s.set(func(s *fakeServer) { s.dropMode[2] = "afterApply"; s.dropMode[3] = "onReceive" })
	p2, _ := da.SubmitAsync(json.RawMessage(`"two"`), 1)
	if r, err := p2.Wait(ctx); err != nil || r != 2 {
		t.Fatalf("op two: %d %v", r, err)
	}
	p3, _ := da.SubmitAsync(json.RawMessage(`"three"`), 2)
	if r, err := p3.Wait(ctx); err != nil || r != 3 {
		t.Fatalf("op three: %d %v", r, err)
	}
	for i, want := range []string{`"one"`, `"two"`, `"three"`} {
		if ev := next(t, db, EventOp); ev.Revision != int64(i+1) || string(ev.Op) != want {
			t.Fatalf("b got %+v, want %s at %d", ev, want, i+1)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.applied != 3 {
		t.Fatalf("server applied %d ops, want 3", s.applied)
	}
	var rejoins []int64
	for _, j := range s.joins {
		if j.Revision != nil {
			rejoins = append(rejoins, *j.Revision)
		}
	}
	if len(rejoins) != 2 || rejoins[0] != 1 || rejoins[1] != 2 {
		t.Fatalf("rejoin revisions %v, want [1 2]", rejoins)
	}
}

// TestAckAfterDropWaitsForEarlierOps: the document drops the client while its submit is in
// flight, another client's op lands first and is never relayed, and the ack still arrives
// (after the drop notice). The client must not skip the unseen op: it delivers it from the
// rejoin and then the ack, in revision order, and the op resolves with its revision.
func TestAckAfterDropWaitsForEarlierOps(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	a := dialT(t, s, Options{ClientID: "A", Reconnect: true})
	ctx := testCtx(t)
	da := joinT(t, a, "held")
	if r, err := da.Submit(ctx, json.RawMessage(`"one"`), 0); err != nil || r != 1 {
		t.Fatalf("submit one: %d %v", r, err)
	}
	next(t, da, EventAck)
	s.set(func(s *fakeServer) { s.dropMode[2] = "droppedBeforeAck" })
	p, _ := da.SubmitAsync(json.RawMessage(`"two"`), 1)
	if r, err := p.Wait(ctx); err != nil || r != 3 {
		t.Fatalf("op two: %d %v, want revision 3", r, err)
	}
	ev := nextAny(t, da)
	if ev.Kind != EventOp || ev.Revision != 2 || string(ev.Op) != `"unseen"` {
		t.Fatalf("first event after the drop: %+v, want the unseen op at revision 2", ev)
	}
	if ev = nextAny(t, da); ev.Kind != EventAck || ev.Revision != 3 || ev.Seq != p.Seq {
		t.Fatalf("second event: %+v, want the ack at revision 3", ev)
	}
	if got := da.Revision(); got != 3 {
		t.Fatalf("revision %d, want 3", got)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.applied != 2 {
		t.Fatalf("server applied %d of this client's ops, want 2", s.applied)
	}
}

// TestReconnectNoDuplicates drops a reader repeatedly while another client writes: the reader
// must see every op exactly once, in order, and its state must equal the server's.
func TestReconnectNoDuplicates(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := dialT(t, s, Options{})
	r := dialT(t, s, Options{Token: "reader", Reconnect: true})
	ctx := testCtx(t)
	dw, dr := joinT(t, w, "nd"), joinT(t, r, "nd")
	const n = 200
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if _, err := dw.Submit(ctx, json.RawMessage(fmt.Sprint(i)), dw.Revision()); err != nil {
				done <- err
				return
			}
			if i%40 == 20 {
				s.dropConns("reader")
			}
		}
		done <- nil
	}()
	var st logState
	if err := st.reset(dr.Snapshot()); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		ev := next(t, dr, EventOp)
		if ev.Revision != int64(i) {
			t.Fatalf("event %d has revision %d", i, ev.Revision)
		}
		st.apply(ev.Op)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	want := s.docs["nd"].snapshot()
	s.mu.Unlock()
	got, _ := json.Marshal(st.ops)
	var gotOps, wantOps []json.RawMessage
	_ = json.Unmarshal(got, &gotOps)
	_ = json.Unmarshal(want, &wantOps)
	if len(gotOps) != n || len(wantOps) != n || fmt.Sprint(st.ops) != fmt.Sprint(rawStrings(wantOps)) {
		t.Fatalf("state differs from the server's")
	}
}

func rawStrings(r []json.RawMessage) []string {
	out := make([]string, len(r))
	for i, b := range r {
		out[i] = string(b)
	}
	return out
}

func TestReconnectReload(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	a := dialT(t, s, Options{Reconnect: true})
	ctx := testCtx(t)
	da := joinT(t, a, "rl")
	if _, err := da.Submit(ctx, json.RawMessage(`1`), 0); err != nil {
		t.Fatal(err)
	}
	s.set(func(s *fakeServer) { s.reload = true; s.dropMode[2] = "onReceive" })
	p, _ := da.SubmitAsync(json.RawMessage(`2`), 1)
	if _, err := p.Wait(ctx); !errors.Is(err, ErrReloaded) {
		t.Fatalf("pending op after reload: %v", err)
	}
	ev := next(t, da, EventReload)
	if ev.Revision != 1 || string(ev.Snapshot) != "[1]" {
		t.Fatalf("reload %+v", ev)
	}
	// The Doc goes on working after the reload.
	if r, err := da.Submit(ctx, json.RawMessage(`3`), 1); err != nil || r != 2 {
		t.Fatalf("submit after reload: %d %v", r, err)
	}
}

func TestJoinWhileDisconnected(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	a := dialT(t, s, Options{Reconnect: true})
	s.set(func(s *fakeServer) { s.refuse = true })
	s.dropConns("")
	ctx := testCtx(t)
	joined := make(chan error, 1)
	go func() {
		_, err := a.Join(ctx, "late", "log")
		joined <- err
	}()
	time.Sleep(50 * time.Millisecond)
	s.set(func(s *fakeServer) { s.refuse = false })
	if err := <-joined; err != nil {
		t.Fatalf("join across a reconnect: %v", err)
	}
}

func TestDropWithoutReconnect(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	a := dialT(t, s, Options{})
	d := joinT(t, a, "x")
	s.set(func(s *fakeServer) { s.dropMode[1] = "onReceive" })
	p, err := d.SubmitAsync(json.RawMessage(`1`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(testCtx(t)); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("pending op after drop: %v", err)
	}
	<-d.Done()
	if _, ok := <-d.Events(); ok {
		t.Fatal("events open after drop")
	}
	if _, err := a.Join(testCtx(t), "y", "log"); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("join after drop: %v", err)
	}
}

// TestCloseEndsGoroutines closes Conns in every state (joined with a full event channel,
// re-dialling a refusing server) and checks every goroutine has ended.
func TestCloseEndsGoroutines(t *testing.T) {
	// Not parallel: counts goroutines.
	before := runtime.NumGoroutine()
	s := newFake(t)
	a := dialT(t, s, Options{EventBuffer: 1})
	b := dialT(t, s, Options{Reconnect: true})
	ctx := testCtx(t)
	da, db := joinT(t, a, "c"), joinT(t, b, "c")
	for i := range 5 { // a never drains: its reader blocks on the full channel
		if _, err := db.Submit(ctx, json.RawMessage(fmt.Sprint(i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := da.SubmitAsync(json.RawMessage(`"late"`), 0)
	a.Close()
	if _, err := p.Wait(ctx); err == nil {
		t.Log("pending op was acked before Close")
	} else if !errors.Is(err, ErrClosed) {
		t.Fatalf("pending op after Close: %v", err)
	}
	s.set(func(s *fakeServer) { s.refuse = true })
	s.dropConns("")
	time.Sleep(30 * time.Millisecond) // b is re-dialling now
	start := time.Now()
	b.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	if _, err := da.SubmitAsync(json.RawMessage(`1`), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after Close: %v", err)
	}
	a.Close() // idempotent
	s.srv.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
