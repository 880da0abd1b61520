// Package bench implements `opstream bench`: a load generator that drives a running server over
// protocol v1 with package client and measures throughput, fan-out latency (submit by one client
// to receipt of that op by another) and ack latency.
//
// Goroutines: one per benchmarked document stream (a writer loop that submits, waits for its ack
// and consumes its own event stream; or a reader loop that consumes events), plus one progress
// ticker, all owned by Run and ended before it returns. The submit timestamps live in a lock-free
// table, one ring per writer stream indexed by seq.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opstream/opstream/client"
	"github.com/opstream/opstream/protocol"
)

// maxSamples bounds the latency samples kept per histogram (reservoir sampling beyond it).
const maxSamples = 1_000_000

// ringSize is how many submits back a receiver can still match to their timestamp.
const ringSize = 1024

// Result is the summary of one run, as printed with --json.
type Result struct {
	Scenario  string  `json:"scenario"`
	Clients   int     `json:"clients"`
	Docs      int     `json:"docs"`
	DurationS float64 `json:"duration_s"`
	Ops       int64   `json:"ops"`
	OpsPerS   float64 `json:"ops_per_s"`
	P50Ms     float64 `json:"p50_ms"`
	P90Ms     float64 `json:"p90_ms"`
	P99Ms     float64 `json:"p99_ms"`
	AckP50Ms  float64 `json:"ack_p50_ms"`
	AckP99Ms  float64 `json:"ack_p99_ms"`
	Errors    int64   `json:"errors"`
}

type config struct {
	addr, scenario, docType, token string
	cpuProfile                     string
	clients, docs, conns           int
	duration                       time.Duration
	json                           bool
}

// Run parses args (the flags after `opstream bench`), runs the scenario until --duration has
// passed or ctx ends, prints a progress line on stderr every second and the summary on stdout
// (one JSON line with --json).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.StringVar(&cfg.addr, "addr", "", "server `HOST:PORT` (required)")
	fs.StringVar(&cfg.scenario, "scenario", "hot", "hot (one document, --clients writers) or docs (--docs documents, one writer and one reader each)")
	fs.IntVar(&cfg.clients, "clients", 10, "hot: clients, each on its own connection")
	fs.IntVar(&cfg.docs, "docs", 200, "docs: documents")
	fs.IntVar(&cfg.conns, "conns", 0, "docs: connections per role; writers (and readers) of all documents are multiplexed over them (zero means min(docs, 16))")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to submit")
	fs.BoolVar(&cfg.json, "json", false, "print the summary as one JSON line")
	fs.StringVar(&cfg.docType, "doc-type", "text", "document type; ops are [\"x\"] (insert x at 0, ot-text-unicode)")
	fs.StringVar(&cfg.token, "token", "", "bearer token")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write the load generator's own CPU profile to `FILE` (to see what the client side costs)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	switch {
	case cfg.addr == "":
		return errors.New("bench: --addr HOST:PORT is required")
	case cfg.scenario != "hot" && cfg.scenario != "docs":
		return fmt.Errorf("bench: --scenario must be hot or docs, not %q", cfg.scenario)
	case cfg.clients < 2 && cfg.scenario == "hot":
		return errors.New("bench: --clients must be at least 2 (fan-out needs a receiver)")
	case cfg.docs < 1:
		return errors.New("bench: --docs must be at least 1")
	case cfg.duration <= 0:
		return errors.New("bench: --duration must be positive")
	}
	if cfg.conns <= 0 {
		cfg.conns = min(cfg.docs, 16)
	}
	cfg.conns = min(cfg.conns, cfg.docs)
	b := &bench{cfg: cfg, start: time.Now(), run: strings.ToLower(rand.Text()[:8]), stderr: stderr}
	defer b.closeConns()
	if cfg.scenario == "hot" {
		if err := b.setupHot(ctx); err != nil {
			return err
		}
	} else {
		if err := b.setupDocs(ctx); err != nil {
			return err
		}
		if !cfg.json {
			fmt.Fprintf(stderr, "bench: %d documents; writers multiplexed over %d connections, readers over %d\n", cfg.docs, cfg.conns, cfg.conns)
		}
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	res := b.measure(ctx)
	if cfg.json {
		line, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("bench: encode result: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", line)
		return err
	}
	_, err := fmt.Fprintf(stdout, "scenario %s: %d clients, %d docs, %.1fs\n"+
		"ops       %d (%.0f/s)\n"+
		"fan-out   p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  (%d samples, %d unmatched)\n"+
		"ack       p50 %.2f ms  p99 %.2f ms\n"+
		"errors    %d\n",
		res.Scenario, res.Clients, res.Docs, res.DurationS, res.Ops, res.OpsPerS,
		res.P50Ms, res.P90Ms, res.P99Ms, b.fanCount, b.unmatched.Load(), res.AckP50Ms, res.AckP99Ms, res.Errors)
	if err == nil && cfg.scenario == "docs" {
		_, err = fmt.Fprintf(stdout, "conns     writers of %d docs multiplexed over %d connections, readers over %d\n", cfg.docs, cfg.conns, cfg.conns)
	}
	return err
}

