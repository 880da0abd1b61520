package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testSecret = "test-secret-0123456789abcdef"

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// receiver is a real webhook receiver as a customer would write one: it verifies the
// signature, deduplicates by idempotency key and processes each event once. failFirst makes
// it answer 500 to the first n deliveries of each event; ackLost makes it process the first
// delivery of each event and still answer 500, as when the response is lost on the way back.
type receiver struct {
	secret    string
	failFirst int
	ackLost   bool
	status    int // when non-zero, every delivery gets it

	mu        sync.Mutex
	attempts  map[string][]int // id -> OpStream-Attempt headers seen
	seen      map[string]bool  // processed ids
	processed []Event
	bad       []string
	arrived   chan Event
}

func newReceiver(t *testing.T, r *receiver) *httptest.Server {
	t.Helper()
	r.attempts = map[string][]int{}
	r.seen = map[string]bool{}
	r.arrived = make(chan Event, 100)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := VerifyRequest(r.secret, req, time.Minute)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	key := req.Header.Get(IdempotencyHeader)
	if key != ev.ID || req.Header.Get(EventHeader) != string(ev.Type) || req.Header.Get("Content-Type") != "application/json" {
		r.bad = append(r.bad, "headers do not match the body: "+key+" "+req.Header.Get(EventHeader))
	}
	attempt, _ := strconv.Atoi(req.Header.Get(AttemptHeader))
	r.attempts[key] = append(r.attempts[key], attempt)
	if r.status != 0 {
		w.WriteHeader(r.status)
		return
	}
	if len(r.attempts[key]) <= r.failFirst {
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	if !r.seen[key] {
		r.seen[key] = true
		r.processed = append(r.processed, ev)
		r.arrived <- ev
		if r.ackLost && len(r.attempts[key]) == 1 {
			http.Error(w, "lost ack", http.StatusBadGateway)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) snapshot() (processed []Event, attempts map[string][]int, bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	attempts = map[string][]int{}
	for k, v := range r.attempts {
		attempts[k] = append([]int(nil), v...)
	}
	return append([]Event(nil), r.processed...), attempts, append([]string(nil), r.bad...)
}

func (r *receiver) wait(t *testing.T) Event {
	t.Helper()
	select {
	case ev := <-r.arrived:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event arrived within 10s")
		return Event{}
	}
}

// hookLog records what the hooks report.
type hookLog struct {
	mu        sync.Mutex
	delivered []int // attempts
	failed    []error
	dropped   map[string]int // reason -> count
}

func (h *hookLog) hooks() Hooks {
	h.dropped = map[string]int{}
	return Hooks{
		Delivered: func(_ string, _ EventType, attempts int) {
			h.mu.Lock()
			h.delivered = append(h.delivered, attempts)
			h.mu.Unlock()
		},
		Failed: func(_ string, _ EventType, err error) {
			h.mu.Lock()
			h.failed = append(h.failed, err)
			h.mu.Unlock()
		},
		Dropped: func(_ string, _ EventType, reason string) {
			h.mu.Lock()
			h.dropped[reason]++
			h.mu.Unlock()
		},
	}
}

func (h *hookLog) counts() (delivered, failed int, dropped map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := map[string]int{}
	for k, v := range h.dropped {
		d[k] = v
	}
	return len(h.delivered), len(h.failed), d
}

func fastConfig(urls ...string) Config {
	cfg := Config{BackoffBase: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond, Timeout: 5 * time.Second}
	for i, u := range urls {
		cfg.Endpoints = append(cfg.Endpoints, EndpointConfig{Name: "ep" + strconv.Itoa(i), URL: u, Secret: testSecret})
	}
	return cfg
}

func newDispatcher(t *testing.T, cfg Config, h *hookLog) *Dispatcher {
	t.Helper()
	opts := Options{Logger: quietLogger(), Node: "node-1"}
	if h != nil {
		opts.Hooks = h.hooks()
	}
	d, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = d.Close(ctx)
	})
	return d
}

func closeWithin(t *testing.T, d *Dispatcher, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.Close(ctx)
}

func TestDeliveryIsSignedAndComplete(t *testing.T) {
	t.Parallel()
	r := &receiver{secret: testSecret}
	srv := newReceiver(t, r)
	var h hookLog
	d := newDispatcher(t, fastConfig(srv.URL), &h)

	d.Deleted("acme", "doc-1", 42)
	d.LastPeerLeft("acme", "doc-2", 17)
	got := map[EventType]Event{}
	for range 2 {
		ev := r.wait(t)
		got[ev.Type] = ev
	}
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	del, left := got[DocDeleted], got[DocLastPeerLeft]
	if del.Tenant != "acme" || del.Doc != "doc-1" || del.Revision != 42 || del.Node != "node-1" || !strings.HasPrefix(del.ID, "evt_") || del.Time.IsZero() {
		t.Errorf("doc.deleted = %+v", del)
	}
	if left.Doc != "doc-2" || left.SnapshotRevision != 17 || left.ID == del.ID {
		t.Errorf("doc.last_peer_left = %+v", left)
	}
	_, _, bad := r.snapshot()
	if len(bad) > 0 {
		t.Errorf("receiver rejected deliveries: %v", bad)
	}
	if n, f, _ := h.counts(); n != 2 || f != 0 {
		t.Errorf("hooks: delivered %d failed %d, want 2 and 0", n, f)
	}
}

func TestWrongSecretIsRefusedForGood(t *testing.T) {
	t.Parallel()
	r := &receiver{secret: "the-receivers-other-secret"}
	srv := newReceiver(t, r)
	var h hookLog
	d := newDispatcher(t, fastConfig(srv.URL), &h)
	d.Deleted("t", "d", 1)
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	processed, attempts, bad := r.snapshot()
	if len(processed) != 0 || len(bad) != 1 || !strings.Contains(bad[0], "does not match") {
		t.Errorf("processed %v, bad %v: want the signature refused", processed, bad)
	}
	if len(attempts) != 0 {
		t.Errorf("attempts recorded past the signature check: %v", attempts)
	}
	if _, f, _ := h.counts(); f != 1 {
		t.Errorf("failed %d, want 1 (a 401 is not retried)", f)
	}
}

func TestRetriesAfterTwoFailuresWithTheSameKey(t *testing.T) {
	t.Parallel()
	r := &receiver{secret: testSecret, failFirst: 2}
	srv := newReceiver(t, r)
	var h hookLog
	d := newDispatcher(t, fastConfig(srv.URL), &h)

	d.Deleted("t", "doc", 9)
	ev := r.wait(t)
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	processed, attempts, _ := r.snapshot()
	if len(processed) != 1 {
		t.Fatalf("processed %d events, want 1", len(processed))
	}
	if got := attempts[ev.ID]; len(attempts) != 1 || len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("attempts %v, want one key tried 3 times (attempt headers 1, 2, 3)", attempts)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.delivered) != 1 || h.delivered[0] != 3 || len(h.failed) != 0 {
		t.Errorf("hooks: delivered after %v attempts, failed %v", h.delivered, h.failed)
	}
}

