package undo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/opstream/opstream/client"
	"github.com/opstream/opstream/pluginsdk/engine"
)

// ErrStopped is returned by an Editor's methods after Run has returned.
var ErrStopped = errors.New("undo: editor stopped")

// Options configure an Editor. The zero value is usable.
type Options struct {
	// MaxUndo bounds the undo stack; zero means 100.
	MaxUndo int
	// OnChange, when set, is called with the new local document after every change (own,
	// undone, redone or remote), under the Editor's lock: it must not call the Editor.
	OnChange func(doc []byte)
}

// Editor is a joined document with a local copy, client-side OT and this peer's undo history.
type Editor struct {
	d    *client.Doc
	t    Type
	opts Options

	mu       sync.Mutex
	changed  *sync.Cond
	doc      []byte // local document: the server's at rev, then inflight, then queued
	rev      int64  // the server revision folded in
	inflight []byte // sent and not acknowledged, or nil
	seq      uint64 // seq of inflight
	queued   [][]byte
	hist     *History
	err      error // why Run stopped
}

// New returns an Editor of d, whose type is t, starting from d's joined snapshot. Start Run
// before the first change; nothing else may read d.Events().
func New(d *client.Doc, t Type, opts Options) *Editor {
	e := &Editor{d: d, t: t, opts: opts, doc: bytes.Clone(d.Snapshot()), rev: d.SnapshotRevision(),
		hist: NewHistory(t, opts.MaxUndo)}
	e.changed = sync.NewCond(&e.mu)
	return e
}

// Doc returns the local document: the server's with this peer's unacknowledged ops applied.
func (e *Editor) Doc() json.RawMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	return bytes.Clone(e.doc)
}

// Revision returns the server revision the local document includes.
func (e *Editor) Revision() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rev
}

// Synced reports whether every own op is acknowledged.
func (e *Editor) Synced() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.inflight == nil && len(e.queued) == 0
}

// CanUndo reports whether Undo has an own change to revert.
func (e *Editor) CanUndo() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hist.CanUndo()
}

// CanRedo reports whether Redo has an undone change to reapply.
func (e *Editor) CanRedo() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hist.CanRedo()
}

// Submit applies op, made against the local document (Doc), records it for Undo and sends it.
// An op that does not apply is refused and changes nothing. Remote ops may change the local
// document between Doc and Submit: Edit makes an op against the document as it is.
func (e *Editor) Submit(op json.RawMessage) error {
	return e.Edit(func([]byte) (json.RawMessage, error) { return op, nil })
}

// Edit calls makeOp with the local document, under the Editor's lock so no remote op comes in
// between, then submits the op it returns as Submit does. makeOp must not call the Editor; an
// error from it is returned as is.
func (e *Editor) Edit(makeOp func(doc []byte) (json.RawMessage, error)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	op, err := makeOp(e.doc)
	if err != nil {
		return err
	}
	inv, err := e.t.Invert(op, e.doc)
	if err != nil {
		return fmt.Errorf("undo: invert own op: %w", err)
	}
	if err := e.applyLocal(op); err != nil {
		return err
	}
	e.hist.push(inv)
	return nil
}

// Undo reverts this peer's last change that is not undone yet, rebased over what others did
// since, and sends the revert. ok is false when there is nothing to undo.
func (e *Editor) Undo() (ok bool, err error) { return e.step(e.hist.Undo) }

// Redo reapplies the last undone change, rebased likewise. ok is false when there is nothing
// to redo (a new own change clears the redo stack).
func (e *Editor) Redo() (ok bool, err error) { return e.step(e.hist.Redo) }

func (e *Editor) step(pop func(doc []byte) ([]byte, bool, error)) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return false, e.err
	}
	op, ok, err := pop(e.doc)
	if err != nil || !ok {
		return false, err
	}
	if err := e.applyLocal(op); err != nil {
		return false, err
	}
	return true, nil
}

// applyLocal applies an own op to the local document and sends or queues it; e.mu is held.
func (e *Editor) applyLocal(op []byte) error {
	doc, err := e.t.Apply(e.doc, op)
	if err != nil {
		return fmt.Errorf("undo: apply own op: %w", err)
	}
	if e.inflight == nil {
		if err := e.send(op); err != nil {
			return err
		}
	} else {
		e.queued = append(e.queued, bytes.Clone(op))
	}
	e.doc = doc
	e.notify()
	return nil
}