// source is one writer stream's submit times, indexed by seq modulo ringSize.
type source struct {
	seq [ringSize]atomic.Uint64
	at  [ringSize]atomic.Int64
}

func (s *source) store(seq uint64, at int64) {
	s.at[seq%ringSize].Store(at)
	s.seq[seq%ringSize].Store(seq)
}

func (s *source) load(seq uint64) (int64, bool) {
	if s.seq[seq%ringSize].Load() != seq {
		return 0, false
	}
	return s.at[seq%ringSize].Load(), true
}

// stream is one benchmarked document handle: a writer (submits) or a reader.
type stream struct {
	doc    *client.Doc
	writer bool
	src    *source // writer: its own ring
	// recvSrc finds the ring of an op's author: by doc (docs) or by client id (hot).
	recvSrc func(ev *client.Event) *source
	fan     reservoir
	ack     reservoir
}

type bench struct {
	cfg    config
	start  time.Time
	run    string
	stderr io.Writer

	conns     []*client.Conn
	streams   []*stream
	ops       atomic.Int64
	errors    atomic.Int64
	unmatched atomic.Int64
	fanCount  int64
}

func (b *bench) now() int64 { return int64(time.Since(b.start)) }

func (b *bench) dial(ctx context.Context, id string) (*client.Conn, error) {
	c, err := client.Dial(ctx, "ws://"+b.cfg.addr+"/v1/ws", client.Options{
		Token: b.cfg.token, ClientID: id, Logger: slog.New(slog.DiscardHandler), EventBuffer: 4096,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: connect to %s: %w", b.cfg.addr, err)
	}
	b.conns = append(b.conns, c)
	return c, nil
}

func (b *bench) closeConns() {
	for _, c := range b.conns {
		c.Close()
	}
}

func (b *bench) setupHot(ctx context.Context) error {
	docID := fmt.Sprintf("bench-%s-0", b.run)
	bySrc := make(map[string]*source, b.cfg.clients)
	recv := func(ev *client.Event) *source { return bySrc[ev.ClientID] }
	for i := range b.cfg.clients {
		id := fmt.Sprintf("bench-%s-c%d", b.run, i)
		c, err := b.dial(ctx, id)
		if err != nil {
			return err
		}
		d, err := c.Join(ctx, docID, b.cfg.docType)
		if err != nil {
			return fmt.Errorf("bench: join %s: %w", docID, err)
		}
		src := new(source)
		bySrc[id] = src
		b.streams = append(b.streams, &stream{doc: d, writer: true, src: src, recvSrc: recv})
	}
	return nil
}

func (b *bench) setupDocs(ctx context.Context) error {
	writers := make([]*client.Conn, b.cfg.conns)
	readers := make([]*client.Conn, b.cfg.conns)
	for i := range b.cfg.conns {
		var err error
		if writers[i], err = b.dial(ctx, fmt.Sprintf("bench-%s-w%d", b.run, i)); err != nil {
			return err
		}
		if readers[i], err = b.dial(ctx, fmt.Sprintf("bench-%s-r%d", b.run, i)); err != nil {
			return err
		}
	}
	b.streams = make([]*stream, 2*b.cfg.docs)
	var wg sync.WaitGroup
	errc := make(chan error, 2*b.cfg.conns)
	for ci := range b.cfg.conns {
		for _, role := range []int{0, 1} {
			wg.Go(func() {
				for i := ci; i < b.cfg.docs; i += b.cfg.conns {
					docID := fmt.Sprintf("bench-%s-%d", b.run, i)
					c := writers[ci]
					if role == 1 {
						c = readers[ci]
					}
					d, err := c.Join(ctx, docID, b.cfg.docType)
					if err != nil {
						errc <- fmt.Errorf("bench: join %s: %w", docID, err)
						return
					}
					b.streams[2*i+role] = &stream{doc: d, writer: role == 0}
				}
			})
		}
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	for i := range b.cfg.docs {
		src := new(source)
		w, r := b.streams[2*i], b.streams[2*i+1]
		w.src = src
		own := func(*client.Event) *source { return src }
		w.recvSrc, r.recvSrc = own, own
	}
	return nil
}

// measure runs every stream until the duration ends and gathers the result.
func (b *bench) measure(ctx context.Context) Result {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.duration)
	defer cancel()
	per := max(maxSamples/len(b.streams), 1000)
	var wg sync.WaitGroup
	t0 := time.Now()
	for _, s := range b.streams {
		s.fan.limit, s.ack.limit = per, per
		wg.Go(func() {
			if s.writer {
				b.write(ctx, s)
			} else {
				b.read(ctx, s)
			}
		})
	}
	wg.Go(func() { b.progress(ctx, t0) })
	wg.Wait()
	elapsed := time.Since(t0).Seconds()

	var fan, ack []int64
	for _, s := range b.streams {
		fan = append(fan, s.fan.samples...)
		ack = append(ack, s.ack.samples...)
		b.fanCount += s.fan.seen
	}
	slices.Sort(fan)
	slices.Sort(ack)
	ops := b.ops.Load()
	res := Result{
		Scenario: b.cfg.scenario, Clients: len(b.conns), Docs: b.cfg.docs, DurationS: round(elapsed, 3),
		Ops: ops, OpsPerS: round(float64(ops)/elapsed, 1),
		P50Ms: pct(fan, 0.50), P90Ms: pct(fan, 0.90), P99Ms: pct(fan, 0.99),
		AckP50Ms: pct(ack, 0.50), AckP99Ms: pct(ack, 0.99), Errors: b.errors.Load(),
	}
	if b.cfg.scenario == "hot" {
		res.Docs = 1
	}
	return res
}

func (b *bench) progress(ctx context.Context, t0 time.Time) {
	if b.cfg.json {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			ops := b.ops.Load()
			el := time.Since(t0).Seconds()
			fmt.Fprintf(b.stderr, "bench: %4.0fs  ops %d  %.0f ops/s (last second %d)  errors %d\n", el, ops, float64(ops)/el, ops-last, b.errors.Load())
			last = ops
		}
	}
}

