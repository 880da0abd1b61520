package wasmtest

import (
	"context"
	"errors"
	"testing"

	"github.com/opstream/opstream/host/pluginhost"
)

// ApplyBothOrders opens two documents from start and applies ops to them in opposite orders:
// in order to the first, in reverse to the second, each op rebased over the ones that document
// already has. For a CRDT engine the rebase is the identity, so every apply must return its op
// unchanged. It returns both snapshots, which a converging engine makes equal, and the first
// document for further checks.
func ApplyBothOrders(t testing.TB, e *pluginhost.Engine, start []byte, ops []string) (forward, backward []byte, a *pluginhost.Doc) {
	t.Helper()
	ctx := context.Background()
	a, err := e.Open(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Open(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ops {
		got, err := a.Apply(ctx, []byte(ops[i]), nil, 0)
		if err != nil || string(got) != ops[i] {
			t.Fatalf("apply %s = %s %v", ops[i], got, err)
		}
		j := len(ops) - 1 - i
		var conc [][]byte
		for _, o := range ops[j+1:] {
			conc = append(conc, []byte(o))
		}
		if got, err := b.Apply(ctx, []byte(ops[j]), conc, 0); err != nil || string(got) != ops[j] {
			t.Fatalf("apply %s over %d = %s %v", ops[j], len(conc), got, err)
		}
	}
	if forward, err = a.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if backward, err = b.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	return forward, backward, a
}

// RequireRejected checks that each malformed op is refused (ErrRejected, never a trap) by
// both engine_validate and engine_apply on d.
func RequireRejected(t testing.TB, e *pluginhost.Engine, d *pluginhost.Doc, bad ...string) {
	t.Helper()
	ctx := context.Background()
	for _, op := range bad {
		if _, err := d.Apply(ctx, []byte(op), nil, 0); !errors.Is(err, pluginhost.ErrRejected) {
			t.Fatalf("apply malformed %s: %v; want ErrRejected", op, err)
		}
		if err := e.Validate(ctx, []byte(op)); !errors.Is(err, pluginhost.ErrRejected) {
			t.Fatalf("validate malformed %s: %v; want ErrRejected", op, err)
		}
	}
}
