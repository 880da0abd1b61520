// Package protocol defines OpStream's wire protocol v1: the JSON messages exchanged over a
// WebSocket at /v1/ws, their error codes, and the limits that bound them. It is shared by the host
// and the Go client; docs/protocol.md is the specification.
//
// A WebSocket text frame carries either one message (a JSON object) or several (a JSON array of
// objects). Servers batch messages into arrays under load; clients may do the same.
package protocol

import (
	"encoding/json"
)

// Version is the protocol version a join must name.
const Version = 1

// Message types.
const (
	// client -> server
	TypeJoin      = "join"
	TypeSubmit    = "submit"
	TypeAwareness = "awareness"
	TypeLeave     = "leave"
	TypePing      = "ping"
	TypeAuth      = "auth"

	// server -> client
	TypeJoined   = "joined"
	TypeAck      = "ack"
	TypeOp       = "op"
	TypePeerLeft = "peerLeft"
	TypeLeft     = "left"
	TypePong     = "pong"
	TypeError    = "error"
	TypeAuthed   = "authed"
	// TypeAwareness is also the server's broadcast of a peer's state.
)

// Message is the union of every v1 message; Type says which fields are meaningful. Unknown
// fields are ignored, wrong types are InvalidMessage.
type Message struct {
	Type string `json:"type"`
	// Ref is chosen by the client; the server's reply to that request carries it back.
	Ref uint64 `json:"ref,omitempty"`
	// Doc is the document id.
	Doc string `json:"doc,omitempty"`

	// join / joined
	DocType  string `json:"docType,omitempty"`
	Protocol int    `json:"protocol,omitempty"`
	// Revision: on join, the revision the client already has (optional); on joined, ack and op,
	// the document's revision after that message.
	Revision *int64 `json:"revision,omitempty"`

	// submit / op
	BaseRevision *int64          `json:"baseRevision,omitempty"`
	Op           json.RawMessage `json:"op,omitempty"`
	ClientID     string          `json:"clientId,omitempty"`
	Seq          uint64          `json:"seq,omitempty"`

	// joined
	PeerID    string          `json:"peerId,omitempty"`
	Snapshot  json.RawMessage `json:"snapshot,omitempty"`
	Ops       []LogOp         `json:"ops,omitempty"`
	Reload    bool            `json:"reload,omitempty"`
	Access    string          `json:"access,omitempty"`
	Peers     []PeerState     `json:"peers,omitempty"`
	Duplicate bool            `json:"duplicate,omitempty"`

	// awareness
	Peer  string          `json:"peer,omitempty"`
	State json.RawMessage `json:"state,omitempty"`

	// auth
	Token string `json:"token,omitempty"`

	// error
	Code    Code   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Closed on an error means the server dropped the client from Doc (evicted): rejoin to go on.
	Closed bool `json:"closed,omitempty"`
}

// LogOp is one entry of a document's op log as clients see it: the op with Revision takes the
// document from Revision-1 to Revision.
type LogOp struct {
	Revision int64           `json:"revision"`
	Op       json.RawMessage `json:"op"`
	ClientID string          `json:"clientId,omitempty"`
	Seq      uint64          `json:"seq,omitempty"`
}

// PeerState is one peer's awareness state.
type PeerState struct {
	Peer  string          `json:"peer"`
	State json.RawMessage `json:"state"`
}

// Int64 returns a pointer to v, for the optional revision fields.
func Int64(v int64) *int64 { return &v }
