package telemetry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Label keys. Every label is bounded: engine names, plugin ids, protocol error codes, webhook
// endpoint names and event types come from configuration or the protocol, never from users.
// A document id is never a label.
const (
	LabelEngine   = "engine"
	LabelCode     = "code"
	LabelPlugin   = "plugin"
	LabelOutcome  = "outcome"
	LabelEndpoint = "endpoint"
	LabelEvent    = "event"
	LabelReason   = "reason"
)

// maxLabelValues bounds the distinct values one label takes; further values are recorded as
// "other", so a caller passing an unbounded value by mistake cannot blow up the series count.
const maxLabelValues = 256

// OverflowLabel is the value recorded once a label has seen maxLabelValues distinct values.
const OverflowLabel = "other"

var (
	latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	countBuckets   = []float64{0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000}
)

// Metrics are OpStream's instruments, created once from a meter. Each method records one
// event; all are safe for concurrent use, never block, and do nothing on a nil *Metrics (so a
// part wired without telemetry needs no checks). The Prometheus names they export under are in
// docs/observability.md.
type Metrics struct {
	opsProcessed     fastCounter
	opsRejected      metric.Int64Counter
	applyDuration    metric.Float64Histogram
	transforms       metric.Int64Histogram
	storeAppend      metric.Float64Histogram
	storeRead        metric.Float64Histogram
	backplanePublish metric.Float64Histogram
	fanOut           metric.Int64Histogram
	docPeers         metric.Int64Histogram
	wasmCalls        fastCounter
	wasmTraps        metric.Int64Counter
	pluginRestarts   metric.Int64Counter
	leaseAcquired    metric.Int64Counter
	leaseLost        metric.Int64Counter
	webhookDelivered metric.Int64Counter
	webhookFailed    metric.Int64Counter
	webhookDropped   metric.Int64Counter
	activeDocs       metric.Int64ObservableGauge
	connections      metric.Int64ObservableGauge
	walSize          metric.Int64ObservableGauge
	webhookQueue     metric.Int64ObservableGauge

	meter metric.Meter

	engine, code, plugin labelCache
	webhook, dropped     labelCache
	outcome              [2]*opts // ok, error
	none                 *opts
}

// opts are ready-made option slices for one attribute set: passing a slice with ... does not
// allocate, where building a variadic argument on each call does.
type opts struct {
	add []metric.AddOption
	rec []metric.RecordOption
	obs []metric.ObserveOption
}

func newOpts(s attribute.Set) *opts {
	o := metric.WithAttributeSet(s)
	return &opts{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}, obs: []metric.ObserveOption{o}}
}

// fastCounter is a monotonic counter for the per-op hot path: it sums in an atomic per label
// value and the collector reads the sums (an observable counter). The SDK's synchronous
// Int64Counter.Add resolves and deduplicates the attribute set and takes a lock on every call:
// ~4% of the server's CPU at 16,000 ops/s for the two counters bumped once per op.
type fastCounter struct {
	inst metric.Int64ObservableCounter
	sums sync.Map // *opts -> *atomic.Int64
}

