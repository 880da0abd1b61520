package undo

import (
	"bytes"
	"fmt"

	"github.com/opstream/opstream/pluginsdk/engine"
)

// Type is a document type's operational transformation on JSON ops and snapshots. Methods must
// not keep or modify their arguments; errors mean the input does not fit (an invalid op, or an
// op that does not apply to the snapshot).
type Type interface {
	// Apply returns snapshot with op applied.
	Apply(snapshot, op []byte) ([]byte, error)
	// Transform returns op transformed over other, a concurrent op applied first; side passes
	// through to the type's own transform (docs/plugins.md, "Sides").
	Transform(op, other []byte, side engine.Side) ([]byte, error)
	// Invert returns the op that undoes op applied to snapshot.
	Invert(op, snapshot []byte) ([]byte, error)
}

// Restamper is optionally implemented by a Type whose ops carry a stamp (the CRDT engines): an
// op taken from an undo or redo stack is restamped, with a stamp above every one seen, just
// before it is applied.
type Restamper interface {
	Restamp(op []byte) ([]byte, error)
}

// StepRebaser is optionally implemented by a Type whose Transform is the identity (the CRDT
// engines: their ops commute, so the sync needs no transform). History rebases its steps over a
// remote op with RebaseStep instead: it drops what the remote op, a later edit by another peer,
// wrote, so an undo never reverts it. A nil step means nothing is left: the step is dropped.
type StepRebaser interface {
	RebaseStep(step, remote []byte) ([]byte, error)
}

// History holds this peer's undo and redo stacks. Each stack's top is an op on the current
// document; the op below it applies once the top has been applied, and so on down.
type History struct {
	t          Type
	undo, redo [][]byte
	max        int
}

// NewHistory returns an empty history for documents of type t keeping at most max undo steps
// (zero means 100).
func NewHistory(t Type, max int) *History {
	if max <= 0 {
		max = 100
	}
	return &History{t: t, max: max}
}

// CanUndo reports whether there is an own change to undo.
func (h *History) CanUndo() bool { return len(h.undo) > 0 }

// CanRedo reports whether there is an undone change to redo.
func (h *History) CanRedo() bool { return len(h.redo) > 0 }

// Record records an own op, applied to the document before (the document is now before with
// op applied). It clears the redo stack.
func (h *History) Record(op, before []byte) error {
	inv, err := h.t.Invert(op, before)
	if err != nil {
		return fmt.Errorf("undo: invert own op: %w", err)
	}
	h.push(inv)
	return nil
}

// push pushes the inverse of an own op and clears the redo stack.
func (h *History) push(inv []byte) {
	h.undo = append(h.undo, inv)
	if len(h.undo) > h.max {
		h.undo = append(h.undo[:0], h.undo[len(h.undo)-h.max:]...)
	}
	h.redo = nil
}

// Rebase transforms both stacks over remote, another peer's op applied to the current
// document. On error the history is unchanged.
func (h *History) Rebase(remote []byte) error {
	undo, err := rebase(h.t, h.undo, remote)
	if err != nil {
		return err
	}
	redo, err := rebase(h.t, h.redo, remote)
	if err != nil {
		return err
	}
	h.undo, h.redo = undo, redo
	return nil
}

// rebase returns stack transformed over remote, from the top down: the top over remote, then
// the one below over remote transformed over the top, and so on.
func rebase(t Type, stack [][]byte, remote []byte) ([][]byte, error) {
	if sr, ok := t.(StepRebaser); ok {
		out := make([][]byte, 0, len(stack))
		for _, step := range stack {
			s, err := sr.RebaseStep(step, remote)
			if err != nil {
				return nil, fmt.Errorf("undo: rebase a step over a remote op: %w", err)
			}
			if s != nil {
				out = append(out, s)
			}
		}
		return out, nil
	}
	out := make([][]byte, len(stack))
	for i := len(stack) - 1; i >= 0; i-- {
		op, err := t.Transform(stack[i], remote, engine.Left)
		if err != nil {
			return nil, fmt.Errorf("undo: rebase a step over a remote op: %w", err)
		}
		if i > 0 {
			if remote, err = t.Transform(remote, stack[i], engine.Right); err != nil {
				return nil, fmt.Errorf("undo: rebase a remote op over a step: %w", err)
			}
		}
		out[i] = op
	}
	return out, nil
}

// Undo pops the last own change and returns the op that reverts it on doc, the current
// document; ok is false when there is none. The caller must apply the op (it is not an own op
// to Record) and it moves to the redo stack. On error the history is unchanged.
func (h *History) Undo(doc []byte) (op []byte, ok bool, err error) {
	return h.step(&h.undo, &h.redo, doc)
}

// Redo pops the last undone change and returns the op that reapplies it on doc; like Undo.
func (h *History) Redo(doc []byte) (op []byte, ok bool, err error) {
	return h.step(&h.redo, &h.undo, doc)
}

// step pops from's top and pushes its inverse on to. A step that others' edits have made a
// no-op (another peer deleted the text it would restore) is dropped and the next one taken, so
// an undo always changes something.
func (h *History) step(from, to *[][]byte, doc []byte) ([]byte, bool, error) {
	for n := len(*from); n > 0; n = len(*from) {
		op := (*from)[n-1]
		if r, ok := h.t.(Restamper); ok {
			var err error
			if op, err = r.Restamp(op); err != nil {
				return nil, false, fmt.Errorf("undo: restamp: %w", err)
			}
		}
		after, err := h.t.Apply(doc, op)
		if err != nil {
			return nil, false, fmt.Errorf("undo: apply a step: %w", err)
		}
		if bytes.Equal(after, doc) {
			*from = (*from)[:n-1]
			continue
		}
		back, err := h.t.Invert(op, doc)
		if err != nil {
			return nil, false, fmt.Errorf("undo: invert a step: %w", err)
		}
		*from = (*from)[:n-1]
		*to = append(*to, back)
		return op, true, nil
	}
	return nil, false, nil
}
