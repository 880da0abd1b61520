package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opstream/opstream/protocol"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil { // atomic replace, as a deploy would do
		t.Fatal(err)
	}
}

// TestAuthorizerHotSwap replaces the authorizer module file under a running server: a working
// replacement takes over (cached decisions are dropped), a broken one is refused and the
// previous module keeps serving; SIGHUP reloads at once.
func TestAuthorizerHotSwap(t *testing.T) {
	plugins := filepath.Join(filepath.Dir(binPath), "plugins")
	dir := t.TempDir()
	module := filepath.Join(dir, "authz.wasm")
	copyFile(t, filepath.Join(plugins, "allow-all.wasm"), module)
	s := startServer(t, "", "--config", writeConfig(t, "plugins:\n  watchInterval: 100ms\n  authorizer: {module: "+module+"}\n"))

	status := func() int {
		body := map[string]any{"type": "text", "baseRevision": 0, "op": []any{"x"}, "clientId": "c", "seq": time.Now().UnixNano()}
		return httpJSONAuth(t, "POST", s.url("/v1/docs/swap/ops"), "anyone", body, nil)
	}
	waitStatus := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for status() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: status never became %d\n%s", what, want, s.log.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if got := status(); got != 200 {
		t.Fatalf("allow-all: %d", got)
	}
	peer := dialRaw(t, s, "anyone")
	peer.send(`{"type":"join","ref":1,"doc":"swap","docType":"text","protocol":1}`)
	if m := peer.next(byRef(1)); m.Type != "joined" {
		t.Fatalf("join: %+v", m)
	}
	// acl with an empty config denies everyone.
	copyFile(t, filepath.Join(plugins, "acl.wasm"), module)
	waitStatus(403, "after swapping in acl")
	// The joined peer loses the document mid-session, on that document only.
	if m := peer.next(byType("error")); m.Code != protocol.CodeForbidden || !m.Closed || m.Doc != "swap" {
		t.Fatalf("revocation mid-session: %+v", m)
	}
	peer.send(`{"type":"ping","ref":2}`)
	if m := peer.next(byRef(2)); m.Type != "pong" {
		t.Fatalf("connection unusable after revocation: %+v", m)
	}
	// A broken module is refused; acl keeps serving.
	if err := os.WriteFile(module, []byte("not wasm at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.log.String(), "authorizer reload failed") {
		if time.Now().After(deadline) {
			t.Fatal("broken module not reported")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := status(); got != 403 {
		t.Fatalf("after a broken module: %d, want the old module's 403", got)
	}
	// SIGHUP reloads at once.
	copyFile(t, filepath.Join(plugins, "allow-all.wasm"), module)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitStatus(200, "after SIGHUP")
}

// TestEngineHotSwapUnderLoad replaces an engine module file while a writer submits: the new
// module takes over (live documents move to it with their state), no op is lost or applied
// twice, and a broken replacement is refused while the old module keeps serving.
func TestEngineHotSwapUnderLoad(t *testing.T) {
	plugins := filepath.Join(filepath.Dir(binPath), "plugins")
	module := filepath.Join(t.TempDir(), "counter.wasm")
	copyFile(t, filepath.Join(plugins, "counter.wasm"), module)
	s := startServer(t, "", "--config", writeConfig(t, "plugins:\n  watchInterval: 100ms\n  engines:\n    counter: {module: "+module+"}\n"))

	stop := make(chan struct{})
	done := make(chan struct{})
	var acked int
	var failure string
	go func() {
		defer close(done)
		for seq := uint64(1); ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			body := map[string]any{"type": "counter", "baseRevision": 0, "op": map[string]any{"add": 1}, "clientId": "w", "seq": seq}
			var r submitResp
			code := httpJSON(t, "POST", s.url("/v1/docs/hot/ops"), body, &r)
			if code != 200 {
				failure = fmt.Sprintf("op %d: %d %+v", seq, code, r.Error)
				return
			}
			acked++
		}
	}()
	time.Sleep(300 * time.Millisecond)
	copyFile(t, filepath.Join(plugins, "counter.wasm"), module) // a new file: reloaded and swapped
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.log.String(), "engine swapped") {
		if time.Now().After(deadline) {
			t.Fatalf("engine not swapped:\n%s", s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if err := os.WriteFile(module, []byte("broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(s.log.String(), "engine reload failed") {
		if time.Now().After(deadline) {
			t.Fatal("broken engine module not reported")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	if failure != "" {
		t.Fatalf("writer failed: %s", failure)
	}
	_, d := getDoc(t, s, "hot")
	if string(d.Snapshot) != fmt.Sprint(acked) || d.Revision != int64(acked) {
		t.Fatalf("counter %s at revision %d after %d acked ops", d.Snapshot, d.Revision, acked)
	}
	t.Logf("%d ops acked across two reloads", acked)
}
