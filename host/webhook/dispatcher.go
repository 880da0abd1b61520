package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Drop reasons passed to Hooks.Dropped.
const (
	ReasonQueueFull = "queue_full"
	ReasonShutdown  = "shutdown"
)

// Hooks report what happens to events, for metrics. They run on the dispatcher's goroutines
// (Dropped also on the caller of Enqueue), so they must be fast and must not block; nil hooks
// are skipped.
type Hooks struct {
	// Delivered: the endpoint answered 2xx, after attempts tries.
	Delivered func(endpoint string, event EventType, attempts int)
	// Failed: the event was given up: MaxAttempts reached, or a 4xx other than 408, 425 and
	// 429, which retrying would not change.
	Failed func(endpoint string, event EventType, err error)
	// Dropped: the event never reached the endpoint: its queue was full (ReasonQueueFull) or
	// the dispatcher closed first (ReasonShutdown).
	Dropped func(endpoint string, event EventType, reason string)
}

// Options are the parts of a Dispatcher that are not configuration.
type Options struct {
	// Logger receives delivery failures; nil means slog.Default().
	Logger *slog.Logger
	// Client sends the POSTs; nil means a client that does not follow redirects. Its Timeout
	// should be zero: Config.Timeout bounds each attempt.
	Client *http.Client
	// Hooks report deliveries, failures and drops.
	Hooks Hooks
	// Node is put in each event's "node" field.
	Node string
	// LookupEnv resolves EndpointConfig.SecretEnv; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Now is the clock for event times and signatures; nil means time.Now.
	Now func() time.Time
}

// Dispatcher queues events and delivers them to the configured endpoints. Its methods are
// safe for concurrent use.
type Dispatcher struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	hooks  Hooks
	node   string
	now    func() time.Time
	eps    []*endpoint
	// changes is whether any endpoint takes doc.changed (else DocChanged does nothing).
	changes bool

	// mu guards closed; senders hold it for reading while they send (without blocking), Close
	// takes it for writing to close the queues.
	mu     sync.RWMutex
	closed bool
	queued atomic.Int64

	// dmu guards the debounce state.
	dmu      sync.Mutex
	dclosed  bool
	pending  map[docKey]*change
	timersWG sync.WaitGroup

	workersWG sync.WaitGroup
	ctx       context.Context // deliveries; cancelled when Close gives up
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

type endpoint struct {
	name    string
	url     string
	secret  string
	events  map[EventType]bool // nil means all
	queue   chan Event
	lastLog atomic.Int64 // unix nanos of the last drop logged
}

func (e *endpoint) wants(t EventType) bool { return e.events == nil || e.events[t] }

type docKey struct{ tenant, doc string }

type change struct {
	from, to int64
	timer    *time.Timer
}

