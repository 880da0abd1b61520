package sqlite

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// syncItem is a committed (or failed) request waiting for the fsync that makes it durable.
type syncItem struct {
	done      func(*storage.AppendResponse, error)
	resp      *storage.AppendResponse
	err       error
	committed []committed
	seq       int64 // the last log seq it wrote
}

// syncQueue hands committed requests from AppendAsync (in commit order) to the syncer.
type syncQueue struct {
	mu     sync.Mutex
	items  []syncItem
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

func (q *syncQueue) push(it syncItem) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		it.done(nil, fmt.Errorf("sqlite: closed: %w", storage.ErrUnavailable))
		return
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take waits for items; ok is false once the queue is closed and drained.
func (q *syncQueue) take() (items []syncItem, ok bool) {
	for {
		q.mu.Lock()
		items, q.items = q.items, nil
		closed := q.closed
		q.mu.Unlock()
		if len(items) > 0 {
			return items, true
		}
		if closed {
			return nil, false
		}
		<-q.wake
	}
}

// close stops the syncer once it has answered everything queued, and waits for it.
func (q *syncQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	<-q.done
}

// syncer answers committed requests: one fsync of the log's WAL covers everything committed
// before it started, so while it runs the next requests commit and wait for the next one.
func (st *state) syncer() {
	defer close(st.sync.done)
	for {
		items, ok := st.sync.take()
		if !ok {
			return
		}
		var last int64
		for _, it := range items {
			if it.err == nil && len(it.committed) > 0 {
				last = max(last, it.seq)
			}
		}
		var syncErr error
		if last > 0 && st.cfg.Synchronous == "full" {
			syncErr = st.syncLog()
		}
		if syncErr == nil && last > 0 {
			// Linux reports a failed write-back to one fsync only: if a seal's or a delete's
			// fsync got it (the provider is broken then), this one may succeed over lost pages.
			st.wmu.Lock()
			broken := st.broken
			st.wmu.Unlock()
			if broken != nil {
				failItems(items, broken)
				continue
			}
		}
		if syncErr != nil {
			// What is in the log may not be on disk, and the heads in memory have moved past
			// it: refuse everything from now on; a restart recovers from what the disk holds.
			syncErr = fmt.Errorf("sqlite: fsync of the op log failed, restart the provider: %w: %w", syncErr, storage.ErrUnavailable)
			st.logger.Error("fsync failed; appends refused until restart", "err", syncErr)
			st.wmu.Lock()
			st.broken = syncErr
			st.wmu.Unlock()
			failItems(items, syncErr)
			continue
		}
		if last > 0 {
			st.mu.Lock()
			for _, it := range items {
				if it.err != nil {
					continue
				}
				for _, c := range it.committed {
					c.ds.durable = max(c.ds.durable, c.rev)
				}
			}
			st.mu.Unlock()
		}
		for _, it := range items {
			it.done(it.resp, it.err)
		}
	}
}

// failItems answers every item with its own error, or err.
func failItems(items []syncItem, err error) {
	for _, it := range items {
		if it.err != nil {
			it.done(nil, it.err)
		} else {
			it.done(nil, err)
		}
	}
}

// syncLog fsyncs the op log's current segment. A segment that compaction sealed and closed
// meanwhile was fsynced whole when sealed.
func (st *state) syncLog() error {
	cur := st.seg.Load()
	if cur == nil {
		return nil
	}
	err := cur.f.Sync()
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}