var opX = json.RawMessage(`["x"]`)

// write submits ["x"] against the latest known revision and waits for its ack, consuming the
// document's events meanwhile (other writers' ops count as fan-out receipts).
func (b *bench) write(ctx context.Context, s *stream) {
	var seq uint64
	for ctx.Err() == nil {
		seq++
		at := b.now()
		s.src.store(seq, at)
		p, err := s.doc.SubmitAsync(opX, s.doc.Revision())
		if err != nil {
			b.errors.Add(1)
			return
		}
		if p.Seq != seq { // another submitter on this document: timestamps would be wrong
			b.errors.Add(1)
			return
		}
		if !b.await(ctx, s, seq, at) {
			return
		}
	}
}

// await consumes s's events until the ack (or rejection) of seq; false means stop.
func (b *bench) await(ctx context.Context, s *stream, seq uint64, at int64) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case ev, ok := <-s.doc.Events():
			if !ok {
				b.errors.Add(1)
				return false
			}
			switch ev.Kind {
			case client.EventOp:
				b.receipt(s, &ev)
			case client.EventAck:
				if ev.Seq == seq {
					s.ack.add(b.now() - at)
					b.ops.Add(1)
					return true
				}
			case client.EventReject:
				b.errors.Add(1)
				var perr *protocol.Error
				if errors.As(ev.Err, &perr) && perr.Code == protocol.CodeRateLimited {
					time.Sleep(10 * time.Millisecond)
				}
				if ev.Seq == seq {
					return true
				}
			case client.EventReload:
				b.errors.Add(1)
			}
		}
	}
}

func (b *bench) read(ctx context.Context, s *stream) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-s.doc.Events():
			if !ok {
				b.errors.Add(1)
				return
			}
			if ev.Kind == client.EventOp {
				b.receipt(s, &ev)
			}
		}
	}
}

func (b *bench) receipt(s *stream, ev *client.Event) {
	src := s.recvSrc(ev)
	if src == nil {
		b.unmatched.Add(1)
		return
	}
	at, ok := src.load(ev.Seq)
	if !ok {
		b.unmatched.Add(1)
		return
	}
	s.fan.add(b.now() - at)
}

// reservoir keeps at most limit samples, uniformly chosen from all it saw (algorithm R).
type reservoir struct {
	limit   int
	seen    int64
	samples []int64
}

func (r *reservoir) add(v int64) {
	r.seen++
	if len(r.samples) < r.limit {
		r.samples = append(r.samples, v)
		return
	}
	if j := mathrand.Int64N(r.seen); j < int64(r.limit) {
		r.samples[j] = v
	}
}

// pct returns the q-quantile of sorted nanosecond samples in milliseconds.
func pct(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(int(q*float64(len(sorted))), len(sorted)-1)
	return round(float64(sorted[i])/1e6, 3)
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}
