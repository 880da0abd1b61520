package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/opstream/opstream/protocol"
)

// fakeServer speaks enough of protocol v1 to test the client. Its "engine" is a log: a
// document's snapshot is the JSON array of every op applied so far, and an op applies by being
// appended. It validates client messages with protocol.DecodeFrame, dedupes submissions by
// (clientId, seq), and has knobs to drop connections at chosen moments.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	token    string // when set, the only accepted bearer token
	refuse   bool   // answer every upgrade with 503
	batch    bool   // write each frame's replies as one JSON array
	reload   bool   // answer rejoins with reload: true and a snapshot
	dupAcks  bool   // send each ack twice, the second marked duplicate
	dropMode map[int]string
	submits  int // submit messages received
	applied  int // ops applied (not counting duplicates)
	frames   []frameRec
	joins    []protocol.Message
	docs     map[string]*fakeDoc
	conns    map[*fakeConn]bool
	nextPeer int
}

type frameRec struct {
	array bool
	n     int
}

type fakeDoc struct {
	ops     []protocol.LogOp
	applied map[string]map[uint64]int64 // clientId -> seq -> revision
	lastSeq map[string]uint64
	members map[*fakeConn]string // conn -> peer id
	aware   map[string]json.RawMessage
}

type fakeConn struct {
	ws    *websocket.Conn
	token string
	docs  map[string]string // doc -> peer id
}