// TestIdempotencyKeyPreventsDuplicateProcessing: the receiver processes an event but its
// answer is lost (502); the dispatcher retries with the same key and the receiver, seeing the
// key again, acknowledges without processing twice.
func TestIdempotencyKeyPreventsDuplicateProcessing(t *testing.T) {
	t.Parallel()
	r := &receiver{secret: testSecret, ackLost: true}
	srv := newReceiver(t, r)
	var h hookLog
	d := newDispatcher(t, fastConfig(srv.URL), &h)
	for i := range 5 {
		d.Deleted("t", "doc-"+strconv.Itoa(i), int64(i))
	}
	if err := closeWithin(t, d, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	processed, attempts, _ := r.snapshot()
	if len(processed) != 5 {
		t.Errorf("processed %d, want 5 (each once)", len(processed))
	}
	for id, a := range attempts {
		if len(a) != 2 {
			t.Errorf("event %s delivered %d times, want 2 (one lost ack, one retry)", id, len(a))
		}
	}
	if n, _, _ := h.counts(); n != 5 {
		t.Errorf("delivered %d, want 5", n)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	r := &receiver{secret: testSecret, status: http.StatusServiceUnavailable}
	srv := newReceiver(t, r)
	var h hookLog
	cfg := fastConfig(srv.URL)
	cfg.MaxAttempts = 3
	d := newDispatcher(t, cfg, &h)
	d.Deleted("t", "doc", 1)
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	_, attempts, _ := r.snapshot()
	for _, a := range attempts {
		if len(a) != 3 {
			t.Errorf("%d attempts, want 3", len(a))
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.failed) != 1 || !strings.Contains(h.failed[0].Error(), "503") {
		t.Errorf("failed %v, want one 503", h.failed)
	}
}

func TestDebounceMergesRevisionRanges(t *testing.T) {
	t.Parallel()
	r := &receiver{secret: testSecret}
	srv := newReceiver(t, r)
	cfg := fastConfig(srv.URL)
	cfg.Debounce = time.Hour // only Close flushes the windows: no timing in this test
	d := newDispatcher(t, cfg, nil)

	d.DocChanged("t", "a", 1, 1)
	d.DocChanged("t", "a", 2, 3)
	d.DocChanged("t", "b", 7, 8)
	d.DocChanged("t", "a", 4, 9)
	d.DocChanged("u", "a", 1, 2) // another tenant's document of the same name
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	processed, _, _ := r.snapshot()
	got := map[string][2]int64{}
	for _, ev := range processed {
		if ev.Type != DocChanged {
			t.Errorf("type %s", ev.Type)
		}
		got[ev.Tenant+"/"+ev.Doc] = [2]int64{ev.FromRevision, ev.ToRevision}
	}
	want := map[string][2]int64{"t/a": {1, 9}, "t/b": {7, 8}, "u/a": {1, 2}}
	if len(processed) != 3 || len(got) != 3 {
		t.Fatalf("events %+v, want one per document", processed)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: range %v, want %v", k, got[k], w)
		}
	}
}

func TestDebounceWindowCloses(t *testing.T) {
	t.Parallel()
	r := &receiver{secret: testSecret}
	srv := newReceiver(t, r)
	cfg := fastConfig(srv.URL)
	cfg.Debounce = 50 * time.Millisecond
	d := newDispatcher(t, cfg, nil)

	d.DocChanged("t", "a", 1, 1)
	d.DocChanged("t", "a", 2, 2)
	first := r.wait(t)
	if first.FromRevision != 1 || first.ToRevision != 2 {
		t.Errorf("first window %d..%d, want 1..2", first.FromRevision, first.ToRevision)
	}
	d.DocChanged("t", "a", 3, 5) // a new window
	second := r.wait(t)
	if second.FromRevision != 3 || second.ToRevision != 5 || second.ID == first.ID {
		t.Errorf("second window %+v, want 3..5 with a new id", second)
	}
}

func TestEventFilter(t *testing.T) {
	t.Parallel()
	all := &receiver{secret: testSecret}
	onlyDeleted := &receiver{secret: testSecret}
	cfg := fastConfig(newReceiver(t, all).URL, newReceiver(t, onlyDeleted).URL)
	cfg.Endpoints[1].Events = []string{string(DocDeleted)}
	d := newDispatcher(t, cfg, nil)
	d.LastPeerLeft("t", "d", 3)
	d.Deleted("t", "d", 3)
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	a, _, _ := all.snapshot()
	o, _, _ := onlyDeleted.snapshot()
	if len(a) != 2 || len(o) != 1 || o[0].Type != DocDeleted {
		t.Errorf("all got %d events, filtered got %+v", len(a), o)
	}
	if a[0].ID != o[0].ID && a[1].ID != o[0].ID {
		t.Error("the same event must carry the same id to every endpoint")
	}
}

// TestFullQueueDropsAndCloseAbandons: an endpoint that hangs fills its queue; further events
// are dropped and counted; Close gives up at its deadline, counts what it abandons and
// returns with every goroutine ended.
func TestFullQueueDropsAndCloseAbandons(t *testing.T) {
	t.Parallel()
	inFlight := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case inFlight <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release) // before srv.Close, which waits for the handlers
	var h hookLog
	cfg := fastConfig(srv.URL)
	cfg.Workers, cfg.QueueSize = 1, 2
	d := newDispatcher(t, cfg, &h)

	d.Deleted("t", "d", 0)
	select { // the worker holds the first event
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("the first event never reached the receiver")
	}
	for i := 1; i < 10; i++ {
		d.Deleted("t", "d", int64(i))
	}
	if q := d.Queued(); q != 2 {
		t.Errorf("Queued = %d, want 2", q)
	}
	if _, _, dropped := h.counts(); dropped[ReasonQueueFull] != 7 {
		t.Errorf("dropped %v, want 7 for a full queue", dropped)
	}
	err := closeWithin(t, d, 100*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want the deadline exceeded", err)
	}
	if _, _, dropped := h.counts(); dropped[ReasonShutdown] != 3 {
		t.Errorf("dropped %v, want 3 at shutdown (one in flight, two queued)", dropped)
	}
	d.Deleted("t", "d", 99)
	if _, _, dropped := h.counts(); dropped[ReasonShutdown] != 4 {
		t.Errorf("an event after Close: dropped %v, want it dropped at shutdown", dropped)
	}
	if err2 := closeWithin(t, d, time.Second); err2 != err {
		t.Errorf("second Close = %v, want the first's result %v", err2, err)
	}
}

func TestDeadReceiverEventuallyFails(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/hook"
	ln.Close() // connection refused from now on
	var h hookLog
	cfg := fastConfig(url)
	cfg.MaxAttempts = 2
	d := newDispatcher(t, cfg, &h)
	d.Deleted("t", "d", 1)
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.failed) != 1 || !strings.Contains(h.failed[0].Error(), "refused") {
		t.Errorf("failed %v, want connection refused", h.failed)
	}
}

