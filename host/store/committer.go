// Package store sits between documents and the storage provider: the group committer that turns
// the appends of many documents into one provider call, and the supervision of the provider.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/pluginsdk/storage"
)

// Appender is the part of a provider the committer uses.
type Appender interface {
	Append(ctx context.Context, req *storage.AppendRequest) (*storage.AppendResponse, error)
}

// CommitterConfig tunes group commit. Zero fields take the defaults in their comments.
type CommitterConfig struct {
	// MaxBatchOps bounds the ops in one provider call; zero means 2000.
	MaxBatchOps int
	// MaxBatchBytes bounds the op bytes in one provider call; zero means 8 MiB.
	MaxBatchBytes int
	// Timeout bounds one provider call; zero means 10s.
	Timeout time.Duration
	// Metrics receives each provider call's latency; nil means none.
	Metrics *telemetry.Metrics
	// Linger bounds how long a call waits for more appends when fewer are queued than the
	// writers of the last two calls: clients that wait for their ack resubmit together right
	// after it, and one call for all of them costs one fsync and one round trip instead of
	// several. The wait is also bounded by the last call's duration. Zero means 1ms; negative
	// turns lingering off. A committer with a call in flight does not linger.
	Linger time.Duration
	// InFlight bounds the provider calls in flight when the provider is a
	// storage.AsyncAppender (it commits calls in order and answers each once durable, so the
	// next call's commit overlaps the last one's fsync). Zero means 2; 1 keeps one call at a time.
	InFlight int
}

type job struct {
	a    storage.Append
	done func(storage.AppendResult)
}

// Committer group-commits appends: while one provider call is in flight, the appends that
// arrive queue up and go together in the next call, so the number of round trips per second
// stays flat as load grows. One call is in flight at a time, which keeps every document's
// appends in order.
type Committer struct {
	p   Appender
	cfg CommitterConfig
	log *slog.Logger

	mu       sync.Mutex
	queue    []job
	queueOps int // ops in queue
	closed   bool
	// The writers (client ids) of the last two calls, and the last call's duration, for
	// linger.
	writers, prevWriters map[string]struct{}
	lastTook             time.Duration
	wake                 chan struct{}
	done                 chan struct{}
	// Pipelined: the provider's async side and the calls in flight (guarded by mu).
	async    storage.AsyncAppender
	inFlight int
}

// ErrCommitterClosed fails appends enqueued after Close.
var ErrCommitterClosed = errors.New("store: committer closed")

// NewCommitter starts a committer over p. Close stops it.
func NewCommitter(p Appender, cfg CommitterConfig, log *slog.Logger) *Committer {
	if cfg.MaxBatchOps <= 0 {
		cfg.MaxBatchOps = 2000
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = 8 << 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Linger == 0 {
		cfg.Linger = time.Millisecond
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 2
	}
	c := &Committer{p: p, cfg: cfg, log: log.With("component", "committer"), wake: make(chan struct{}, 1), done: make(chan struct{})}
	if a, ok := p.(storage.AsyncAppender); ok && cfg.InFlight > 1 {
		c.async = a
		go c.runPipelined()
	} else {
		go c.run()
	}
	return c
}

// Enqueue queues an append; done is called exactly once with its result. It never blocks.
func (c *Committer) Enqueue(a storage.Append, done func(storage.AppendResult)) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		done(storage.AppendResult{Err: ErrCommitterClosed})
		return
	}
	c.queue = append(c.queue, job{a: a, done: done})
	c.queueOps += len(a.Ops)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// take removes the next batch from the queue: at most one append per document (a document's
// consecutive appends are merged), within the size bounds.
func (c *Committer) take() ([]storage.Append, [][]job) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return nil, nil
	}
	var (
		appends []storage.Append
		groups  [][]job
		index   = make(map[storage.DocKey]int)
		ops     int
		bytes   int
		n       int
	)
	for n < len(c.queue) {
		j := c.queue[n]
		size := 0
		for _, op := range j.a.Ops {
			size += len(op.Data)
		}
		if len(appends) > 0 && (ops+len(j.a.Ops) > c.cfg.MaxBatchOps || bytes+size > c.cfg.MaxBatchBytes) {
			break
		}
		if i, ok := index[j.a.Doc]; ok {
			prev := &appends[i]
			last := prev.ExpectedRevision + int64(len(prev.Ops))
			if j.a.ExpectedRevision != last {
				break // not a continuation: leave it for the next call
			}
			prev.Ops = append(prev.Ops, j.a.Ops...)
			groups[i] = append(groups[i], j)
		} else {
			index[j.a.Doc] = len(appends)
			a := j.a
			a.Ops = append([]storage.Op(nil), j.a.Ops...)
			appends = append(appends, a)
			groups = append(groups, []job{j})
		}
		ops += len(j.a.Ops)
		bytes += size
		n++
	}
	c.queue = append(c.queue[:0:0], c.queue[n:]...)
	c.queueOps -= ops
	return appends, groups
}

