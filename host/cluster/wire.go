package cluster

import (
	"encoding/json"

	"github.com/opstream/opstream/protocol"
)

// kind is what a frame carries.
type kind uint8

const (
	// Requests, from a node with peers to the document's owner.
	kJoin kind = iota + 1
	kLeave
	kSubmit
	kAwareness
	kRead
	// Replies and pushes, from the owner back.
	kReply   // the answer to request ID
	kPeerMsg // Msg for the peers in Peers (an op, awareness, peerLeft)
	kDropped // the owner dropped Peers[0] from the document with Err
)

// frame is one message between nodes. Frames to one node travel in batches, in order.
type frame struct {
	Kind   kind            `json:"k"`
	ID     uint64          `json:"i,omitempty"`
	Tenant string          `json:"t,omitempty"`
	Doc    string          `json:"d,omitempty"`
	Peers  []string        `json:"p,omitempty"`
	Type   string          `json:"y,omitempty"`
	Rev    *int64          `json:"r,omitempty"`
	Submit *submitWire     `json:"s,omitempty"`
	Msg    json.RawMessage `json:"m,omitempty"`
	Err    *wireError      `json:"e,omitempty"`
	// Owner is the owner a refused request should go to instead ("" unknown).
	Owner string `json:"o,omitempty"`

	size int // encoded size estimate, for the link's byte bound
}

type submitWire struct {
	Base     int64           `json:"b"`
	Op       json.RawMessage `json:"o"`
	ClientID string          `json:"c,omitempty"`
	Seq      uint64          `json:"q,omitempty"`
}

type wireError struct {
	Code    protocol.Code `json:"c"`
	Message string        `json:"m"`
}

func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	perr := protocol.AsError(err)
	return &wireError{Code: perr.Code, Message: perr.Message}
}

func (e *wireError) err() *protocol.Error {
	return &protocol.Error{Code: e.Code, Message: e.Message}
}

// batch is one published message: frames from one node to another, with a sequence number
// per (sender, receiver) so the receiver notices a lost batch.
type batch struct {
	From   string  `json:"f"`
	Seq    uint64  `json:"q"`
	Frames []frame `json:"x"`
}

// joinWire is a JoinResult on the wire.
type joinWire struct {
	Type     string               `json:"y"`
	Rev      int64                `json:"r"`
	Snapshot json.RawMessage      `json:"s,omitempty"`
	Ops      []protocol.LogOp     `json:"o,omitempty"`
	HasOps   bool                 `json:"h,omitempty"`
	Reload   bool                 `json:"l,omitempty"`
	Peers    []protocol.PeerState `json:"p,omitempty"`
}

type submitResultWire struct {
	Rev       int64           `json:"r"`
	Op        json.RawMessage `json:"o,omitempty"`
	Duplicate bool            `json:"d,omitempty"`
}

type readWire struct {
	Type     string          `json:"y"`
	Rev      int64           `json:"r"`
	Snapshot json.RawMessage `json:"s"`
}