func (c *fastCounter) add(o *opts) {
	if v, ok := c.sums.Load(o); ok {
		v.(*atomic.Int64).Add(1)
		return
	}
	v, _ := c.sums.LoadOrStore(o, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (c *fastCounter) observe(o metric.Observer) {
	c.sums.Range(func(k, v any) bool {
		o.ObserveInt64(c.inst, v.(*atomic.Int64).Load(), k.(*opts).obs...)
		return true
	})
}

// NewMetrics creates the instruments on meter.
func NewMetrics(meter metric.Meter) (*Metrics, error) {
	m := &Metrics{meter: meter}
	m.engine.key, m.code.key, m.plugin.key = LabelEngine, LabelCode, LabelPlugin
	m.webhook.keys = [2]string{LabelEndpoint, LabelEvent}
	m.dropped.keys = [2]string{LabelEndpoint, LabelReason}
	m.outcome[0] = newOpts(attribute.NewSet(attribute.String(LabelOutcome, "ok")))
	m.outcome[1] = newOpts(attribute.NewSet(attribute.String(LabelOutcome, "error")))
	m.none = newOpts(*attribute.EmptySet())

	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	seconds := func(name, desc string) metric.Float64Histogram {
		h, err := meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(latencyBuckets...))
		errs = append(errs, err)
		return h
	}
	count := func(name, unit, desc string) metric.Int64Histogram {
		h, err := meter.Int64Histogram(name, metric.WithUnit(unit), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(countBuckets...))
		errs = append(errs, err)
		return h
	}
	fast := func(c *fastCounter, name, unit, desc string) {
		var err error
		c.inst, err = meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	fast(&m.opsProcessed, "opstream.ops.processed", "{op}", "Ops applied, made durable and acknowledged, by engine.")
	m.opsRejected = counter("opstream.ops.rejected", "{op}", "Ops refused, by protocol error code.")
	m.applyDuration = seconds("opstream.op.apply.duration", "Time from an op reaching its document to its acknowledgement, by engine.")
	m.transforms = count("opstream.op.transforms", "{op}", "Concurrent ops each submitted op was rebased over.")
	m.storeAppend = seconds("opstream.store.append.duration", "Storage provider append latency, by outcome.")
	m.storeRead = seconds("opstream.store.read.duration", "Storage provider read latency (ops and snapshots), by outcome.")
	m.backplanePublish = seconds("opstream.backplane.publish.duration", "Backplane publish latency, by outcome.")
	m.fanOut = count("opstream.fanout.size", "{peer}", "Peers each op was sent to.")
	m.docPeers = count("opstream.document.peers", "{peer}", "Peers on a document, sampled at each join and leave.")
	fast(&m.wasmCalls, "opstream.wasm.calls", "{call}", "Calls into WASM modules, by plugin.")
	m.wasmTraps = counter("opstream.wasm.traps", "{trap}", "WASM calls that trapped or hit their deadline, by plugin.")
	m.pluginRestarts = counter("opstream.plugin.restarts", "{restart}", "Plugin restarts (storage subprocess, WASM instance reset), by plugin.")
	m.leaseAcquired = counter("opstream.lease.acquired", "{lease}", "Document ownership leases acquired by this node.")
	m.leaseLost = counter("opstream.lease.lost", "{lease}", "Document ownership leases this node lost before releasing them.")
	m.webhookDelivered = counter("opstream.webhook.delivered", "{event}", "Webhook events a receiver accepted (2xx), by endpoint and event.")
	m.webhookFailed = counter("opstream.webhook.failed", "{event}", "Webhook events given up after the last attempt or refused (4xx), by endpoint and event.")
	m.webhookDropped = counter("opstream.webhook.dropped", "{event}", "Webhook events dropped before delivery (queue full, shutdown), by endpoint and reason.")
	m.activeDocs = gauge("opstream.documents.active", "{document}", "Documents loaded on this node.")
	m.connections = gauge("opstream.connections.active", "{connection}", "Open client connections (WebSockets).")
	m.walSize = gauge("opstream.store.wal.size", "By", "Size of the storage write-ahead log (SQLite -wal file).")
	m.webhookQueue = gauge("opstream.webhook.queue.length", "{event}", "Webhook events queued for delivery.")
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("create metrics: %w", err)
	}
	// Lives as long as the meter: nothing unregisters it.
	if _, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		m.opsProcessed.observe(o)
		m.wasmCalls.observe(o)
		return nil
	}, m.opsProcessed.inst, m.wasmCalls.inst); err != nil {
		return nil, fmt.Errorf("register counter callbacks: %w", err)
	}
	return m, nil
}

func (m *Metrics) outcomeOpt(err error) *opts {
	if err != nil {
		return m.outcome[1]
	}
	return m.outcome[0]
}

