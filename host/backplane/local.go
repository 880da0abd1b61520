package backplane

import (
	"context"
	"fmt"
	"time"
)

// Local is the single-node backplane: this node owns every document (epoch 0, which storage
// accepts after any epoch only as long as no cluster node appended) and has no one to talk to.
type Local struct {
	node string
}

// NewLocal returns the local backplane for node.
func NewLocal(node string) *Local { return &Local{node: node} }

// Self implements Backplane.
func (l *Local) Self() string { return l.node }

// Lookup implements Backplane: this node owns everything.
func (l *Local) Lookup(context.Context, string) (Owner, error) {
	return Owner{Node: l.node}, nil
}

// Acquire implements Backplane.
func (l *Local) Acquire(_ context.Context, _ string, _ time.Duration, minEpoch uint64) (Owner, error) {
	return Owner{Node: l.node, Epoch: minEpoch}, nil
}

// Release implements Backplane.
func (l *Local) Release(context.Context, []Lease) error { return nil }

// Refresh implements Backplane: nothing expires.
func (l *Local) Refresh(_ context.Context, req RefreshRequest) (RefreshResult, error) {
	owners := make([]Owner, len(req.Watch))
	for i := range owners {
		owners[i] = Owner{Node: l.node}
	}
	return RefreshResult{Owners: owners, Nodes: []string{l.node}}, nil
}

// Publish implements Backplane: there are no other nodes.
func (l *Local) Publish(_ context.Context, node string, _ []byte) error {
	return fmt.Errorf("publish to %s: the local backplane has no other nodes: %w", node, ErrUnreachable)
}

// Subscribe implements Backplane: nothing ever arrives.
func (l *Local) Subscribe(ctx context.Context, _ func(Message), _ func(), ready func()) error {
	ready()
	<-ctx.Done()
	return nil
}

// Ping implements Backplane.
func (l *Local) Ping(context.Context) error { return nil }

// Close implements Backplane.
func (l *Local) Close() error { return nil }
