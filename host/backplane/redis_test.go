package backplane_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opstream/opstream/host/backplane"
	"github.com/opstream/opstream/internal/testredis"
)

func startRedis(t testing.TB) *testredis.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s, err := testredis.Start(t.TempDir(), port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func newRedis(t testing.TB, s *testredis.Server, node string) *backplane.Redis {
	t.Helper()
	bp, err := backplane.NewRedis(backplane.RedisConfig{Addr: s.Addr(), KeyPrefix: "t:"}, node, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bp.Close() })
	return bp
}

func TestLeasesAndEpochs(t *testing.T) {
	s := startRedis(t)
	a, b := newRedis(t, s, "a"), newRedis(t, s, "b")
	ctx := t.Context()
	ttl := 400 * time.Millisecond

	o, err := a.Acquire(ctx, "d", ttl, 0)
	if err != nil || o.Node != "a" || o.Epoch != 1 {
		t.Fatalf("a acquires: %+v %v", o, err)
	}
	if o, err := b.Acquire(ctx, "d", ttl, 0); err != nil || o.Node != "a" || o.Epoch != 1 {
		t.Fatalf("b sees a's lease: %+v %v", o, err)
	}
	if o, err := b.Lookup(ctx, "d"); err != nil || o.Node != "a" {
		t.Fatalf("lookup: %+v %v", o, err)
	}
	// Renewal keeps it past the TTL.
	for i := 0; i < 4; i++ {
		time.Sleep(ttl / 3)
		res, err := a.Refresh(ctx, backplane.RefreshRequest{TTL: ttl, Renew: []backplane.Lease{{Doc: "d", Epoch: 1}}})
		if err != nil || len(res.Lost) != 0 {
			t.Fatalf("renew: %+v %v", res, err)
		}
	}
	// Unrenewed, it expires; the next owner gets a higher epoch, and the old one learns it lost.
	time.Sleep(ttl + 100*time.Millisecond)
	if o, err := b.Acquire(ctx, "d", ttl, 0); err != nil || o.Node != "b" || o.Epoch != 2 {
		t.Fatalf("b takes over: %+v %v", o, err)
	}
	res, err := a.Refresh(ctx, backplane.RefreshRequest{TTL: ttl, Renew: []backplane.Lease{{Doc: "d", Epoch: 1}}, Watch: []string{"d", "none"}})
	if err != nil || len(res.Lost) != 1 || res.Lost[0] != 0 {
		t.Fatalf("a's renewal after losing: %+v %v", res, err)
	}
	if res.Owners[0] != (backplane.Owner{Node: "b", Epoch: 2}) || res.Owners[1] != (backplane.Owner{}) {
		t.Fatalf("watched owners: %+v", res.Owners)
	}
	// Release only releases one's own lease.
	if err := a.Release(ctx, []backplane.Lease{{Doc: "d", Epoch: 1}}); err != nil {
		t.Fatal(err)
	}
	if o, _ := a.Lookup(ctx, "d"); o.Node != "b" {
		t.Fatalf("a released b's lease: %+v", o)
	}
	if err := b.Release(ctx, []backplane.Lease{{Doc: "d", Epoch: 2}}); err != nil {
		t.Fatal(err)
	}
	if o, _ := a.Lookup(ctx, "d"); o.Node != "" {
		t.Fatalf("released lease still held: %+v", o)
	}
	// A minimum epoch (storage saw a newer one than Redis remembers) raises the counter, also
	// for a lease already held.
	if o, err := a.Acquire(ctx, "d", ttl, 10); err != nil || o.Node != "a" || o.Epoch != 10 {
		t.Fatalf("acquire with min epoch: %+v %v", o, err)
	}
	if o, err := a.Acquire(ctx, "d", ttl, 20); err != nil || o.Node != "a" || o.Epoch != 20 {
		t.Fatalf("raise held epoch: %+v %v", o, err)
	}
}

