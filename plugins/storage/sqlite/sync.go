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
			syncErr = st.syncWAL()
		}
		if syncErr != nil {
			// What is in the log may not be on disk, and the heads in memory have moved past
			// it: refuse everything from now on; a restart recovers from what the disk holds.
			syncErr = fmt.Errorf("sqlite: fsync of the op log failed, restart the provider: %w: %w", syncErr, storage.ErrUnavailable)
			st.logger.Error("fsync failed; appends refused until restart", "err", syncErr)
			st.wmu.Lock()
			st.broken = syncErr
			st.wmu.Unlock()
			for _, it := range items {
				if it.err != nil {
					it.done(nil, it.err)
				} else {
					it.done(nil, syncErr)
				}
			}
			continue
		}
		if last > 0 {
			st.mu.Lock()
			for _, it := range items {
				if it.err != nil {
					continue
				}
				for _, c := range it.committed {
					if ds := st.docs[c.k]; ds != nil {
						ds.durable = max(ds.durable, c.rev)
					}
				}
			}
			st.durableSeq = max(st.durableSeq, last)
			st.mu.Unlock()
		}
		for _, it := range items {
			it.done(it.resp, it.err)
		}
	}
}

// syncWAL fsyncs the log file's WAL, where committed transactions are in synchronous=NORMAL
// mode. The WAL stays the same file while the provider's connection is open; should SQLite have
// replaced or removed it, the file is reopened (a removed WAL was checkpointed into the
// database file, which is synced then).
func (st *state) syncWAL() error {
	path := st.cfg.logPath() + "-wal"
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return syncFile(st.cfg.logPath())
	case err != nil:
		return err
	}
	if st.wal == nil || !os.SameFile(fi, st.walInfo) {
		if st.wal != nil {
			st.wal.Close()
			st.wal = nil
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		st.wal, st.walInfo = f, fi
	}
	return st.wal.Sync()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