// OpProcessed counts an op acknowledged to its author (call it once per ack, not for
// duplicates answered from the dedup table). engine is the document type.
func (m *Metrics) OpProcessed(ctx context.Context, engine string) {
	if m == nil {
		return
	}
	m.opsProcessed.add(m.engine.opt(engine))
}

// OpRejected counts an op refused with a protocol error code (InvalidOp, Forbidden,
// Unavailable, RateLimited, ...).
func (m *Metrics) OpRejected(ctx context.Context, code string) {
	if m == nil {
		return
	}
	m.opsRejected.Add(ctx, 1, m.code.opt(code).add...)
}

// ApplyLatency records the time from an op reaching its document actor to its acknowledgement.
func (m *Metrics) ApplyLatency(ctx context.Context, engine string, d time.Duration) {
	if m == nil {
		return
	}
	m.applyDuration.Record(ctx, d.Seconds(), m.engine.opt(engine).rec...)
}

// TransformsPerOp records how many concurrent ops an op was rebased over (0 when it was
// submitted at the head).
func (m *Metrics) TransformsPerOp(ctx context.Context, n int) {
	if m == nil {
		return
	}
	m.transforms.Record(ctx, int64(n), m.none.rec...)
}

// StoreAppend records one append call to the storage provider and whether it failed.
func (m *Metrics) StoreAppend(ctx context.Context, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.storeAppend.Record(ctx, d.Seconds(), m.outcomeOpt(err).rec...)
}

// StoreRead records one read call (ops range, head or snapshot) to the storage provider.
func (m *Metrics) StoreRead(ctx context.Context, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.storeRead.Record(ctx, d.Seconds(), m.outcomeOpt(err).rec...)
}

// BackplanePublish records one publish to the backplane.
func (m *Metrics) BackplanePublish(ctx context.Context, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.backplanePublish.Record(ctx, d.Seconds(), m.outcomeOpt(err).rec...)
}

// FanOut records how many peers one op was sent to.
func (m *Metrics) FanOut(ctx context.Context, peers int) {
	if m == nil {
		return
	}
	m.fanOut.Record(ctx, int64(peers), m.none.rec...)
}

// PeersPerDoc records a document's peer count; call it after each join and leave.
func (m *Metrics) PeersPerDoc(ctx context.Context, peers int) {
	if m == nil {
		return
	}
	m.docPeers.Record(ctx, int64(peers), m.none.rec...)
}

// WasmCall counts one call into a WASM module; trapped says it trapped or hit its deadline
// (it then also counts as a trap).
func (m *Metrics) WasmCall(ctx context.Context, plugin string, trapped bool) {
	if m == nil {
		return
	}
	opt := m.plugin.opt(plugin)
	m.wasmCalls.add(opt)
	if trapped {
		m.wasmTraps.Add(ctx, 1, opt.add...)
	}
}

// PluginRestarted counts a plugin restart.
func (m *Metrics) PluginRestarted(ctx context.Context, plugin string) {
	if m == nil {
		return
	}
	m.pluginRestarts.Add(ctx, 1, m.plugin.opt(plugin).add...)
}

// LeaseAcquired counts a document lease this node acquired.
func (m *Metrics) LeaseAcquired(ctx context.Context) {
	if m == nil {
		return
	}
	m.leaseAcquired.Add(ctx, 1, m.none.add...)
}

// LeaseLost counts a document lease this node lost without releasing it (expired, fenced).
func (m *Metrics) LeaseLost(ctx context.Context) {
	if m == nil {
		return
	}
	m.leaseLost.Add(ctx, 1, m.none.add...)
}

// WebhookDelivered counts a webhook event a receiver accepted.
func (m *Metrics) WebhookDelivered(ctx context.Context, endpoint, event string) {
	if m == nil {
		return
	}
	m.webhookDelivered.Add(ctx, 1, m.webhook.opt2(endpoint, event).add...)
}