// send submits op against e.rev; e.mu is held.
func (e *Editor) send(op []byte) error {
	p, err := e.d.SubmitAsync(op, e.rev)
	if err != nil {
		return fmt.Errorf("undo: send: %w", err)
	}
	e.inflight, e.seq = bytes.Clone(op), p.Seq
	return nil
}

func (e *Editor) notify() {
	if e.opts.OnChange != nil {
		e.opts.OnChange(bytes.Clone(e.doc))
	}
	e.changed.Broadcast()
}

// Run reads the Doc's events until the Doc ends (it returns the Doc's Err), ctx ends, or an
// event cannot be folded in (a refused own op, a remote op that does not transform).
func (e *Editor) Run(ctx context.Context) error {
	err := e.run(ctx)
	e.mu.Lock()
	e.err = fmt.Errorf("%w: %w", ErrStopped, err)
	e.changed.Broadcast()
	e.mu.Unlock()
	return err
}

func (e *Editor) run(ctx context.Context) error {
	for {
		select {
		case ev, ok := <-e.d.Events():
			if !ok {
				if err := e.d.Err(); err != nil {
					return err
				}
				return client.ErrClosed
			}
			if err := e.handle(ev); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// handle folds one event in.
func (e *Editor) handle(ev client.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev.Kind {
	case client.EventOp:
		return e.remote(ev.Op, ev.Revision)
	case client.EventAck:
		if e.inflight == nil || ev.Seq != e.seq {
			return fmt.Errorf("undo: ack of seq %d, which is not in flight", ev.Seq)
		}
		e.rev, e.inflight = ev.Revision, nil
		if len(e.queued) > 0 {
			next := e.queued[0]
			e.queued = e.queued[1:]
			if err := e.send(next); err != nil {
				return err
			}
		}
		e.changed.Broadcast()
	case client.EventReject:
		return fmt.Errorf("undo: the server refused own op seq %d: %w", ev.Seq, ev.Err)
	case client.EventReload:
		e.doc, e.rev, e.inflight, e.queued = bytes.Clone(ev.Snapshot), ev.Revision, nil, nil
		e.hist = NewHistory(e.t, e.opts.MaxUndo)
		e.notify()
	}
	return nil
}

// remote folds in another peer's op at revision rev: it transforms the unacknowledged own ops
// over it and it over them (the server rebases a late op with Left: docs/plugins.md), applies
// it to the local document and rebases the history over it.
func (e *Editor) remote(op []byte, rev int64) error {
	var err error
	own := make([][]byte, 0, 1+len(e.queued))
	if e.inflight != nil {
		own = append(own, e.inflight)
	}
	own = append(own, e.queued...)
	for i, x := range own {
		if own[i], err = e.t.Transform(x, op, engine.Left); err != nil {
			return fmt.Errorf("undo: transform own op over revision %d: %w", rev, err)
		}
		if op, err = e.t.Transform(op, x, engine.Right); err != nil {
			return fmt.Errorf("undo: transform revision %d over own op: %w", rev, err)
		}
	}
	doc, err := e.t.Apply(e.doc, op)
	if err != nil {
		return fmt.Errorf("undo: apply revision %d: %w", rev, err)
	}
	if err := e.hist.Rebase(op); err != nil {
		return err
	}
	if e.inflight != nil {
		e.inflight, own = own[0], own[1:]
	}
	copy(e.queued, own)
	e.doc, e.rev = doc, rev
	e.notify()
	return nil
}

// Wait blocks until cond, called under the Editor's lock with the local document, reports true,
// or until ctx ends or Run stops.
func (e *Editor) Wait(ctx context.Context, cond func(doc []byte, synced bool) bool) error {
	stop := context.AfterFunc(ctx, func() {
		e.mu.Lock()
		e.changed.Broadcast()
		e.mu.Unlock()
	})
	defer stop()
	e.mu.Lock()
	defer e.mu.Unlock()
	for !cond(e.doc, e.inflight == nil && len(e.queued) == 0) {
		if e.err != nil {
			return e.err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("undo: wait: %w", err)
		}
		e.changed.Wait()
	}
	return nil
}
