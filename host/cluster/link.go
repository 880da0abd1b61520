package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"
	"unsafe"

	"github.com/opstream/opstream/host/backplane"
	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/protocol"
)

// link sends frames to one node: callers queue without blocking, one goroutine publishes the
// queue in batches, so frames arrive in the order they were queued and a burst costs one
// publish. The queue is bounded in bytes for peer messages (a full queue makes the actor drop
// the peer as a slow consumer); requests and replies are always queued.
type link struct {
	r    *Router
	node string

	mu      sync.Mutex
	q       []frame
	bytes   int
	seq     uint64
	signal  chan struct{}
	stopped bool
}

func newLink(r *Router, node string) *link {
	return &link{r: r, node: node, signal: make(chan struct{}, 1)}
}

func (l *link) push(f frame) {
	f.size = 64 + len(f.Msg) + len(f.Doc)
	if f.Submit != nil {
		f.size += len(f.Submit.Op)
	}
	l.mu.Lock()
	l.q = append(l.q, f)
	l.bytes += f.size
	l.mu.Unlock()
	l.wake()
}

// pushPeerMsg queues msg for a peer; consecutive copies of the same message for one document
// (a broadcast) share one frame. It reports false when the queue is over its bound.
func (l *link) pushPeerMsg(tenant, doc, peer string, msg []byte) bool {
	l.mu.Lock()
	if l.bytes > l.r.cfg.LinkQueueBytes {
		l.mu.Unlock()
		return false
	}
	if n := len(l.q); n > 0 {
		last := &l.q[n-1]
		if last.Kind == kPeerMsg && last.Doc == doc && last.Tenant == tenant && sameBytes(last.Msg, msg) {
			last.Peers = append(last.Peers, peer)
			l.mu.Unlock()
			return true
		}
	}
	f := frame{Kind: kPeerMsg, Tenant: tenant, Doc: doc, Peers: []string{peer}, Msg: msg, size: 64 + len(msg)}
	l.q = append(l.q, f)
	l.bytes += f.size
	l.mu.Unlock()
	l.wake()
	return true
}

func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || unsafe.SliceData(a) == unsafe.SliceData(b))
}

func (l *link) wake() {
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// maxBatchBytes bounds one published batch.
const maxBatchBytes = 1 << 20

// run publishes until ctx ends.
func (l *link) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.signal:
		}
		for {
			l.mu.Lock()
			if len(l.q) == 0 {
				l.mu.Unlock()
				break
			}
			n, size := 0, 0
			for n < len(l.q) && (n == 0 || size+l.q[n].size <= maxBatchBytes) {
				size += l.q[n].size
				n++
			}
			frames := l.q[:n:n]
			l.q = l.q[n:]
			l.bytes -= size
			if len(l.q) == 0 {
				l.q = nil
			}
			l.seq++
			b := batch{From: l.r.self, Seq: l.seq, Frames: frames}
			l.mu.Unlock()
			payload, err := json.Marshal(&b)
			if err != nil {
				l.r.log.Error("encode batch", "node", l.node, "err", err)
				endSpans(frames, err)
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, l.r.cfg.ForwardTimeout)
			start := time.Now()
			err = l.r.bp.Publish(pctx, l.node, payload)
			cancel()
			l.r.observePublish(time.Since(start), err)
			endSpans(frames, err)
			if errors.Is(err, backplane.ErrNoSubscriber) {
				// Nobody reads that node's channel: its requests fail now rather than at their
				// timeout, and the owner is looked up again.
				l.r.failPending(func(p *pendingReq) bool { return p.node == l.node })
			}
			if err != nil && ctx.Err() == nil {
				// The receiver sees the gap in sequence numbers and resets; requests in the
				// batch time out at their sender.
				l.r.log.Warn("publish to node failed", "node", l.node, "frames", len(frames), "err", err)
			}
		}
	}
}

// endSpans ends the publish spans of traced frames once their batch was published (or not).
func endSpans(frames []frame, err error) {
	for i := range frames {
		if sp := frames[i].span; sp != nil {
			if err != nil {
				telemetry.SetStatus(sp, string(protocol.CodeUnavailable), err)
			}
			sp.End()
			frames[i].span = nil
		}
	}
}
