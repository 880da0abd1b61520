package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestAssemblyScriptModulesInTheServer runs the AssemblyScript tokens authorizer and counter
// engine in the real server: concurrent writers' additions all land, and tokens decide access.
func TestAssemblyScriptModulesInTheServer(t *testing.T) {
	plugins, err := filepath.Abs(filepath.Join(filepath.Dir(binPath), "plugins"))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "--config", writeConfig(t, fmt.Sprintf(`plugins:
  authorizer:
    module: %s/tokens.wasm
    config:
      tokens:
        w1: {access: write, tenant: t1, subject: ann}
        w2: {access: write, tenant: t1, subject: bob}
        r: {access: read, tenant: t1}
  engines:
    counter: {module: %s/counter.wasm}
`, plugins, plugins)))
	const writers, each = 3, 40
	var wg sync.WaitGroup
	errs := make(chan string, writers*each)
	for w := 0; w < writers; w++ {
		token := []string{"w1", "w2", "w1"}[w]
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 1; i <= each; i++ {
				body := map[string]any{"type": "counter", "baseRevision": 0, "op": map[string]any{"add": w + 1}, "clientId": fmt.Sprintf("c%d", w), "seq": i}
				var r submitResp
				if code := httpJSONAuth(t, "POST", s.url("/v1/docs/count/ops"), token, body, &r); code != 200 {
					errs <- fmt.Sprintf("writer %d op %d: %d %+v", w, i, code, r.Error)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	var d docResp
	if code := httpJSONAuth(t, "GET", s.url("/v1/docs/count"), "r", nil, &d); code != 200 {
		t.Fatalf("reader GET: %d", code)
	}
	if want := fmt.Sprint(each * (1 + 2 + 3)); string(d.Snapshot) != want || d.Revision != writers*each {
		t.Fatalf("counter %s at revision %d, want %s at %d", d.Snapshot, d.Revision, want, writers*each)
	}
	body := map[string]any{"type": "counter", "baseRevision": 0, "op": map[string]any{"add": 1}, "clientId": "r", "seq": 1}
	var r submitResp
	if code := httpJSONAuth(t, "POST", s.url("/v1/docs/count/ops"), "r", body, &r); code != 403 {
		t.Fatalf("read token wrote: %d", code)
	}
	body["op"] = map[string]any{"mul": 2}
	if code := httpJSONAuth(t, "POST", s.url("/v1/docs/count/ops"), "w1", body, &r); code != 400 || r.Error.Code != "InvalidOp" {
		t.Fatalf("bad counter op: %d %+v", code, r.Error)
	}
	if code := httpJSONAuth(t, "GET", s.url("/v1/docs/count"), "nobody", nil, nil); code != 403 {
		t.Fatalf("unknown token read: %d", code)
	}
}

// A module byte-identical to one this build shipped runs trusted (fast, no preemption); any
// other module file, even a shipped one with a byte appended, runs in the sandbox.
func TestShippedModulesRunTrusted(t *testing.T) {
	plugins := filepath.Join(filepath.Dir(binPath), "plugins")
	conf := "    config: {tokens: {t: {subject: ann}}, rules: [{doc: \"*\", subject: ann, access: write}]}\n"
	s := startServer(t, "", "--config", writeConfig(t, "plugins:\n  authorizer:\n    module: "+filepath.Join(plugins, "acl.wasm")+"\n"+conf))
	if !strings.Contains(s.log.String(), "running it trusted") {
		t.Errorf("the shipped acl.wasm was not run trusted:\n%s", s.log.String())
	}
	if code := httpJSONAuth(t, "POST", s.url("/v1/docs/shipped/ops"), "t",
		map[string]any{"type": "text", "baseRevision": 0, "op": []any{"x"}, "clientId": "c", "seq": 1}, nil); code != 200 {
		t.Fatalf("write with the shipped acl: %d", code)
	}

	// The same module with a custom section appended (still valid WASM) is not the shipped build.
	bin, err := os.ReadFile(filepath.Join(plugins, "acl.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	modified := filepath.Join(t.TempDir(), "acl.wasm")
	custom := []byte{0, 7, 5, 'l', 'o', 'c', 'a', 'l', 0}
	if err := os.WriteFile(modified, append(bin, custom...), 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, "", "--config", writeConfig(t, "plugins:\n  authorizer:\n    module: "+modified+"\n"+conf))
	if strings.Contains(s2.log.String(), "running it trusted") {
		t.Errorf("a modified module was run trusted:\n%s", s2.log.String())
	}
	if code := httpJSONAuth(t, "POST", s2.url("/v1/docs/shipped/ops"), "t",
		map[string]any{"type": "text", "baseRevision": 0, "op": []any{"x"}, "clientId": "c", "seq": 1}, nil); code != 200 {
		t.Fatalf("write with the sandboxed acl: %d", code)
	}
}
