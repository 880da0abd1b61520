// Package backplane is how OpStream nodes find each other's documents: ownership leases with
// fencing epochs, node liveness, and an ordered message link to each node.
//
// Two implementations: Local (a single node: it owns every document, there is nobody to talk
// to) and Redis (several nodes sharing one Redis server). host/cluster builds document routing
// on top of either.
package backplane

import (
	"context"
	"errors"
	"time"
)

// ErrUnreachable wraps every failure to reach the backplane: callers treat it as "retry later".
var ErrUnreachable = errors.New("backplane unreachable")

// ErrNoSubscriber is returned by Publish when the node is not listening (it is gone, or
// between a lost connection and its resubscription): the message was dropped.
var ErrNoSubscriber = errors.New("backplane: node not listening")

// Owner is who holds a document's lease.
type Owner struct {
	// Node is the owning node's id; empty when nobody holds the lease.
	Node string
	// Epoch is the fencing epoch of the owner's lease: it grows with every new owner.
	Epoch uint64
}

// Lease is a lease this node holds.
type Lease struct {
	Doc   string
	Epoch uint64
}

// RefreshRequest is what a node does every lease period, in one round trip.
type RefreshRequest struct {
	// TTL is the lease and liveness time to live.
	TTL time.Duration
	// Renew are this node's leases to extend.
	Renew []Lease
	// Watch are documents whose current owner the node wants to know (it forwards to them).
	Watch []string
}

// RefreshResult is the answer to a RefreshRequest.
type RefreshResult struct {
	// Lost lists the indexes into Renew of leases that are no longer this node's.
	Lost []int
	// Owners are the current owners of Watch, index by index.
	Owners []Owner
	// Nodes are the live nodes (this one included).
	Nodes []string
}

// Message is one payload another node published to this one.
type Message struct {
	Payload []byte
}

// Backplane is the shared coordination service of a cluster.
type Backplane interface {
	// Self is this node's id on the backplane (unique per process start).
	Self() string
	// Lookup returns a document's current owner (Node empty when none).
	Lookup(ctx context.Context, doc string) (Owner, error)
	// Acquire takes the document's lease for ttl unless another node holds it, and returns the
	// owner either way. The new epoch is above minEpoch and every earlier epoch of the document.
	Acquire(ctx context.Context, doc string, ttl time.Duration, minEpoch uint64) (Owner, error)
	// Release gives up leases this node holds (a lease that moved on is left alone).
	Release(ctx context.Context, leases []Lease) error
	// Refresh renews leases and this node's liveness, and reads watched owners and live nodes.
	Refresh(ctx context.Context, req RefreshRequest) (RefreshResult, error)
	// Publish sends payload to a node. Messages to one node arrive in the order published, or
	// not at all: a lost message shows as a reset (see Subscribe).
	Publish(ctx context.Context, node string, payload []byte) error
	// Subscribe delivers messages published to this node to deliver, one at a time, until ctx
	// ends. reset is called whenever messages may have been lost (the subscription was
	// re-established); ready is called once the first subscription is confirmed.
	Subscribe(ctx context.Context, deliver func(Message), reset func(), ready func()) error
	// Ping checks the backplane answers.
	Ping(ctx context.Context) error
	// Close releases connections.
	Close() error
}
