package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHTTPSubmitTransformAndDedupe(t *testing.T) {
	s := startServer(t, "")
	if code, r := postOp(t, s, "d1", 0, []any{"hello"}, "c1", 1); code != 200 || r.Revision != 1 {
		t.Fatalf("first op: %d %+v", code, r)
	}
	// Concurrent insert at the same position, based on revision 0: the late op goes left.
	code, r := postOp(t, s, "d1", 0, []any{"world"}, "c2", 1)
	if code != 200 || r.Revision != 2 || string(r.Op) != `["world"]` {
		t.Fatalf("concurrent op: %d %+v op=%s", code, r, r.Op)
	}
	_, d := getDoc(t, s, "d1")
	if string(d.Snapshot) != `"worldhello"` || d.Revision != 2 || d.Type != "text" {
		t.Fatalf("doc: %+v snapshot=%s", d, d.Snapshot)
	}
	// A rebase that shifts: insert at 5 of "hello" based on rev 1, after "world" went first.
	code, r = postOp(t, s, "d1", 1, []any{5, "!"}, "c1", 2)
	if code != 200 || string(r.Op) != `[10,"!"]` {
		t.Fatalf("rebased op: %d op=%s", code, r.Op)
	}
	// Resubmit: same revision, nothing applied twice.
	code, r = postOp(t, s, "d1", 0, []any{"world"}, "c2", 1)
	if code != 200 || r.Revision != 2 || !r.Duplicate {
		t.Fatalf("resubmit: %d %+v", code, r)
	}
	_, d = getDoc(t, s, "d1")
	if string(d.Snapshot) != `"worldhello!"` || d.Revision != 3 {
		t.Fatalf("after resubmit: %+v snapshot=%s", d, d.Snapshot)
	}
	ops := getOps(t, s, "d1")
	if len(ops.Ops) != 3 || ops.Ops[1].ClientID != "c2" || ops.Ops[1].Seq != 1 {
		t.Fatalf("ops: %+v", ops)
	}
	if code := httpJSON(t, "GET", s.url("/v1/docs/nope"), nil, nil); code != 404 {
		t.Fatalf("missing doc: status %d, want 404", code)
	}
}

func TestHTTPBadInput(t *testing.T) {
	s := startServer(t, "")
	if code, _ := postOp(t, s, "bad", 0, []any{"abc"}, "c1", 1); code != 200 {
		t.Fatalf("setup op: %d", code)
	}
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"malformed json", `{"type":"text",`, 400, "InvalidMessage"},
		{"wrong field type", `{"type":"text","baseRevision":"one","op":["x"],"clientId":"c","seq":1}`, 400, "InvalidMessage"},
		{"missing seq", map[string]any{"type": "text", "baseRevision": 1, "op": []any{"x"}, "clientId": "c"}, 400, "InvalidMessage"},
		{"future base revision", map[string]any{"type": "text", "baseRevision": 99, "op": []any{"x"}, "clientId": "c", "seq": 1}, 400, "InvalidOp"},
		{"skip past the end", map[string]any{"type": "text", "baseRevision": 1, "op": []any{100, "x"}, "clientId": "c", "seq": 2}, 400, "InvalidOp"},
		{"not an op", map[string]any{"type": "text", "baseRevision": 1, "op": map[string]any{"x": 1}, "clientId": "c", "seq": 3}, 400, "InvalidOp"},
		{"unknown type", map[string]any{"type": "nope", "baseRevision": 0, "op": []any{"x"}, "clientId": "c", "seq": 4}, 409, "DocTypeMismatch"},
		{"10 MB body", `{"type":"text","baseRevision":1,"op":["` + strings.Repeat("x", 10<<20) + `"],"clientId":"c","seq":5}`, 413, "TooLarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r submitResp
			status := httpJSON(t, "POST", s.url("/v1/docs/bad/ops"), tt.body, &r)
			if status != tt.status || r.Error == nil || r.Error.Code != tt.code {
				t.Fatalf("status %d error %+v, want %d %s", status, r.Error, tt.status, tt.code)
			}
		})
	}
	if code, r := postOp(t, s, "fresh", 0, []any{"x"}, "c", 1); code != 200 {
		t.Fatalf("server unusable after bad input: %d %+v", code, r)
	}
	var r submitResp
	if status := httpJSON(t, "POST", s.url("/v1/docs/fresh2/ops"), map[string]any{"type": "nope", "baseRevision": 0, "op": []any{"x"}, "clientId": "c", "seq": 1}, &r); status != 400 || r.Error.Code != "UnknownDocType" {
		t.Fatalf("unknown doc type on a new document: %d %+v", status, r.Error)
	}
	_, d := getDoc(t, s, "bad")
	if string(d.Snapshot) != `"abc"` || d.Revision != 1 {
		t.Fatalf("bad input changed the document: %+v %s", d, d.Snapshot)
	}
}

