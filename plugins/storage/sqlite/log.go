package sqlite

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// maxCachedDocs is how many document heads stay in memory before compaction forgets the heads
// of documents that have nothing waiting in the log (they are read back from the main database
// on their next append).
const maxCachedDocs = 100_000

// docState is what the provider knows about one document beyond the main database: its head and
// its ops still in the log file. Guarded by state.mu.
type docState struct {
	typ string
	// rev is the revision appends continue from; durable the revision readers see, which the
	// syncer moves up once the fsync covering the ops in between returned.
	rev, durable int64
	epoch        uint64
	// tail holds the ops in the log file, in revision order, none of them in the main database
	// yet. Only appends extend it and only compaction shortens it (from the front).
	tail []logOp
}

type logOp struct {
	seq int64
	op  storage.Op
}

// head is a document's head as an append sees it.
type head struct {
	typ    string
	rev    int64
	epoch  uint64
	exists bool
}

// headOf returns a document's head from memory, else from the main database. Called with wmu
// held (nothing else changes heads then).
func (st *state) headOf(ctx context.Context, k storage.DocKey) (head, error) {
	st.mu.RLock()
	ds := st.docs[k]
	var h head
	if ds != nil {
		h = head{typ: ds.typ, rev: ds.rev, epoch: ds.epoch, exists: true}
	}
	st.mu.RUnlock()
	if ds != nil {
		return h, nil
	}
	var epoch int64
	err := st.stmts.head.QueryRowContext(ctx, k.Tenant, k.ID).Scan(&h.typ, &h.rev, &epoch)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return head{}, nil
	case err != nil:
		return head{}, dbErr(ctx, "append: read head of "+k.String(), err)
	}
	h.epoch, h.exists = uint64(epoch), true
	return h, nil
}

// Append implements storage.Provider through AppendAsync, waiting for durability.
func (p *Provider) Append(ctx context.Context, req *storage.AppendRequest) (*storage.AppendResponse, error) {
	type result struct {
		resp *storage.AppendResponse
		err  error
	}
	ch := make(chan result, 1)
	p.AppendAsync(ctx, req, func(resp *storage.AppendResponse, err error) { ch <- result{resp, err} })
	r := <-ch
	return r.resp, r.err
}

// AppendAsync implements storage.AsyncAppender: the whole request is one transaction on the log
// file, checked against the heads in memory, which move once it committed; the syncer answers
// it after the fsync that covers it, one fsync for every request committed meanwhile.
func (p *Provider) AppendAsync(ctx context.Context, req *storage.AppendRequest, done func(*storage.AppendResponse, error)) {
	st, err := p.state()
	if err != nil {
		done(nil, err)
		return
	}
	st.wmu.Lock()
	defer st.wmu.Unlock()
	item := syncItem{done: done}
	item.resp, item.committed, item.err = st.commit(ctx, req)
	item.seq = st.nextSeq - 1
	if item.err == nil && st.broken != nil {
		item.err = st.broken
	}
	st.sync.push(item)
}

// committed is an append whose ops are in the log file, not yet known durable. ds is the
// document's state it moved: a delete (and a new document of the same key) may replace it in
// state.docs before the fsync returns, and the new one's head must not move then.
type committed struct {
	ds  *docState
	rev int64
}

