package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// EventType names an event.
type EventType string

// The events.
const (
	// DocChanged: ops were appended to a document. Debounced per document; FromRevision and
	// ToRevision are the first and last revisions the event covers.
	DocChanged EventType = "doc.changed"
	// DocLastPeerLeft: the last peer left a document; SnapshotRevision is the revision of its
	// final snapshot (the document's revision when it emptied).
	DocLastPeerLeft EventType = "doc.last_peer_left"
	// DocDeleted: a document was deleted; Revision is its last revision.
	DocDeleted EventType = "doc.deleted"
)

func (t EventType) valid() bool {
	return t == DocChanged || t == DocLastPeerLeft || t == DocDeleted
}

// Event is what a receiver gets as the JSON body of a POST.
//
//	{"id":"evt_5f0c...","type":"doc.changed","time":"2026-11-27T10:00:00Z",
//	 "tenant":"default","doc":"hello","fromRevision":12,"toRevision":40}
type Event struct {
	// ID is the idempotency key: unique per event, the same on every retry, also sent as the
	// Idempotency-Key header.
	ID string `json:"id"`
	// Type is the event type.
	Type EventType `json:"type"`
	// Time is when the event was raised (for doc.changed, when its debounce window closed).
	Time time.Time `json:"time"`
	// Tenant and Doc name the document.
	Tenant string `json:"tenant"`
	Doc    string `json:"doc"`
	// FromRevision and ToRevision bound the revisions a doc.changed covers, both included.
	FromRevision int64 `json:"fromRevision,omitempty"`
	ToRevision   int64 `json:"toRevision,omitempty"`
	// SnapshotRevision is a doc.last_peer_left's final snapshot revision.
	SnapshotRevision int64 `json:"snapshotRevision,omitempty"`
	// Revision is a doc.deleted document's last revision.
	Revision int64 `json:"revision,omitempty"`
	// Node is the node that raised the event.
	Node string `json:"node,omitempty"`
}

// NewID returns a fresh event id: "evt_" and 32 hex digits from crypto/rand.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "evt_" + hex.EncodeToString(b[:])
}