func TestNodesLiveness(t *testing.T) {
	s := startRedis(t)
	a, b := newRedis(t, s, "a"), newRedis(t, s, "b")
	ctx := t.Context()
	ttl := 300 * time.Millisecond
	if _, err := a.Refresh(ctx, backplane.RefreshRequest{TTL: ttl}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Refresh(ctx, backplane.RefreshRequest{TTL: ttl})
	if err != nil || len(res.Nodes) != 2 {
		t.Fatalf("two live nodes: %+v %v", res, err)
	}
	time.Sleep(ttl + 100*time.Millisecond)
	res, err = b.Refresh(ctx, backplane.RefreshRequest{TTL: ttl})
	if err != nil || len(res.Nodes) != 1 || res.Nodes[0] != "b" {
		t.Fatalf("a expired: %+v %v", res, err)
	}
}

// Messages to a node arrive in order; after Redis restarts, the subscriber is told it may have
// missed messages (reset) and receives again.
func TestPublishOrderAndReset(t *testing.T) {
	s := startRedis(t)
	a, b := newRedis(t, s, "a"), newRedis(t, s, "b")
	ctx, cancel := context.WithCancel(t.Context())
	var (
		mu     sync.Mutex
		got    []string
		resets atomic.Int32
		ready  = make(chan struct{})
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		_ = b.Subscribe(ctx, func(m backplane.Message) {
			mu.Lock()
			got = append(got, string(m.Payload))
			mu.Unlock()
		}, func() { resets.Add(1) }, func() { close(ready) })
	}()
	<-ready
	for i := 0; i < 500; i++ {
		if err := a.Publish(ctx, "b", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 500 })
	for i, v := range got {
		if v != strconv.Itoa(i) {
			t.Fatalf("message %d is %q", i, v)
		}
	}
	s.Kill()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return resets.Load() > 0 })
	waitUntil(t, func() bool {
		_ = a.Publish(ctx, "b", []byte("after"))
		mu.Lock()
		defer mu.Unlock()
		return got[len(got)-1] == "after"
	})
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Subscribe did not return after its context ended")
	}
}

func TestUnreachable(t *testing.T) {
	bp, err := backplane.NewRedis(backplane.RedisConfig{Addr: "127.0.0.1:1", Timeout: 200 * time.Millisecond}, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bp.Close()
	if err := bp.Ping(t.Context()); err == nil {
		t.Fatal("ping of a closed port succeeded")
	} else if !errors.Is(err, backplane.ErrUnreachable) {
		t.Fatalf("ping error %v is not ErrUnreachable", err)
	}
	if _, err := bp.Refresh(t.Context(), backplane.RefreshRequest{TTL: time.Second}); !errors.Is(err, backplane.ErrUnreachable) {
		t.Fatalf("refresh error %v is not ErrUnreachable", err)
	}
}

// roundTrips counts the commands and pipelines a client sends.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *roundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if cmd.Name() != "hello" { // connection setup, not a request
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h *roundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// Renewing 10,000 leases is one round trip, not one per document.
func TestRefreshIsOneRoundTrip(t *testing.T) {
	s := startRedis(t)
	bp := newRedis(t, s, "a")
	ctx := t.Context()
	leases := acquireMany(t, bp, 10000)
	rt := &roundTrips{}
	bp.AddHook(rt)
	res, err := bp.Refresh(ctx, backplane.RefreshRequest{TTL: time.Minute, Renew: leases, Watch: []string{"x", "y"}})
	if err != nil || len(res.Lost) != 0 {
		t.Fatalf("refresh: %v, lost %d", err, len(res.Lost))
	}
	if n := rt.n.Load(); n != 1 {
		t.Fatalf("refreshing 10,000 leases took %d round trips, want 1", n)
	}
}

func acquireMany(t testing.TB, bp *backplane.Redis, n int) []backplane.Lease {
	t.Helper()
	leases := make([]backplane.Lease, n)
	for i := range leases {
		d := fmt.Sprintf("doc%d", i)
		o, err := bp.Acquire(context.Background(), d, time.Minute, 0)
		if err != nil {
			t.Fatal(err)
		}
		leases[i] = backplane.Lease{Doc: d, Epoch: o.Epoch}
	}
	return leases
}

// BenchmarkRefresh10kLeases is what a node spends each lease period (TTL/3) to keep 10,000
// idle documents owned: divide by 10,000 for the cost per document per period.
func BenchmarkRefresh10kLeases(b *testing.B) {
	s := startRedis(b)
	bp := newRedis(b, s, "a")
	leases := acquireMany(b, bp, 10000)
	cpu0 := processCPU(b)
	b.ResetTimer()
	for b.Loop() {
		res, err := bp.Refresh(context.Background(), backplane.RefreshRequest{TTL: time.Minute, Renew: leases})
		if err != nil || len(res.Lost) != 0 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/10000, "µs/lease")
	// The node's own CPU (this process: encoding the pipeline, decoding the answer).
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "node-cpu-µs/refresh")
}

func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
