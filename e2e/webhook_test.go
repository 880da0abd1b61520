package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/opstream/opstream/client"
	"github.com/opstream/opstream/host/webhook"
)

const webhookSecret = "whsec-0123456789abcdef-e2e"

// receiver is a webhook endpoint that verifies signatures and processes each event id once.
// Its first two requests fail with 503 (the server must retry); its third processes the event
// and then answers 500, as if the answer were lost (the server retries, and the idempotency
// key stops a second processing).
type receiver struct {
	t *testing.T

	mu         sync.Mutex
	requests   int
	badSig     int
	processed  map[string]webhook.Event
	deliveries map[string][]int // event id -> OpStream-Attempt of each request
	duplicates int
	got        chan webhook.Event
}

func newReceiver(t *testing.T) *receiver {
	return &receiver{t: t, processed: map[string]webhook.Event{}, deliveries: map[string][]int{}, got: make(chan webhook.Event, 64)}
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := webhook.VerifyRequest(webhookSecret, r, webhook.DefaultTolerance)
	if err != nil {
		rv.mu.Lock()
		rv.badSig++
		rv.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	attempt, _ := strconv.Atoi(r.Header.Get(webhook.AttemptHeader))
	key := r.Header.Get(webhook.IdempotencyHeader)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.requests++
	rv.deliveries[key] = append(rv.deliveries[key], attempt)
	if key != ev.ID || r.Header.Get(webhook.EventHeader) != string(ev.Type) {
		rv.t.Errorf("headers %q %q do not match the body %+v", key, r.Header.Get(webhook.EventHeader), ev)
	}
	switch {
	case rv.requests <= 2:
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	case rv.processed[key].ID != "":
		rv.duplicates++ // seen: answer 2xx, do not process again
		w.WriteHeader(http.StatusOK)
		return
	}
	rv.processed[key] = ev
	rv.got <- ev
	if rv.requests == 3 {
		http.Error(w, "answer lost", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// TestWebhooksThroughTheBinary: doc.changed, doc.last_peer_left and doc.deleted reach a real
// HTTP receiver, signed, retried after it failed twice, and processed once each although one
// was delivered again after its answer was lost.
func TestWebhooksThroughTheBinary(t *testing.T) {
	rv := newReceiver(t)
	hs := httptest.NewServer(rv)
	defer hs.Close()
	s := startServer(t, "", "--config", writeConfig(t, fmt.Sprintf(`
admin: {token: %s}
webhooks:
  endpoints:
    - name: receiver
      url: %s/hooks
      secret: %s
  debounce: 500ms
  backoffBase: 50ms
  backoffMax: 200ms
  maxAttempts: 6
  workers: 1
`, adminToken, hs.URL, webhookSecret)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, s.wsURL(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.Join(ctx, "hooked", "text")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range d.Events() {
		}
	}()
	for i := int64(0); i < 3; i++ {
		if _, err := d.Submit(ctx, json.RawMessage(`["x"]`), i); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[webhook.EventType]bool{webhook.DocChanged: true, webhook.DocLastPeerLeft: true}
	seen := map[webhook.EventType]webhook.Event{}
	wait := func() {
		for len(want) > 0 {
			select {
			case ev := <-rv.got:
				if seen[ev.Type].ID != "" {
					t.Fatalf("a second %s event: %+v and %+v", ev.Type, seen[ev.Type], ev)
				}
				seen[ev.Type] = ev
				delete(want, ev.Type)
			case <-ctx.Done():
				t.Fatalf("events still missing: %v", want)
			}
		}
	}
	wait()
	if ev := seen[webhook.DocChanged]; ev.Doc != "hooked" || ev.Tenant != "default" || ev.FromRevision != 1 || ev.ToRevision != 3 || ev.Node == "" {
		t.Errorf("doc.changed: %+v, want revisions 1..3", ev)
	}
	if ev := seen[webhook.DocLastPeerLeft]; ev.Doc != "hooked" || ev.SnapshotRevision != 3 {
		t.Errorf("doc.last_peer_left: %+v, want snapshot revision 3", ev)
	}
	if code := httpJSONAuth(t, "DELETE", s.url("/v1/admin/docs/hooked"), adminToken, nil, nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	want[webhook.DocDeleted] = true
	wait()
	if ev := seen[webhook.DocDeleted]; ev.Doc != "hooked" || ev.Revision != 3 {
		t.Errorf("doc.deleted: %+v, want revision 3", ev)
	}

	// Let any late retry land, then check the delivery record.
	time.Sleep(300 * time.Millisecond)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.badSig != 0 {
		t.Errorf("%d deliveries failed signature verification", rv.badSig)
	}
	if len(rv.processed) != 3 {
		t.Errorf("processed %d events, want 3: %+v", len(rv.processed), rv.processed)
	}
	if rv.duplicates != 1 {
		t.Errorf("%d duplicate deliveries, want 1 (the event whose answer was lost)", rv.duplicates)
	}
	retried := false
	for id, attempts := range rv.deliveries {
		for i, a := range attempts {
			if a != i+1 {
				t.Errorf("event %s: attempts %v, want 1, 2, ...", id, attempts)
				break
			}
		}
		// The first event: 503, 503, processed but 500, then seen again.
		if len(attempts) == 4 {
			retried = true
		}
	}
	if !retried {
		t.Errorf("no event was delivered 4 times (2 failures, a lost answer, a duplicate): %v", rv.deliveries)
	}
}

// BenchmarkOpsWithDeadWebhook measures acknowledged ops through the real binary with no
// webhooks, with an endpoint that refuses connections and with one that accepts and never
// answers. Every op raises doc.changed (a 1ms debounce over 32 documents), so the dead
// endpoints' queues fill and drop; the op rate must not move.
//
//	go test -run XXX -bench OpsWithDeadWebhook -benchtime 20000x -count 5 ./e2e/ | benchstat -col /webhook -
func BenchmarkOpsWithDeadWebhook(b *testing.B) {
	refused := func(b *testing.B) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens: connection refused
		return "http://" + addr + "/hooks"
	}
	hanging := func(b *testing.B) string {
		block := make(chan struct{})
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}))
		b.Cleanup(func() {
			close(block)
			hs.Close()
		})
		return hs.URL + "/hooks"
	}
	for _, bc := range []struct {
		name string
		url  func(*testing.B) string
	}{
		{"webhook=none", nil},
		{"webhook=refused", refused},
		{"webhook=hanging", hanging},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := "limits: {opsPerSecond: 1000000, opsBurst: 1000000}\nstorage: {provider: memory}\n"
			if bc.url != nil {
				cfg += fmt.Sprintf(`webhooks:
  endpoints: [{url: %s, secret: %s}]
  debounce: 1ms
  timeout: 5s
  queueSize: 100
`, bc.url(b), webhookSecret)
			}
			s := startServer(b, "", "--config", writeConfig(b, cfg))
			benchSubmits(b, s)
			if bc.url != nil {
				// The dead endpoint was really in the way: its events piled up and dropped.
				fams := scrape(b, s)
				dropped := metricValue(fams, "opstream_webhook_dropped_total", nil, false)
				queued := metricValue(fams, "opstream_webhook_queue_length", nil, false)
				if dropped+queued == 0 {
					b.Fatalf("no webhook event queued or dropped: the benchmark did not exercise webhooks")
				}
				b.ReportMetric(dropped/float64(b.N), "drops/op")
			}
		})
	}
}

// benchSubmits submits b.N ops over one connection to 32 documents, in pipelined rounds of 64,
// and reports acknowledged ops per second.
func benchSubmits(b *testing.B, s *server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, s.wsURL(), client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const ndocs, round = 32, 64
	docs := make([]*client.Doc, ndocs)
	revs := make([]int64, ndocs)
	for i := range docs {
		if docs[i], err = c.Join(ctx, fmt.Sprintf("bench-%d", i), "text"); err != nil {
			b.Fatal(err)
		}
		go func(d *client.Doc) {
			for range d.Events() {
			}
		}(docs[i])
	}
	pending := make([]*client.Pending, 0, round)
	owner := make([]int, 0, round)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; {
		pending, owner = pending[:0], owner[:0]
		for i := 0; i < round && done+i < b.N; i++ {
			k := (done + i) % ndocs
			p, err := docs[k].SubmitAsync(json.RawMessage(`["x"]`), revs[k])
			if err != nil {
				b.Fatal(err)
			}
			pending, owner = append(pending, p), append(owner, k)
		}
		for i, p := range pending {
			r, err := p.Wait(ctx)
			if err != nil {
				b.Fatal(err)
			}
			revs[owner[i]] = max(revs[owner[i]], r)
		}
		done += len(pending)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}
