package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/opstream/opstream/protocol"
)

// rawConn is a bare protocol-v1 WebSocket client for testing the wire itself.
type rawConn struct {
	t    *testing.T
	c    *websocket.Conn
	msgs chan protocol.Message
}

func dialRaw(t *testing.T, s *server, token string) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := s.wsURL()
	if token != "" {
		url += "?token=" + token
	}
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(64 << 20)
	r := &rawConn{t: t, c: c, msgs: make(chan protocol.Message, 10000)}
	go func() {
		defer close(r.msgs)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var batch []protocol.Message
			if len(data) > 0 && data[0] == '[' {
				if err := json.Unmarshal(data, &batch); err != nil {
					t.Errorf("server sent bad JSON: %v", err)
					return
				}
			} else {
				var m protocol.Message
				if err := json.Unmarshal(data, &m); err != nil {
					t.Errorf("server sent bad JSON: %v", err)
					return
				}
				batch = []protocol.Message{m}
			}
			for _, m := range batch {
				r.msgs <- m
			}
		}
	}()
	t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	return r
}

func (r *rawConn) send(frame string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// next returns the next message that matches keep.
func (r *rawConn) next(keep func(protocol.Message) bool) protocol.Message {
	r.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-r.msgs:
			if !ok {
				r.t.Fatal("connection closed while waiting for a message")
			}
			if keep(m) {
				return m
			}
		case <-timeout:
			r.t.Fatal("timed out waiting for a message")
		}
	}
}

func byRef(ref uint64) func(protocol.Message) bool {
	return func(m protocol.Message) bool { return m.Ref == ref }
}

func byType(typ string) func(protocol.Message) bool {
	return func(m protocol.Message) bool { return m.Type == typ }
}

func TestWebSocketBadInput(t *testing.T) {
	s := startServer(t, "")
	c := dialRaw(t, s, "")
	c.send(`{"type":"join","ref":1,"doc":"ws-bad","docType":"text","protocol":1}`)
	if m := c.next(byRef(1)); m.Type != "joined" || *m.Revision != 0 || string(m.Snapshot) != `""` {
		t.Fatalf("join: %+v", m)
	}
	c.send(`{"type":"submit","ref":2,"doc":"ws-bad","baseRevision":0,"op":["abc"],"clientId":"c","seq":1}`)
	if m := c.next(byRef(2)); m.Type != "ack" || *m.Revision != 1 {
		t.Fatalf("submit: %+v", m)
	}
	if code, _ := postOp(t, s, "ws-typed", 0, []any{"t"}, "c", 1); code != 200 {
		t.Fatal("create ws-typed")
	}
	tests := []struct {
		name  string
		frame string
		ref   uint64
		code  protocol.Code
	}{
		{"malformed json", `{"type":"submit","ref":3,`, 0, protocol.CodeInvalidMessage},
		{"unknown type", `{"type":"teleport","ref":4}`, 4, protocol.CodeInvalidMessage},
		{"wrong field types", `{"type":"submit","ref":5,"doc":"ws-bad","baseRevision":"1","op":["x"],"clientId":"c","seq":2}`, 5, protocol.CodeInvalidMessage},
		{"future base revision", `{"type":"submit","ref":6,"doc":"ws-bad","baseRevision":50,"op":["x"],"clientId":"c","seq":3}`, 6, protocol.CodeInvalidOp},
		{"skip past the end", `{"type":"submit","ref":7,"doc":"ws-bad","baseRevision":1,"op":[10,"x"],"clientId":"c","seq":4}`, 7, protocol.CodeInvalidOp},
		{"not joined", `{"type":"submit","ref":8,"doc":"other","baseRevision":0,"op":["x"],"clientId":"c","seq":1}`, 8, protocol.CodeNotJoined},
		{"wrong protocol", `{"type":"join","ref":9,"doc":"x","docType":"text","protocol":7}`, 9, protocol.CodeUnsupportedProtocol},
		{"unknown doc type", `{"type":"join","ref":10,"doc":"x2","docType":"nope","protocol":1}`, 10, protocol.CodeUnknownDocType},
		{"doc type mismatch", `{"type":"join","ref":11,"doc":"ws-typed","docType":"text2","protocol":1}`, 11, protocol.CodeDocTypeMismatch},
		{"10 MB message", `{"type":"submit","ref":12,"doc":"ws-bad","baseRevision":1,"op":["` + strings.Repeat("x", 10<<20) + `"],"clientId":"c","seq":5}`, 0, protocol.CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.send(tt.frame)
			m := c.next(func(m protocol.Message) bool { return m.Type == "error" })
			if m.Code != tt.code || m.Ref != tt.ref {
				t.Fatalf("got %s ref %d (%s), want %s ref %d", m.Code, m.Ref, m.Message, tt.code, tt.ref)
			}
		})
	}
	c.t = t
	// The connection is still usable and nothing changed.
	c.send(`[{"type":"ping","ref":20},{"type":"submit","ref":21,"doc":"ws-bad","baseRevision":1,"op":[3,"d"],"clientId":"c","seq":6}]`)
	if m := c.next(byRef(20)); m.Type != "pong" {
		t.Fatalf("ping: %+v", m)
	}
	if m := c.next(byRef(21)); m.Type != "ack" || *m.Revision != 2 {
		t.Fatalf("submit after bad input: %+v", m)
	}
	_, d := getDoc(t, s, "ws-bad")
	if string(d.Snapshot) != `"abcd"` {
		t.Fatalf("snapshot %s", d.Snapshot)
	}
}