// commit writes a request's accepted appends to the log file in one transaction and moves their
// heads. Called with wmu held.
func (st *state) commit(ctx context.Context, req *storage.AppendRequest) (*storage.AppendResponse, []committed, error) {
	if st.closed {
		return nil, nil, fmt.Errorf("sqlite: closed: %w", storage.ErrUnavailable)
	}
	if st.broken != nil {
		return nil, nil, st.broken
	}
	if err := st.backlog(); err != nil {
		return nil, nil, err
	}
	errs := storage.ValidateRequest(req)
	resp := &storage.AppendResponse{Results: make([]storage.AppendResult, len(req.Appends))}
	type accepted struct {
		a     *storage.Append
		h     head
		first int64 // seq of its first op
	}
	var (
		acc []accepted
		seq = st.nextSeq
		buf = st.wbuf[:0]
	)
	for i := range req.Appends {
		a := &req.Appends[i]
		res := &resp.Results[i]
		if errs[i] != nil {
			res.Err = errs[i]
			continue
		}
		h, err := st.headOf(ctx, a.Doc)
		if err != nil {
			return nil, nil, err
		}
		res.Revision = h.rev
		switch {
		case h.exists && a.Epoch < h.epoch:
			res.Err = fmt.Errorf("append %s: epoch %d < %d: %w", a.Doc, a.Epoch, h.epoch, storage.ErrFenced)
			continue
		case h.rev != a.ExpectedRevision:
			res.Err = fmt.Errorf("append %s: at revision %d, expected %d: %w", a.Doc, h.rev, a.ExpectedRevision, storage.ErrConflict)
			continue
		}
		if !h.exists {
			h.typ = a.Type
		}
		acc = append(acc, accepted{a: a, h: h, first: seq})
		for j := range a.Ops {
			buf = appendOpRecord(buf, seq, a.Doc, h.typ, max(h.epoch, a.Epoch), &a.Ops[j])
			seq++
		}
		res.Revision = a.ExpectedRevision + int64(len(a.Ops))
	}
	if len(acc) == 0 {
		return resp, nil, nil
	}
	if cap(buf) <= 1<<20 {
		st.wbuf = buf
	}
	if err := st.writeLog(buf); err != nil {
		return nil, nil, err
	}
	st.nextSeq = seq

	done := make([]committed, 0, len(acc))
	st.mu.Lock()
	for _, x := range acc {
		ds := st.docs[x.a.Doc]
		if ds == nil {
			ds = &docState{typ: x.h.typ, durable: x.h.rev}
			st.docs[x.a.Doc] = ds
		}
		ds.rev = x.a.ExpectedRevision + int64(len(x.a.Ops))
		ds.epoch = max(x.h.epoch, x.a.Epoch)
		for j, op := range x.a.Ops {
			ds.tail = append(ds.tail, logOp{seq: x.first + int64(j), op: op})
			st.tailBytes += len(op.Data)
		}
		st.tailOps += len(x.a.Ops)
		done = append(done, committed{ds: ds, rev: ds.rev})
	}
	if st.tailSince.IsZero() {
		st.tailSince = time.Now()
	}
	full := st.tailOps >= st.cfg.CompactOps || st.tailBytes >= compactBytes
	st.mu.Unlock()
	if full {
		select {
		case st.kick <- struct{}{}:
		default:
		}
	}
	return resp, done, nil
}

// compactBytes moves the log once this much op data waits in it, whatever CompactOps says.
const compactBytes = 32 << 20

// maxTailBytes is how much op data may wait in the log (and in memory) before appends are
// refused: compaction is failing or far behind.
const maxTailBytes = 8 * compactBytes

// backlog refuses appends while too much waits to be compacted.
func (st *state) backlog() error {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if st.tailBytes > maxTailBytes {
		return fmt.Errorf("sqlite: %d MiB of ops wait to move into the main database (compaction failing or behind): %w",
			st.tailBytes>>20, storage.ErrUnavailable)
	}
	return nil
}