func TestCloseDeliversWhatIsQueued(t *testing.T) {
	t.Parallel()
	r := &receiver{secret: testSecret}
	srv := newReceiver(t, r)
	cfg := fastConfig(srv.URL)
	cfg.QueueSize = 100
	d := newDispatcher(t, cfg, nil)
	for i := range 60 {
		d.Deleted("t", "d"+strconv.Itoa(i), int64(i))
	}
	if err := closeWithin(t, d, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if processed, _, _ := r.snapshot(); len(processed) != 60 {
		t.Errorf("delivered %d of 60 before Close returned", len(processed))
	}
	if d.Queued() != 0 {
		t.Errorf("Queued = %d after Close", d.Queued())
	}
}

func TestNoEndpoints(t *testing.T) {
	t.Parallel()
	d, err := New(Config{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.DocChanged("t", "d", 1, 2)
	d.Deleted("t", "d", 2)
	if err := closeWithin(t, d, time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"GOOD": testSecret, "SHORT": "abc"}[k]
		return v, ok
	}
	ep := func(e EndpointConfig) Config { return Config{Endpoints: []EndpointConfig{e}} }
	cases := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"none", Config{}, nil},
		{"secret", ep(EndpointConfig{URL: "https://h.example/x", Secret: testSecret}), nil},
		{"secretEnv", ep(EndpointConfig{URL: "http://127.0.0.1:9/x", SecretEnv: "GOOD", Events: []string{"doc.changed"}}), nil},
		{"no url", ep(EndpointConfig{Secret: testSecret}), []string{"webhooks.endpoints[0].url: required"}},
		{"bad scheme", ep(EndpointConfig{URL: "ftp://h/x", Secret: testSecret}), []string{"use an http:// or https:// URL"}},
		{"no secret", ep(EndpointConfig{URL: "https://h/x"}), []string{"a secret is required"}},
		{"short secret", ep(EndpointConfig{URL: "https://h/x", Secret: "short"}), []string{"shorter than 16"}},
		{"unset env", ep(EndpointConfig{URL: "https://h/x", SecretEnv: "MISSING"}), []string{"environment variable MISSING is not set"}},
		{"short env", ep(EndpointConfig{URL: "https://h/x", SecretEnv: "SHORT"}), []string{"shorter than 16"}},
		{"both", ep(EndpointConfig{URL: "https://h/x", Secret: testSecret, SecretEnv: "GOOD"}), []string{"not both"}},
		{"unknown event", ep(EndpointConfig{URL: "https://h/x", Secret: testSecret, Events: []string{"doc.created"}}), []string{`unknown event "doc.created"`}},
		{"duplicate names", Config{Endpoints: []EndpointConfig{
			{URL: "https://h/a", Secret: testSecret}, {URL: "https://h/b", Secret: testSecret},
		}}, []string{`name "h" is also endpoint 0's`}},
		{"backoff", Config{BackoffBase: time.Minute, BackoffMax: time.Second}, []string{"backoffBase 1m0s is above backoffMax 1s"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.cfg.Validate(env)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := New(ep(EndpointConfig{URL: "https://h/x"}), Options{}); err == nil {
		t.Error("New accepted an endpoint without a secret")
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	t.Parallel()
	d := &Dispatcher{cfg: Config{BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second}}
	for attempt, full := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 30: time.Second} {
		seen := map[time.Duration]bool{}
		for range 200 {
			w := d.backoff(attempt)
			if w < full/2 || w > full {
				t.Fatalf("attempt %d: wait %s outside [%s, %s]", attempt, w, full/2, full)
			}
			seen[w] = true
		}
		if len(seen) < 10 {
			t.Errorf("attempt %d: %d distinct waits in 200, want jitter", attempt, len(seen))
		}
	}
}

func TestHangingReceiverTimesOutEachAttempt(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	attempts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		attempts++
		mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	var h hookLog
	cfg := fastConfig(srv.URL)
	cfg.Timeout, cfg.MaxAttempts = 50*time.Millisecond, 2
	d := newDispatcher(t, cfg, &h)
	d.Deleted("t", "d", 1)
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.failed) != 1 || !errors.Is(h.failed[0], context.DeadlineExceeded) {
		t.Errorf("failed %v, want one deadline exceeded", h.failed)
	}
	mu.Lock()
	defer mu.Unlock()
	// The second request may still be on its way to the handler when its deadline passes.
	if attempts < 1 || attempts > 2 {
		t.Errorf("%d attempts reached the receiver, want 1 or 2 of the 2 made", attempts)
	}
}
