package cluster

import (
	"encoding/hex"
	"encoding/json"

	"go.opentelemetry.io/otel/trace"

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
	// kEvict asks the owner to stop the document at once (administrative delete): its peers
	// are dropped with Err; the reply's Msg is the number of peers dropped.
	kEvict
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
	// Trace is the W3C traceparent of a forwarded submit's opstream.session.apply_op span
	// ("" when not traced): the owner's spans for the op join the caller's trace.
	Trace string `json:"tp,omitempty"`

	size int        // encoded size estimate, for the link's byte bound
	span trace.Span // opstream.backplane.publish of a traced request, ended once published
}

// traceparent encodes sc as a W3C traceparent header value ("" when sc is invalid).
func traceparent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	b := make([]byte, 0, 55)
	b = append(b, "00-"...)
	b = hex.AppendEncode(b, tid[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, sid[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, []byte{byte(sc.TraceFlags())})
	return string(b)
}

// parseTraceparent decodes a W3C traceparent into a remote span context; the zero value when
// it is absent or malformed (the op is then simply not traced on this node).
func parseTraceparent(tp string) trace.SpanContext {
	var sc trace.SpanContext
	if len(tp) != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || tp[:2] == "ff" {
		return sc
	}
	var tid trace.TraceID
	var sid trace.SpanID
	var flags [1]byte
	if _, err := hex.Decode(tid[:], []byte(tp[3:35])); err != nil {
		return sc
	}
	if _, err := hex.Decode(sid[:], []byte(tp[36:52])); err != nil {
		return sc
	}
	if _, err := hex.Decode(flags[:], []byte(tp[53:55])); err != nil {
		return sc
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(flags[0]), Remote: true,
	})
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
	Rev        int64           `json:"r"`
	Op         json.RawMessage `json:"o,omitempty"`
	Duplicate  bool            `json:"d,omitempty"`
	Transforms int             `json:"t,omitempty"`
}

type readWire struct {
	Type     string          `json:"y"`
	Rev      int64           `json:"r"`
	Snapshot json.RawMessage `json:"s"`
}