// compactor runs compactions until stop closes.
func (st *state) compactor() {
	defer close(st.done)
	interval := time.Duration(st.cfg.CompactIntervalMs) * time.Millisecond
	tick := time.NewTicker(max(interval/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-st.stop:
			return
		case <-st.kick:
		case <-tick.C:
			st.mu.RLock()
			due := !st.tailSince.IsZero() && time.Since(st.tailSince) >= interval ||
				!st.snapsSince.IsZero() && time.Since(st.snapsSince) >= interval
			st.mu.RUnlock()
			if !due {
				continue
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := st.compact(ctx, false); err != nil {
			st.logf("compaction failed (retried later): %v", err)
		}
		cancel()
	}
}

// pending is one document's ops to move into the main database.
type pending struct {
	k     storage.DocKey
	ds    *docState
	typ   string
	epoch uint64
	ops   []logOp
}

// compact seals the op log's current segment (unless it is empty), moves every op in the
// sealed segments into the main database and removes those segments. With final set (at close)
// no new segment is started: appends are over.
func (st *state) compact(ctx context.Context, final bool) error {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	cut, err := st.seal(final)
	if err != nil {
		return err
	}
	// The pending snapshots stay in memory (Load serves them from there) until the
	// transaction that writes them committed.
	st.mu.Lock()
	snaps := maps.Clone(st.snaps)
	st.mu.Unlock()
	if len(st.sealed) == 0 && len(snaps) == 0 {
		return nil
	}
	st.mu.RLock()
	var work []pending
	for k, ds := range st.docs {
		n := 0
		for n < len(ds.tail) && ds.tail[n].seq <= cut {
			n++
		}
		if n == 0 {
			continue
		}
		work = append(work, pending{k: k, ds: ds, typ: ds.typ, epoch: ds.epoch, ops: ds.tail[:n:n]})
	}
	st.mu.RUnlock()
	if err := st.moveToMain(ctx, work, snaps); err != nil {
		st.mu.Lock()
		if len(st.snaps) > 0 {
			st.snapsSince = time.Now() // retried later
		}
		st.mu.Unlock()
		return err
	}
	st.mu.Lock()
	// Forget the snapshots written, unless newer ones came meanwhile.
	for k, ps := range snaps {
		if cur, ok := st.snaps[k]; ok && cur.gen == ps.gen {
			delete(st.snaps, k)
		}
	}
	st.snapsSince = time.Time{}
	if len(st.snaps) > 0 {
		st.snapsSince = time.Now()
	}
	for _, w := range work {
		if st.docs[w.k] != w.ds {
			continue // deleted meanwhile
		}
		n := len(w.ops)
		for _, o := range w.ds.tail[:n] {
			st.tailBytes -= len(o.op.Data)
		}
		st.tailOps -= n
		if n == len(w.ds.tail) {
			w.ds.tail = nil
		} else {
			w.ds.tail = slices.Clone(w.ds.tail[n:])
		}
	}
	st.tailSince = time.Time{}
	if st.tailOps > 0 {
		st.tailSince = time.Now()
	}
	if len(st.docs) > maxCachedDocs {
		for k, ds := range st.docs {
			if len(ds.tail) == 0 && ds.durable == ds.rev {
				delete(st.docs, k)
			}
		}
	}
	st.mu.Unlock()
	return st.removeSealed()
}

// seal makes the current segment durable and starts the next one (none when final), so that
// everything up to the returned seq is in sealed segments. Called with cmu held.
func (st *state) seal(final bool) (cut int64, err error) {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	cut = st.nextSeq - 1
	cur := st.seg.Load()
	if cur == nil || cur.size == 0 && !final {
		return cut, nil
	}
	if st.broken != nil {
		// The segment's end may be torn (a write that could not be undone): it stays the last
		// one, where recovery expects a torn record, until a restart.
		return 0, st.broken
	}
	if err := cur.f.Sync(); err != nil {
		err = fmt.Errorf("sqlite: fsync of the op log failed, restart the provider: %w: %w", err, storage.ErrUnavailable)
		st.broken = err
		return 0, err
	}
	var next *segment
	if !final {
		if next, err = createSegment(st.cfg, cur.n+1); err != nil {
			// Appends go on in this segment (still open); compaction tries again later.
			return 0, err
		}
	}
	// Nothing writes to it any more and it is on disk: close it now (the syncer, should it
	// still fsync it, takes a closed segment as synced), so failing compactions keep no files
	// open.
	cur.f.Close()
	st.sealed = append(st.sealed, cur)
	st.seg.Store(next)
	return cut, nil
}

// removeSealed removes the sealed segments, whose ops are all in the main database now, and
// syncs the directory so that a crash does not bring them back (that would be harmless for
// ops, INSERT OR IGNORE, but could undo a later delete's tombstone order). Called with cmu held.
func (st *state) removeSealed() error {
	for len(st.sealed) > 0 {
		// Oldest first, each removal made durable before the next: a crash never brings back
		// an older segment without the newer ones (and their tombstones).
		if err := os.Remove(st.sealed[0].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("compact: remove op log segment: %w", err)
		}
		if err := syncDir(filepath.Dir(st.cfg.Path)); err != nil {
			return err
		}
		st.sealed = st.sealed[1:]
	}
	st.sealed = nil
	return nil
}

// writeLog appends encoded records to the current segment. Called with wmu held. A failed
// write (a full disk) is cut off again so that the segment ends with whole records, and the
// request fails with ErrUnavailable; should that fail too, the segment's end is unknown and
// appends are refused from then on (a record after a torn one would be lost at recovery).
func (st *state) writeLog(b []byte) error {
	cur := st.seg.Load()
	if cur == nil {
		return fmt.Errorf("sqlite: closed: %w", storage.ErrUnavailable)
	}
	n, err := cur.f.Write(b)
	if err == nil {
		cur.size += int64(n)
		return nil
	}
	if n == 0 {
		return fmt.Errorf("sqlite: write to the op log: %w: %w", err, storage.ErrUnavailable)
	}
	if terr := cur.f.Truncate(cur.size); terr != nil {
		err = fmt.Errorf("sqlite: write to the op log failed and could not be undone, restart the provider: %w: %w", errors.Join(err, terr), storage.ErrUnavailable)
		st.logger.Error("op log write failed; appends refused until restart", "err", err)
		st.broken = err
		return err
	}
	return fmt.Errorf("sqlite: write to the op log (undone): %w: %w", err, storage.ErrUnavailable)
}

// moveToMain writes documents' ops and heads, and the pending snapshots, into the main database
// in one transaction, ops sorted by document so that each document's pages are dirtied once.
func (st *state) moveToMain(ctx context.Context, work []pending, snaps map[storage.DocKey]pendingSnap) error {
	if len(work) == 0 && len(snaps) == 0 {
		return nil
	}
	slices.SortFunc(work, func(a, b pending) int {
		return cmp.Or(cmp.Compare(a.k.Tenant, b.k.Tenant), cmp.Compare(a.k.ID, b.k.ID))
	})
	tx, err := st.main.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(ctx, "compact: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var opArgs, docArgs []any
	for _, w := range work {
		for _, o := range w.ops {
			opArgs = append(opArgs, w.k.Tenant, w.k.ID, o.op.Revision, o.op.ClientID, int64(o.op.Seq), nonNil(o.op.Data), o.op.UnixMillis)
			if len(opArgs) == 7*batchRows*16 {
				if err := st.batch.multiRow(ctx, tx, stmtOpsInsert, 7, opArgs); err != nil {
					return dbErr(ctx, "compact: insert ops", err)
				}
				opArgs = opArgs[:0]
			}
		}
		docArgs = append(docArgs, w.k.Tenant, w.k.ID, w.typ, w.ops[len(w.ops)-1].op.Revision, int64(w.epoch))
	}
	if err := st.batch.multiRow(ctx, tx, stmtOpsInsert, 7, opArgs); err != nil {
		return dbErr(ctx, "compact: insert ops", err)
	}
	if err := st.batch.multiRow(ctx, tx, stmtDocsUpsert, 5, docArgs); err != nil {
		return dbErr(ctx, "compact: update heads", err)
	}
	for k, ps := range snaps {
		if err := st.writeSnapshot(ctx, tx, k, ps.snap, ps.h); err != nil {
			if errors.Is(err, storage.ErrInvalid) || errors.Is(err, storage.ErrNotFound) {
				st.logger.Warn("pending snapshot dropped", "doc", k.String(), "err", err)
				continue
			}
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return dbErr(ctx, "compact: commit", err)
	}
	return nil
}

// recoverLog moves whatever the op log holds (the provider stopped before compacting it) into
// the main database, in order, and removes it; then it starts a new segment. An op log file of
// the previous format (opstream.oplog.db) is recovered first. It runs at open, before anything
// else.
func (st *state) recoverLog(ctx context.Context) error {
	if err := st.recoverLegacyLog(ctx); err != nil {
		return err
	}
	ns, err := st.cfg.listSegments()
	if err != nil {
		return err
	}
	var (
		byDoc   = make(map[storage.DocKey]*pending)
		n, docs int
		last    int64
	)
	flush := func() error {
		if len(byDoc) == 0 {
			return nil
		}
		work := make([]pending, 0, len(byDoc))
		for _, w := range byDoc {
			slices.SortFunc(w.ops, func(a, b logOp) int { return cmp.Compare(a.op.Revision, b.op.Revision) })
			work = append(work, *w)
		}
		clear(byDoc)
		docs += len(work)
		return st.moveToMain(ctx, work, nil)
	}
	for i, sn := range ns {
		path := st.cfg.segmentPath(sn)
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("recover op log: %w", err)
		}
		rr := recordReader{r: bufio.NewReaderSize(f, 1<<16)}
		for {
			rec, err := rr.next()
			if err == io.EOF {
				break
			}
			if errors.Is(err, errTorn) && i == len(ns)-1 {
				// The end of the last segment: a write the crash cut short, never acknowledged.
				if fi, serr := f.Stat(); serr == nil {
					st.logger.Warn("op log ends with an incomplete record (a write cut short by a crash, never acknowledged); dropped",
						"segment", path, "bytes", fi.Size()-rr.off)
				}
				break
			}
			if err != nil {
				f.Close()
				return fmt.Errorf("recover op log segment %s: %w", path, err)
			}
			last = max(last, rec.seq)
			if rec.kind == recTombstone {
				// Everything of the document before this record was deleted: finish the delete.
				delete(byDoc, rec.k)
				if err := flush(); err != nil {
					f.Close()
					return err
				}
				if err := st.deleteFromMain(ctx, rec.k); err != nil {
					f.Close()
					return err
				}
				continue
			}
			w := byDoc[rec.k]
			if w == nil {
				w = &pending{k: rec.k, typ: rec.typ}
				byDoc[rec.k] = w
			}
			w.epoch = max(w.epoch, rec.epoch)
			w.ops = append(w.ops, logOp{seq: rec.seq, op: rec.op})
			if n++; n%16384 == 0 {
				if err := flush(); err != nil {
					f.Close()
					return err
				}
			}
		}
		f.Close()
	}
	if err := flush(); err != nil {
		return err
	}
	if n > 0 {
		st.logf("recovered %d ops of %d documents from the op log", n, docs)
	}
	for _, sn := range ns { // oldest first, each durable before the next (see removeSealed)
		if err := os.Remove(st.cfg.segmentPath(sn)); err != nil {
			return fmt.Errorf("recover op log: %w", err)
		}
		if err := syncDir(filepath.Dir(st.cfg.Path)); err != nil {
			return err
		}
	}
	next := int64(1)
	if len(ns) > 0 {
		next = ns[len(ns)-1] + 1
	}
	seg, err := createSegment(st.cfg, next) // syncs the directory, removals included
	if err != nil {
		return err
	}
	st.seg.Store(seg)
	st.nextSeq = last + 1
	return nil
}