// New checks cfg and starts the workers. With no endpoints the Dispatcher accepts events and
// discards them, so callers need no special case.
func New(cfg Config, opts Options) (*Dispatcher, error) {
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if err := cfg.Validate(lookup); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	d := &Dispatcher{
		cfg: cfg, log: opts.Logger, client: opts.Client, hooks: opts.Hooks, node: opts.Node,
		now: opts.Now, pending: make(map[docKey]*change),
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	d.log = d.log.With("component", "webhook")
	if d.now == nil {
		d.now = time.Now
	}
	if d.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.Workers
		d.client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for _, ec := range cfg.Endpoints {
		ep := &endpoint{name: ec.name(), url: ec.URL, secret: ec.Secret, queue: make(chan Event, cfg.QueueSize)}
		if ec.SecretEnv != "" {
			ep.secret, _ = lookup(ec.SecretEnv)
		}
		if len(ec.Events) > 0 {
			ep.events = make(map[EventType]bool, len(ec.Events))
			for _, t := range ec.Events {
				ep.events[EventType(t)] = true
			}
		}
		d.eps = append(d.eps, ep)
		d.changes = d.changes || ep.wants(DocChanged)
		for range cfg.Workers {
			d.workersWG.Add(1)
			go d.work(ep)
		}
	}
	return d, nil
}

// DocChanged records that a document's revisions from..to were appended. Changes to one
// document within Config.Debounce of its first change go out as one doc.changed event
// covering all of them. It never blocks.
func (d *Dispatcher) DocChanged(tenant, doc string, from, to int64) {
	if !d.changes {
		return
	}
	k := docKey{tenant, doc}
	d.dmu.Lock()
	if d.dclosed {
		d.dmu.Unlock()
		d.Enqueue(Event{Type: DocChanged, Tenant: tenant, Doc: doc, FromRevision: from, ToRevision: to})
		return
	}
	if c, ok := d.pending[k]; ok {
		c.from, c.to = min(c.from, from), max(c.to, to)
		d.dmu.Unlock()
		return
	}
	c := &change{from: from, to: to}
	d.pending[k] = c
	d.timersWG.Add(1)
	c.timer = time.AfterFunc(d.cfg.Debounce, func() {
		defer d.timersWG.Done()
		d.dmu.Lock()
		cur, ok := d.pending[k]
		if ok && cur == c {
			delete(d.pending, k)
		}
		d.dmu.Unlock()
		if ok && cur == c {
			d.Enqueue(Event{Type: DocChanged, Tenant: tenant, Doc: doc, FromRevision: c.from, ToRevision: c.to})
		}
	})
	d.dmu.Unlock()
}

// LastPeerLeft raises doc.last_peer_left with the revision of the document's final snapshot.
// It never blocks.
func (d *Dispatcher) LastPeerLeft(tenant, doc string, snapshotRevision int64) {
	d.Enqueue(Event{Type: DocLastPeerLeft, Tenant: tenant, Doc: doc, SnapshotRevision: snapshotRevision})
}

// Deleted raises doc.deleted with the document's last revision. It never blocks.
func (d *Dispatcher) Deleted(tenant, doc string, revision int64) {
	d.Enqueue(Event{Type: DocDeleted, Tenant: tenant, Doc: doc, Revision: revision})
}

// Enqueue queues ev for every endpoint whose filter takes its type, without debouncing. Empty
// ID, Time and Node are filled in. It never blocks: an endpoint whose queue is full drops ev
// and counts it (Hooks.Dropped, ReasonQueueFull); after Close every event is dropped with
// ReasonShutdown.
func (d *Dispatcher) Enqueue(ev Event) {
	if len(d.eps) == 0 {
		return
	}
	if ev.ID == "" {
		ev.ID = NewID()
	}
	if ev.Time.IsZero() {
		ev.Time = d.now().UTC()
	}
	if ev.Node == "" {
		ev.Node = d.node
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, ep := range d.eps {
		if !ep.wants(ev.Type) {
			continue
		}
		if d.closed {
			d.drop(ep, ev, ReasonShutdown)
			continue
		}
		select {
		case ep.queue <- ev:
			d.queued.Add(1)
		default:
			d.drop(ep, ev, ReasonQueueFull)
		}
	}
}

// Queued is the number of events waiting in the queues (for a gauge).
func (d *Dispatcher) Queued() int64 { return d.queued.Load() }

func (d *Dispatcher) drop(ep *endpoint, ev Event, reason string) {
	if d.hooks.Dropped != nil {
		d.hooks.Dropped(ep.name, ev.Type, reason)
	}
	// Log at most one drop per endpoint every 10s: drops come in floods.
	now := time.Now().UnixNano()
	last := ep.lastLog.Load()
	if now-last >= int64(10*time.Second) && ep.lastLog.CompareAndSwap(last, now) {
		d.log.Warn("webhook event dropped", "endpoint", ep.name, "event", ev.Type, "reason", reason,
			"queueSize", d.cfg.QueueSize)
	}
}

func (d *Dispatcher) work(ep *endpoint) {
	defer d.workersWG.Done()
	for ev := range ep.queue {
		d.queued.Add(-1)
		if d.ctx.Err() != nil {
			d.drop(ep, ev, ReasonShutdown)
			continue
		}
		d.deliver(ep, ev)
	}
}

// deliver tries ev until the endpoint accepts it, refuses it for good, MaxAttempts is reached
// or the dispatcher gives up at Close.
func (d *Dispatcher) deliver(ep *endpoint, ev Event) {
	body, err := json.Marshal(ev)
	if err != nil { // cannot happen for Event; fail loudly rather than loop
		d.fail(ep, ev, 0, fmt.Errorf("encode event: %w", err))
		return
	}
	for attempt := 1; ; attempt++ {
		retryAfter, err := d.post(ep, ev, body, attempt)
		if err == nil {
			if d.hooks.Delivered != nil {
				d.hooks.Delivered(ep.name, ev.Type, attempt)
			}
			return
		}
		var perm *permanentError
		if errors.As(err, &perm) || attempt >= d.cfg.MaxAttempts {
			d.fail(ep, ev, attempt, err)
			return
		}
		if d.ctx.Err() != nil {
			d.drop(ep, ev, ReasonShutdown)
			return
		}
		d.log.Debug("webhook attempt failed; retrying", "endpoint", ep.name, "event", ev.Type, "id", ev.ID, "attempt", attempt, "err", err)
		t := time.NewTimer(max(d.backoff(attempt), min(retryAfter, d.cfg.BackoffMax)))
		select {
		case <-t.C:
		case <-d.ctx.Done():
			t.Stop()
			d.drop(ep, ev, ReasonShutdown)
			return
		}
	}
}

func (d *Dispatcher) fail(ep *endpoint, ev Event, attempts int, err error) {
	d.log.Warn("webhook event given up", "endpoint", ep.name, "event", ev.Type, "id", ev.ID, "attempts", attempts, "err", err)
	if d.hooks.Failed != nil {
		d.hooks.Failed(ep.name, ev.Type, err)
	}
}

// backoff is the wait after the attempt-th failure: BackoffBase doubled per retry, capped at
// BackoffMax, then a random point between half and all of it.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	w := d.cfg.BackoffBase
	for i := 1; i < attempt && w < d.cfg.BackoffMax; i++ {
		w *= 2
	}
	w = min(w, d.cfg.BackoffMax)
	half := w / 2
	return half + rand.N(half+1)
}

// permanentError is a failure retrying would not change.
type permanentError struct {
	status int
	err    error
}

func (e *permanentError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("endpoint refused the event: %d %s", e.status, http.StatusText(e.status))
}

func (e *permanentError) Unwrap() error { return e.err }

// post makes one attempt. It returns the wait the endpoint asked for in Retry-After (zero if
// none) and nil when the endpoint answered 2xx.
func (d *Dispatcher) post(ep *endpoint, ev Event, body []byte, attempt int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(body))
	if err != nil {
		return 0, &permanentError{err: fmt.Errorf("build request to %s: %w", ep.name, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "OpStream-Webhook/1")
	req.Header.Set(IdempotencyHeader, ev.ID)
	req.Header.Set(EventHeader, string(ev.Type))
	req.Header.Set(AttemptHeader, strconv.Itoa(attempt))
	req.Header.Set(SignatureHeader, Sign(ep.secret, d.now(), body))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post to %s: %w", ep.name, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	_ = resp.Body.Close()
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return 0, nil
	case s == http.StatusRequestTimeout || s == http.StatusTooEarly || s == http.StatusTooManyRequests || s >= 500:
		var wait time.Duration
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			wait = time.Duration(secs) * time.Second
		}
		return wait, fmt.Errorf("post to %s: %d %s", ep.name, s, http.StatusText(s))
	default:
		return 0, &permanentError{status: s}
	}
}