func TestWebSocketAwarenessAndPeers(t *testing.T) {
	s := startServer(t, "")
	a, b := dialRaw(t, s, ""), dialRaw(t, s, "")
	a.send(`{"type":"join","ref":1,"doc":"aw","docType":"text","protocol":1}`)
	ja := a.next(byRef(1))
	a.send(`{"type":"awareness","doc":"aw","state":{"cursor":3,"name":"ann"}}`)
	a.send(`{"type":"ping","ref":2}`)
	a.next(byRef(2))
	b.send(`{"type":"join","ref":1,"doc":"aw","docType":"text","protocol":1}`)
	jb := b.next(byRef(1))
	if len(jb.Peers) != 1 || jb.Peers[0].Peer != ja.PeerID || !strings.Contains(string(jb.Peers[0].State), `"ann"`) {
		t.Fatalf("joiner did not get the live awareness states: %+v", jb.Peers)
	}
	b.send(`{"type":"awareness","doc":"aw","state":{"cursor":1}}`)
	m := a.next(byType("awareness"))
	if m.Peer != jb.PeerID || string(m.State) != `{"cursor":1}` {
		t.Fatalf("awareness broadcast: %+v", m)
	}
	// An identical update is coalesced: the next awareness a sees is the changed one.
	b.send(`{"type":"awareness","doc":"aw","state":{"cursor":1}}`)
	b.send(`{"type":"awareness","doc":"aw","state":{"cursor":2}}`)
	if m := a.next(byType("awareness")); string(m.State) != `{"cursor":2}` {
		t.Fatalf("identical update not coalesced: %s", m.State)
	}
	b.c.Close(websocket.StatusNormalClosure, "bye")
	if m := a.next(byType("peerLeft")); m.Peer != jb.PeerID {
		t.Fatalf("peerLeft: %+v", m)
	}
}

func TestDevelopmentDefaultsWarn(t *testing.T) {
	s := startServer(t, "", "--storage", "memory")
	log := s.log.String()
	for _, want := range []string{"level=WARN msg=\"DEVELOPMENT DEFAULT: memory storage", "level=WARN msg=\"DEVELOPMENT DEFAULT: the allow-all authorizer"} {
		if !strings.Contains(log, want) {
			t.Errorf("start-up log lacks %q:\n%s", want, log)
		}
	}
}

func TestRejoinWithRevisionGetsMissingOps(t *testing.T) {
	s := startServer(t, "")
	for i, op := range []string{`["a"]`, `[1,"b"]`, `[2,"c"]`} {
		if code, _ := postOp(t, s, "rejoin", int64(i), json.RawMessage(op), "w", uint64(i+1)); code != 200 {
			t.Fatal("setup")
		}
	}
	c := dialRaw(t, s, "")
	c.send(`{"type":"join","ref":1,"doc":"rejoin","docType":"text","protocol":1,"revision":1}`)
	m := c.next(byRef(1))
	if m.Type != "joined" || *m.Revision != 3 || len(m.Ops) != 2 || m.Ops[0].Revision != 2 || m.Snapshot != nil || m.Reload {
		t.Fatalf("rejoin at 1: %+v", m)
	}
	c.send(`{"type":"leave","ref":2,"doc":"rejoin"}`)
	c.next(byRef(2))
	// A revision the server never had (a client from another world) must reload.
	c.send(`{"type":"join","ref":3,"doc":"rejoin","docType":"text","protocol":1,"revision":9}`)
	m = c.next(byRef(3))
	if !m.Reload || string(m.Snapshot) != `"abc"` || *m.Revision != 3 {
		t.Fatalf("rejoin ahead: %+v", m)
	}
}

func TestRateLimit(t *testing.T) {
	s := startServer(t, "", "--config", writeConfig(t, "limits: {opsPerSecond: 1, opsBurst: 2}\n"))
	c := dialRaw(t, s, "")
	c.send(`{"type":"join","ref":1,"doc":"rl","docType":"text","protocol":1}`)
	c.next(byRef(1))
	c.send(`[{"type":"submit","ref":2,"doc":"rl","baseRevision":0,"op":["a"],"clientId":"c","seq":1},` +
		`{"type":"submit","ref":3,"doc":"rl","baseRevision":0,"op":["b"],"clientId":"c","seq":2},` +
		`{"type":"submit","ref":4,"doc":"rl","baseRevision":0,"op":["c"],"clientId":"c","seq":3}]`)
	if m := c.next(byRef(4)); m.Code != protocol.CodeRateLimited {
		t.Fatalf("third op in a burst of 2: %+v", m)
	}
}