// WebhookFailed counts a webhook event given up on.
func (m *Metrics) WebhookFailed(ctx context.Context, endpoint, event string) {
	if m == nil {
		return
	}
	m.webhookFailed.Add(ctx, 1, m.webhook.opt2(endpoint, event).add...)
}

// WebhookDropped counts a webhook event dropped before delivery; reason is "queue_full" or
// "shutdown".
func (m *Metrics) WebhookDropped(ctx context.Context, endpoint, reason string) {
	if m == nil {
		return
	}
	m.webhookDropped.Add(ctx, 1, m.dropped.opt2(endpoint, reason).add...)
}

// Gauges are read each time metrics are collected (a /metrics scrape, an OTLP push). Each
// func runs on the collecting goroutine: it must be fast, goroutine-safe and not block on a
// document actor. Nil funcs are not reported.
type Gauges struct {
	// ActiveDocs is the number of documents loaded on this node (doc.Registry.Loaded).
	ActiveDocs func() int64
	// Connections is the number of open client connections.
	Connections func() int64
	// WALBytes is the size of the storage write-ahead log; ok false when there is none.
	WALBytes func() (n int64, ok bool)
	// WebhookQueue is the number of webhook events waiting (webhook.Dispatcher.Queued).
	WebhookQueue func() int64
}

// RegisterGauges registers the gauge callbacks. Unregister the returned registration before
// the things the funcs read are closed.
func (m *Metrics) RegisterGauges(g Gauges) (metric.Registration, error) {
	if m == nil {
		return nil, errors.New("register gauges: no metrics")
	}
	reg, err := m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if g.ActiveDocs != nil {
			o.ObserveInt64(m.activeDocs, g.ActiveDocs())
		}
		if g.Connections != nil {
			o.ObserveInt64(m.connections, g.Connections())
		}
		if g.WALBytes != nil {
			if n, ok := g.WALBytes(); ok {
				o.ObserveInt64(m.walSize, n)
			}
		}
		if g.WebhookQueue != nil {
			o.ObserveInt64(m.webhookQueue, g.WebhookQueue())
		}
		return nil
	}, m.activeDocs, m.connections, m.walSize, m.webhookQueue)
	if err != nil {
		return nil, fmt.Errorf("register gauge callbacks: %w", err)
	}
	return reg, nil
}

// labelCache holds a ready measurement option per label value, so the hot path neither builds
// attribute sets nor allocates; it stops adding values at maxLabelValues.
type labelCache struct {
	key  string
	keys [2]string
	m    sync.Map // string -> *opts
	n    atomic.Int32
}

func (c *labelCache) opt(v string) *opts {
	if o, ok := c.m.Load(v); ok {
		return o.(*opts)
	}
	return c.store(v, func(v string) attribute.Set { return attribute.NewSet(attribute.String(c.key, v)) })
}

func (c *labelCache) opt2(a, b string) *opts {
	k := a + "\x00" + b
	if o, ok := c.m.Load(k); ok {
		return o.(*opts)
	}
	return c.store(k, func(string) attribute.Set {
		return attribute.NewSet(attribute.String(c.keys[0], a), attribute.String(c.keys[1], b))
	})
}

func (c *labelCache) store(k string, set func(string) attribute.Set) *opts {
	if c.n.Load() >= maxLabelValues {
		if o, ok := c.m.Load(OverflowLabel); ok {
			return o.(*opts)
		}
		s := attribute.NewSet(attribute.String(c.key, OverflowLabel))
		if c.key == "" {
			s = attribute.NewSet(attribute.String(c.keys[0], OverflowLabel), attribute.String(c.keys[1], OverflowLabel))
		}
		o, _ := c.m.LoadOrStore(OverflowLabel, newOpts(s))
		return o.(*opts)
	}
	o, loaded := c.m.LoadOrStore(k, newOpts(set(k)))
	if !loaded {
		c.n.Add(1)
	}
	return o.(*opts)
}