func newFake(t *testing.T) *fakeServer {
	t.Helper()
	s := &fakeServer{t: t, docs: map[string]*fakeDoc{}, conns: map[*fakeConn]bool{}, dropMode: map[int]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(func() {
		s.dropConns("")
		s.srv.Close()
	})
	return s
}

func (s *fakeServer) url() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/v1/ws" }

func (s *fakeServer) set(f func(s *fakeServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// dropConns closes every connection authenticated with token ("" = all) without a close frame.
func (s *fakeServer) dropConns(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for fc := range s.conns {
		if token == "" || fc.token == token {
			fc.ws.CloseNow()
		}
	}
}

func (s *fakeServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	refuse, want := s.refuse, s.token
	s.mu.Unlock()
	if refuse {
		http.Error(w, `{"error":{"code":"Unavailable","message":"down"}}`, http.StatusServiceUnavailable)
		return
	}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if want != "" && token != want {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":"Unauthenticated","message":"bad token"}}`)
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(protocol.DefaultLimits.MaxFrameBytes())
	fc := &fakeConn{ws: ws, token: token, docs: map[string]string{}}
	s.mu.Lock()
	s.conns[fc] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.conns, fc)
		for id, peer := range fc.docs {
			s.leaveLocked(fc, id, peer)
		}
		ws.CloseNow()
	}()
	ctx := r.Context()
	for {
		_, frame, err := ws.Read(ctx)
		if err != nil {
			return
		}
		s.mu.Lock()
		decoded := protocol.DecodeFrame(frame, protocol.Limits{})
		s.frames = append(s.frames, frameRec{array: strings.HasPrefix(string(frame), "["), n: len(decoded)})
		var replies []protocol.Message
		drop := false
		for _, dm := range decoded {
			if dm.Err != nil {
				replies = append(replies, protocol.Message{Type: protocol.TypeError, Ref: dm.Msg.Ref, Doc: dm.Msg.Doc, Code: dm.Err.Code, Message: dm.Err.Message})
				continue
			}
			var rs []protocol.Message
			rs, drop = s.handleLocked(fc, dm.Msg)
			replies = append(replies, rs...)
			if drop {
				break
			}
		}
		if drop {
			ws.CloseNow()
			s.mu.Unlock()
			return
		}
		s.writeLocked(fc, replies, s.batch)
		s.mu.Unlock()
	}
}

// writeLocked writes msgs to fc: one frame each, or one array frame when batch is set.
func (s *fakeServer) writeLocked(fc *fakeConn, msgs []protocol.Message, batch bool) {
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if batch && len(msgs) > 1 {
		b, _ := json.Marshal(msgs)
		_ = fc.ws.Write(ctx, websocket.MessageText, b)
		return
	}
	for _, m := range msgs {
		b, _ := json.Marshal(m)
		if fc.ws.Write(ctx, websocket.MessageText, b) != nil {
			return
		}
	}
}

func (s *fakeServer) broadcastLocked(doc *fakeDoc, except *fakeConn, m protocol.Message) {
	for fc := range doc.members {
		if fc != except {
			s.writeLocked(fc, []protocol.Message{m}, false)
		}
	}
}

func (s *fakeServer) leaveLocked(fc *fakeConn, id, peer string) {
	d := s.docs[id]
	delete(fc.docs, id)
	if d == nil {
		return
	}
	delete(d.members, fc)
	delete(d.aware, peer)
	s.broadcastLocked(d, fc, protocol.Message{Type: protocol.TypePeerLeft, Doc: id, Peer: peer})
}

func errMsg(m protocol.Message, code protocol.Code, msg string) protocol.Message {
	return protocol.Message{Type: protocol.TypeError, Ref: m.Ref, Doc: m.Doc, Code: code, Message: msg}
}

// handleLocked answers one message; drop asks the caller to cut the connection at once.
func (s *fakeServer) handleLocked(fc *fakeConn, m protocol.Message) (replies []protocol.Message, drop bool) {
	switch m.Type {
	case protocol.TypePing:
		return []protocol.Message{{Type: protocol.TypePong, Ref: m.Ref}}, false
	case protocol.TypeJoin:
		s.joins = append(s.joins, m)
		if m.DocType != "log" {
			return []protocol.Message{errMsg(m, protocol.CodeUnknownDocType, "no engine "+m.DocType)}, false
		}
		d := s.docs[m.Doc]
		if d == nil {
			d = &fakeDoc{applied: map[string]map[uint64]int64{}, lastSeq: map[string]uint64{}, members: map[*fakeConn]string{}, aware: map[string]json.RawMessage{}}
			s.docs[m.Doc] = d
		}
		s.nextPeer++
		peer := fmt.Sprintf("p%d", s.nextPeer)
		fc.docs[m.Doc] = peer
		d.members[fc] = peer
		cur := int64(len(d.ops))
		j := protocol.Message{Type: protocol.TypeJoined, Ref: m.Ref, Doc: m.Doc, DocType: m.DocType, Revision: protocol.Int64(cur), PeerID: peer, Access: "write"}
		for p, st := range d.aware {
			if p != peer {
				j.Peers = append(j.Peers, protocol.PeerState{Peer: p, State: st})
			}
		}
		if m.Revision != nil && !s.reload && *m.Revision <= cur {
			j.Ops = append([]protocol.LogOp{}, d.ops[*m.Revision:]...)
		} else {
			j.Reload = m.Revision != nil
			j.Snapshot = d.snapshot()
		}
		return []protocol.Message{j}, false
	case protocol.TypeSubmit:
		s.submits++
		switch s.dropMode[s.submits] {
		case "onReceive":
			return nil, true
		}
		d := s.docs[m.Doc]
		if d == nil || fc.docs[m.Doc] == "" {
			return []protocol.Message{errMsg(m, protocol.CodeNotJoined, "join first")}, false
		}
		if r, ok := d.applied[m.ClientID][m.Seq]; ok || m.Seq <= d.lastSeq[m.ClientID] {
			return []protocol.Message{{Type: protocol.TypeAck, Ref: m.Ref, Doc: m.Doc, Revision: protocol.Int64(r), ClientID: m.ClientID, Seq: m.Seq, Duplicate: true}}, false
		}
		if *m.BaseRevision > int64(len(d.ops)) || string(m.Op) == `"bad"` {
			return []protocol.Message{errMsg(m, protocol.CodeInvalidOp, "rejected")}, false
		}
		var dropped []protocol.Message
		if s.dropMode[s.submits] == "droppedBeforeAck" {
			// What a proxying node does when the owner drops its peer: another client's op is
			// applied but not relayed, the document drops this client, and the submit's reply
			// (the ack) still comes back after the drop notice.
			d.ops = append(d.ops, protocol.LogOp{Revision: int64(len(d.ops)) + 1, Op: json.RawMessage(`"unseen"`), ClientID: "other", Seq: 1})
			s.leaveLocked(fc, m.Doc, fc.docs[m.Doc])
			dropped = append(dropped, protocol.Message{Type: protocol.TypeError, Doc: m.Doc, Code: protocol.CodeUnavailable, Message: "owner lost", Closed: true})
		}
		r := int64(len(d.ops)) + 1
		d.ops = append(d.ops, protocol.LogOp{Revision: r, Op: m.Op, ClientID: m.ClientID, Seq: m.Seq})
		if d.applied[m.ClientID] == nil {
			d.applied[m.ClientID] = map[uint64]int64{}
		}
		d.applied[m.ClientID][m.Seq] = r
		d.lastSeq[m.ClientID] = m.Seq
		s.applied++
		if s.dropMode[s.submits] == "afterApply" {
			s.broadcastLocked(d, fc, protocol.Message{Type: protocol.TypeOp, Doc: m.Doc, Revision: protocol.Int64(r), Op: m.Op, ClientID: m.ClientID, Seq: m.Seq})
			return nil, true
		}
		ack := protocol.Message{Type: protocol.TypeAck, Ref: m.Ref, Doc: m.Doc, Revision: protocol.Int64(r), ClientID: m.ClientID, Seq: m.Seq}
		replies = append(replies, dropped...)
		replies = append(replies, ack)
		if s.dupAcks {
			ack.Duplicate = true
			replies = append(replies, ack)
		}
		s.broadcastLocked(d, fc, protocol.Message{Type: protocol.TypeOp, Doc: m.Doc, Revision: protocol.Int64(r), Op: m.Op, ClientID: m.ClientID, Seq: m.Seq})
		return replies, false
	case protocol.TypeAwareness:
		d, peer := s.docs[m.Doc], fc.docs[m.Doc]
		if d == nil || peer == "" {
			return []protocol.Message{errMsg(m, protocol.CodeNotJoined, "join first")}, false
		}
		if string(m.State) == "null" || len(m.State) == 0 {
			delete(d.aware, peer)
		} else {
			d.aware[peer] = m.State
		}
		s.broadcastLocked(d, fc, protocol.Message{Type: protocol.TypeAwareness, Doc: m.Doc, Peer: peer, State: m.State})
		return nil, false
	case protocol.TypeLeave:
		if peer := fc.docs[m.Doc]; peer != "" {
			s.leaveLocked(fc, m.Doc, peer)
		}
		return []protocol.Message{{Type: protocol.TypeLeft, Ref: m.Ref, Doc: m.Doc}}, false
	}
	return []protocol.Message{errMsg(m, protocol.CodeInvalidMessage, "unsupported "+m.Type)}, false
}

func (d *fakeDoc) snapshot() json.RawMessage {
	ops := make([]json.RawMessage, 0, len(d.ops))
	for _, o := range d.ops {
		ops = append(ops, o.Op)
	}
	b, _ := json.Marshal(ops)
	return b
}

// logState is what a test client rebuilds: the fake engine's document, a list of ops.
type logState struct {
	ops []string
}

// apply applies a snapshot (reset) or an op (append), the fake engine's two operations.
func (l *logState) reset(snapshot json.RawMessage) error {
	var ops []json.RawMessage
	if err := json.Unmarshal(snapshot, &ops); err != nil {
		return fmt.Errorf("decode snapshot: %w", err)
	}
	l.ops = l.ops[:0]
	for _, o := range ops {
		l.ops = append(l.ops, string(o))
	}
	return nil
}

func (l *logState) apply(op json.RawMessage) { l.ops = append(l.ops, string(op)) }