func TestRestartKeepsDocuments(t *testing.T) {
	s := startServer(t, "", "--snapshot-every", "7")
	text := ""
	for i := 0; i < 25; i++ {
		ins := fmt.Sprintf("%d,", i)
		op := []any{ins}
		if len(text) > 0 {
			op = []any{len([]rune(text)), ins}
		}
		if code, r := postOp(t, s, "keep", int64(i), op, "c", uint64(i+1)); code != 200 || r.Revision != int64(i+1) {
			t.Fatalf("op %d: %d %+v", i, code, r)
		}
		text += ins
	}
	s.stop()
	s.start()
	_, d := getDoc(t, s, "keep")
	if d.Revision != 25 || string(d.Snapshot) != `"`+text+`"` {
		t.Fatalf("after restart: rev %d snapshot %s, want 25 %q", d.Revision, d.Snapshot, text)
	}
	// Dedup survives a restart (client table is in snapshots and rebuilt from the op tail).
	if code, r := postOp(t, s, "keep", 24, []any{"dup"}, "c", 25); code != 200 || !r.Duplicate || r.Revision != 25 {
		t.Fatalf("resubmit after restart: %d %+v", code, r)
	}
	if code, r := postOp(t, s, "keep", 25, []any{"z"}, "c", 26); code != 200 || r.Revision != 26 {
		t.Fatalf("op after restart: %d %+v", code, r)
	}
}

func TestKill9DuringLoadLosesNoAckedOp(t *testing.T) {
	s := startServer(t, "")
	if code, _ := postOp(t, s, "load", 0, []any{"start"}, "c0", 1); code != 200 {
		t.Fatal("setup")
	}
	type key struct {
		client string
		seq    uint64
	}
	var (
		mu    sync.Mutex
		acked []key
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(client string) {
			defer wg.Done()
			rev := int64(1)
			for seq := uint64(1); ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				code, r, err := tryPost(s, "load", rev, []any{"x"}, client, seq)
				if err != nil || code != 200 {
					return
				}
				mu.Lock()
				acked = append(acked, key{client, seq})
				mu.Unlock()
				rev = r.Revision
			}
		}(fmt.Sprintf("w%d", w))
	}
	time.Sleep(1500 * time.Millisecond)
	// The server alone: its orphaned storage plugin still holds the database while the
	// restarted server's plugin opens it, which must wait for it rather than fail.
	s.kill9Server()
	close(stop)
	wg.Wait()
	if len(acked) < 20 {
		t.Fatalf("only %d ops acked before kill -9", len(acked))
	}
	s.start()
	ops := getOps(t, s, "load")
	seen := map[key]int{}
	for i, op := range ops.Ops {
		if op.Revision != int64(i+1) {
			t.Fatalf("revision %d at index %d: not contiguous", op.Revision, i)
		}
		seen[key{op.ClientID, op.Seq}]++
	}
	for _, k := range acked {
		if seen[k] != 1 {
			t.Fatalf("acked op %v present %d times", k, seen[k])
		}
	}
	_, d := getDoc(t, s, "load")
	if d.Revision != int64(len(ops.Ops)) {
		t.Fatalf("doc revision %d, op log has %d", d.Revision, len(ops.Ops))
	}
	t.Logf("%d acked ops before kill -9, all present once", len(acked))
}
