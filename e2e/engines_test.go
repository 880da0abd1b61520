package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestJSON0AndRichTextEngines runs the json0 and rich-text engines in the server: writers based
// on stale revisions are rebased and every op lands exactly once.
func TestJSON0AndRichTextEngines(t *testing.T) {
	plugins, _ := filepath.Abs(filepath.Join(filepath.Dir(binPath), "plugins"))
	s := startServer(t, "", "--config", writeConfig(t, fmt.Sprintf(`plugins:
  engines:
    json0: {module: %s/json0.wasm}
    rich-text: {module: %s/rich-text.wasm}
`, plugins, plugins)))
	post := func(doc, typ string, base int64, op any, client string, seq uint64) (int, submitResp) {
		var r submitResp
		code := httpJSON(t, "POST", s.url("/v1/docs/"+doc+"/ops"), map[string]any{"type": typ, "baseRevision": base, "op": op, "clientId": client, "seq": seq}, &r)
		return code, r
	}
	if code, r := post("j", "json0", 0, []any{map[string]any{"p": []any{}, "oi": map[string]any{"list": []any{}}}}, "init", 1); code != 200 {
		t.Fatalf("json0 create: %d %+v", code, r.Error)
	}
	if code, r := post("r", "rich-text", 0, []any{map[string]any{"insert": "\n"}}, "init", 1); code != 200 {
		t.Fatalf("rich-text create: %d %+v", code, r.Error)
	}
	const writers, each = 3, 15
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			jrev, rrev := int64(1), int64(1)
			for i := 0; i < each; i++ {
				item := fmt.Sprintf("w%d-%02d", w, i)
				// Append at the end of what this writer last saw: rebased over the others.
				code, r := post("j", "json0", jrev, []any{map[string]any{"p": []any{"list", i}, "li": item}}, fmt.Sprint("jw", w), uint64(i+1))
				if code != 200 {
					t.Errorf("json0 op: %d %+v", code, r.Error)
					return
				}
				jrev = r.Revision
				code, r = post("r", "rich-text", rrev, []any{map[string]any{"insert": item, "attributes": map[string]any{"bold": w == 0}}}, fmt.Sprint("rw", w), uint64(i+1))
				if code != 200 {
					t.Errorf("rich-text op: %d %+v", code, r.Error)
					return
				}
				rrev = r.Revision
			}
		}(w)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	_, jd := getDoc(t, s, "j")
	var doc struct{ List []string }
	if err := json.Unmarshal(jd.Snapshot, &doc); err != nil || len(doc.List) != writers*each || jd.Revision != 1+writers*each {
		t.Fatalf("json0 doc %s at %d (%v)", jd.Snapshot, jd.Revision, err)
	}
	seen := map[string]bool{}
	for _, it := range doc.List {
		if seen[it] {
			t.Fatalf("%s applied twice: %v", it, doc.List)
		}
		seen[it] = true
	}
	_, rd := getDoc(t, s, "r")
	if rd.Revision != 1+writers*each || len(getOps(t, s, "r").Ops) != 1+writers*each {
		t.Fatalf("rich-text at %d", rd.Revision)
	}
}

// TestFormCRDTThroughTheServer: last writer wins per field by (ts, peer), whatever order the
// server orders the ops in; a late older set does not resurrect a deleted field.
func TestFormCRDTThroughTheServer(t *testing.T) {
	plugins, _ := filepath.Abs(filepath.Join(filepath.Dir(binPath), "plugins"))
	s := startServer(t, "", "--config", writeConfig(t, fmt.Sprintf("plugins:\n  engines:\n    form: {module: %s/form.wasm}\n", plugins)))
	ops := []string{
		`{"set": {"title": "new", "done": true}, "ts": 300, "peer": "ann"}`,
		`{"set": {"title": "old"}, "ts": 100, "peer": "bob"}`, // older: loses
		`{"del": ["done"], "ts": 400, "peer": "bob"}`,
		`{"set": {"done": false}, "ts": 200, "peer": "cy"}`, // older than the delete: stays deleted
	}
	for i, op := range ops {
		var r submitResp
		code := httpJSON(t, "POST", s.url("/v1/docs/f/ops"), fmt.Sprintf(`{"type":"form","baseRevision":0,"op":%s,"clientId":"c","seq":%d}`, op, i+1), &r)
		if code != 200 {
			t.Fatalf("op %d: %d %+v", i, code, r.Error)
		}
	}
	_, d := getDoc(t, s, "f")
	var snap struct {
		Fields map[string]struct {
			V   json.RawMessage `json:"v"`
			Del bool            `json:"del"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(d.Snapshot, &snap); err != nil {
		t.Fatal(err)
	}
	if string(snap.Fields["title"].V) != `"new"` || !snap.Fields["done"].Del {
		t.Fatalf("form state %s", d.Snapshot)
	}
	var r submitResp
	if code := httpJSON(t, "POST", s.url("/v1/docs/f/ops"), `{"type":"form","baseRevision":4,"op":{"set":{"x":1}},"clientId":"c","seq":9}`, &r); code != 400 || r.Error.Code != "InvalidOp" {
		t.Fatalf("op without ts/peer: %d %+v", code, r.Error)
	}
}