// Close stops taking events, sends the pending doc.changed windows at once and delivers what
// is queued until ctx ends; then it abandons the rest (Hooks.Dropped, ReasonShutdown) and
// cancels the attempts in flight. It returns once every goroutine has ended: nil when all was
// delivered, ctx's error otherwise. Events raised after Close are dropped.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.closeOnce.Do(func() { d.closeErr = d.close(ctx) })
	return d.closeErr
}

func (d *Dispatcher) close(ctx context.Context) error {
	d.dmu.Lock()
	d.dclosed = true
	pending := d.pending
	d.pending = nil
	d.dmu.Unlock()
	for k, c := range pending {
		if c.timer.Stop() {
			d.timersWG.Done() // its callback will not run
		}
		d.Enqueue(Event{Type: DocChanged, Tenant: k.tenant, Doc: k.doc, FromRevision: c.from, ToRevision: c.to})
	}
	d.timersWG.Wait() // callbacks already running enqueue before the queues close

	d.mu.Lock()
	d.closed = true
	for _, ep := range d.eps {
		close(ep.queue)
	}
	d.mu.Unlock()

	done := make(chan struct{})
	go func() {
		d.workersWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel()
		<-done
		return fmt.Errorf("close webhook dispatcher: undelivered events dropped: %w", ctx.Err())
	}
}