// linger holds a batch back until every writer seen in the last two calls has an append
// queued, or for at most the last call's duration (capped by cfg.Linger). Clients that wait
// for their ack before sending the next op come back one turnaround (ack out, op in) after the
// call that acked them; not waiting for them splits them into groups that alternate between
// calls, each group then waiting for the other's call as well as its own. Waiting up to one
// call's duration costs a group at most what the split would, and the merged call carries
// twice the ops for one fsync and round trip. Measured on the hot-document benchmark (10
// clients): half a call's duration (the first bound) timed out just before most clients were
// back; a whole one gave 8-15% more acked ops per second and 10-20% less CPU per op in the
// server, the storage plugin and the load generator.
func (c *Committer) linger() {
	c.mu.Lock()
	target := len(c.writers)
	for w := range c.prevWriters {
		if _, ok := c.writers[w]; !ok {
			target++
		}
	}
	lastTook := c.lastTook
	c.mu.Unlock()
	if c.cfg.Linger < 0 || target < 2 {
		return
	}
	wait := min(c.cfg.Linger, lastTook)
	if wait <= 0 {
		return
	}
	deadline := time.Now().Add(wait)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c.mu.Lock()
		enough := c.queueOps >= target || c.closed
		c.mu.Unlock()
		left := time.Until(deadline)
		if enough || left <= 0 {
			return
		}
		if timer == nil {
			timer = time.NewTimer(left)
		}
		select {
		case <-c.wake:
		case <-timer.C:
			return
		}
	}
}

func (c *Committer) run() {
	defer close(c.done)
	for {
		c.linger()
		appends, groups := c.take()
		if appends == nil {
			c.mu.Lock()
			closed := c.closed && len(c.queue) == 0
			c.mu.Unlock()
			if closed {
				return
			}
			<-c.wake
			continue
		}
		c.commit(appends, groups)
	}
}

// pipelineMinOps is how many ops must be queued to start a call while another is in flight:
// below it, waiting for the call in flight and sending one larger call costs less (a call has
// a fixed cost in both processes and an fsync) and is about as fast.
const pipelineMinOps = 16

// runPipelined keeps up to cfg.InFlight calls in flight when enough ops queue up (see
// pipelineMinOps); with none in flight it behaves like run, linger included. The provider
// commits the calls in the order they are made.
func (c *Committer) runPipelined() {
	defer close(c.done)
	for {
		c.mu.Lock()
		inFlight, queued, queuedOps, closed := c.inFlight, len(c.queue), c.queueOps, c.closed
		c.mu.Unlock()
		if closed && queued == 0 && inFlight == 0 {
			return
		}
		switch {
		case queued == 0 || inFlight >= c.cfg.InFlight || inFlight > 0 && queuedOps < pipelineMinOps && !closed:
			<-c.wake
			continue
		case inFlight == 0:
			c.linger()
		}
		appends, groups := c.take()
		if appends == nil {
			continue
		}
		c.mu.Lock()
		c.inFlight++
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
		start := time.Now()
		c.async.AppendAsync(ctx, &storage.AppendRequest{Appends: appends}, func(resp *storage.AppendResponse, err error) {
			took := time.Since(start)
			c.cfg.Metrics.StoreAppend(ctx, took, err)
			cancel()
			c.noteCall(appends, took)
			c.deliver(appends, groups, resp, err)
			c.mu.Lock()
			c.inFlight--
			c.mu.Unlock()
			select {
			case c.wake <- struct{}{}:
			default:
			}
		})
	}
}

func (c *Committer) commit(appends []storage.Append, groups [][]job) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	start := time.Now()
	resp, err := c.p.Append(ctx, &storage.AppendRequest{Appends: appends})
	took := time.Since(start)
	c.cfg.Metrics.StoreAppend(ctx, took, err)
	c.noteCall(appends, took)
	cancel()
	c.deliver(appends, groups, resp, err)
}

// noteCall records a call's duration and writers, for linger.
func (c *Committer) noteCall(appends []storage.Append, took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastTook = took
	c.prevWriters, c.writers = c.writers, make(map[string]struct{}, len(c.writers))
	for _, a := range appends {
		for _, op := range a.Ops {
			c.writers[a.Doc.Tenant+"\x00"+a.Doc.ID+"\x00"+op.ClientID] = struct{}{}
		}
	}
}

// deliver hands a call's results to the appends it carried.
func (c *Committer) deliver(appends []storage.Append, groups [][]job, resp *storage.AppendResponse, err error) {
	if err == nil && len(resp.Results) != len(appends) {
		err = fmt.Errorf("provider answered %d results for %d appends", len(resp.Results), len(appends))
	}
	for i, g := range groups {
		var res storage.AppendResult
		if err != nil {
			res.Err = fmt.Errorf("append batch: %w", err)
		} else {
			res = resp.Results[i]
		}
		if errors.Is(res.Err, storage.ErrFenced) {
			// Seen here as well as by the document, which may have been evicted meanwhile.
			c.log.Warn("append fenced: a newer owner of the document appended first", "doc", appends[i].Doc.String(), "epoch", appends[i].Epoch)
		}
		for _, j := range g {
			j.done(res)
		}
	}
	if err != nil {
		c.log.Warn("append batch failed", "appends", len(appends), "err", err)
	}
}

// Close stops taking appends, commits what is queued and returns when done or ctx ends.
func (c *Committer) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close committer: %w", ctx.Err())
	}
}
