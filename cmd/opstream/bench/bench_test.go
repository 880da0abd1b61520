package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/opstream/opstream/protocol"
)

// hub is a minimal protocol v1 server for the bench's own test: join at revision 0, submit is
// acked and fanned out to the other members. The end-to-end run against the real binary lives
// with the host's tests.
type hub struct {
	mu   sync.Mutex
	docs map[string]*hubDoc
}

type hubDoc struct {
	rev     int64
	members map[*hubConn]bool
}

type hubConn struct {
	mu sync.Mutex
	ws *websocket.Conn
}

func (c *hubConn) send(m protocol.Message) {
	b, _ := json.Marshal(m)
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.ws.Write(ctx, websocket.MessageText, b)
}

func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	hc := &hubConn{ws: ws}
	defer func() {
		h.mu.Lock()
		for _, d := range h.docs {
			delete(d.members, hc)
		}
		h.mu.Unlock()
	}()
	for {
		_, frame, err := ws.Read(r.Context())
		if err != nil {
			return
		}
		for _, dm := range protocol.DecodeFrame(frame, protocol.Limits{}) {
			m := dm.Msg
			if dm.Err != nil {
				hc.send(protocol.Message{Type: protocol.TypeError, Ref: m.Ref, Code: dm.Err.Code, Message: dm.Err.Message})
				continue
			}
			h.mu.Lock()
			d := h.docs[m.Doc]
			if d == nil {
				d = &hubDoc{members: map[*hubConn]bool{}}
				h.docs[m.Doc] = d
			}
			switch m.Type {
			case protocol.TypeJoin:
				d.members[hc] = true
				hc.send(protocol.Message{Type: protocol.TypeJoined, Ref: m.Ref, Doc: m.Doc, Revision: protocol.Int64(d.rev), Snapshot: json.RawMessage(`""`), PeerID: "p", Access: "write"})
			case protocol.TypeSubmit:
				d.rev++
				hc.send(protocol.Message{Type: protocol.TypeAck, Ref: m.Ref, Doc: m.Doc, Revision: protocol.Int64(d.rev), ClientID: m.ClientID, Seq: m.Seq})
				for o := range d.members {
					if o != hc {
						o.send(protocol.Message{Type: protocol.TypeOp, Doc: m.Doc, Revision: protocol.Int64(d.rev), Op: m.Op, ClientID: m.ClientID, Seq: m.Seq})
					}
				}
			}
			h.mu.Unlock()
		}
	}
}

func TestRun(t *testing.T) {
	srv := httptest.NewServer(&hub{docs: map[string]*hubDoc{}})
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	cases := []struct {
		name string
		args []string
		docs int
	}{
		{"hot", []string{"--scenario", "hot", "--clients", "3"}, 1},
		{"docs", []string{"--scenario", "docs", "--docs", "10", "--conns", "3"}, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"--addr", addr, "--duration", "1500ms", "--json"}, tc.args...)
			if err := Run(context.Background(), args, &out, &errOut); err != nil {
				t.Fatalf("Run: %v\n%s", err, errOut.String())
			}
			var res Result
			if err := json.Unmarshal(out.Bytes(), &res); err != nil || strings.Count(out.String(), "\n") != 1 {
				t.Fatalf("output %q: %v", out.String(), err)
			}
			if res.Ops == 0 || res.Errors != 0 || res.P50Ms <= 0 || res.AckP50Ms <= 0 || res.Docs != tc.docs {
				t.Fatalf("result %+v", res)
			}
		})
	}
	t.Run("text summary", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := Run(context.Background(), []string{"--addr", addr, "--duration", "1200ms", "--clients", "2"}, &out, &errOut)
		t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		if err != nil || !strings.Contains(out.String(), "fan-out") || !strings.Contains(errOut.String(), "ops/s") {
			t.Fatalf("Run: %v\nstdout %s\nstderr %s", err, out.String(), errOut.String())
		}
	})
	t.Run("missing addr", func(t *testing.T) {
		if err := Run(context.Background(), nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Fatal("no error without --addr")
		}
	})
}
