package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opstream/opstream/client"
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

// buildSwapAuthz compiles the test authorizer with readOnly naming the read-only token.
func buildSwapAuthz(t *testing.T, readOnly, version string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "swapauthz-"+version+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-ldflags", "-X main.readOnly="+readOnly+" -X main.version="+version,
		"-o", out, "./testdata/swapauthz")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build swapauthz: %v\n%s", err, b)
	}
	return out
}

// TestAuthorizerHotSwapUnderLoad replaces the authorizer while clients submit: no op is lost or
// applied twice, and decisions switch to the new module (a token it makes read-only is refused
// from then on, including on connections opened before the swap).
func TestAuthorizerHotSwapUnderLoad(t *testing.T) {
	v1 := buildSwapAuthz(t, "", "1.0.0")
	v2 := buildSwapAuthz(t, "mallory", "2.0.0")
	module := filepath.Join(t.TempDir(), "authz.wasm")
	copyFile(t, v1, module)
	s := startServer(t, "", "--config", writeConfig(t, "plugins:\n  watchInterval: 100ms\n  authorizer: {module: "+module+"}\nauth:\n  cacheTtl: 1h\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	type writer struct {
		name   string
		doc    *client.Doc
		acked  map[uint64]int64
		denied int
	}
	var writers []*writer
	for _, name := range []string{"alice", "bob", "mallory"} {
		conn, err := client.Dial(ctx, s.wsURL(), client.Options{Token: name, ClientID: name})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		d, err := conn.Join(ctx, "swapload", "text")
		if err != nil {
			t.Fatal(err)
		}
		writers = append(writers, &writer{name: name, doc: d, acked: map[uint64]int64{}})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op, _ := json.Marshal([]any{"x"})
			for {
				select {
				case <-stop:
					return
				default:
				}
				p, err := w.doc.SubmitAsync(op, 0) // insert at 0: valid over anything
				if err != nil {
					return // the document ended (mallory loses it after the swap)
				}
				select {
				case <-p.Done():
				case <-ctx.Done():
					t.Errorf("%s: no answer for seq %d", w.name, p.Seq)
					return
				}
				if rev, err := p.Result(); err == nil {
					w.acked[p.Seq] = rev
				} else {
					w.denied++
				}
				for drained := false; !drained; {
					select {
					case <-w.doc.Events():
					default:
						drained = true
					}
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	copyFile(t, v2, module)
	waitFor(t, 10*time.Second, func() bool {
		return strings.Contains(s.log.String(), "swapauthz") && strings.Contains(s.log.String(), "2.0.0")
	},
		"the server loads version 2.0.0")
	time.Sleep(700 * time.Millisecond)
	close(stop)
	wg.Wait()

	// New decisions come from the new module: mallory is read-only on a fresh connection.
	conn, err := client.Dial(ctx, s.wsURL(), client.Options{Token: "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d, err := conn.Join(ctx, "swapload", "text")
	if err != nil {
		t.Fatal(err)
	}
	if d.Access() != "read" {
		t.Errorf("mallory's access after the swap: %q, want read", d.Access())
	}
	if _, err := d.Submit(ctx, json.RawMessage(`["m"]`), 0); err == nil {
		t.Errorf("mallory could still write after the swap")
	}
	// No op lost or applied twice.
	log := getOps(t, s, "swapload")
	seen := map[string]int64{}
	for i, op := range log.Ops {
		if op.Revision != int64(i+1) {
			t.Fatalf("op log has revision %d at %d", op.Revision, i)
		}
		id := fmt.Sprintf("%s/%d", op.ClientID, op.Seq)
		if _, dup := seen[id]; dup {
			t.Fatalf("%s applied twice", id)
		}
		seen[id] = op.Revision
	}
	for _, w := range writers {
		for seq, rev := range w.acked {
			if got, ok := seen[fmt.Sprintf("%s/%d", w.name, seq)]; !ok || got != rev {
				t.Errorf("%s seq %d acked at %d; log has %d (present %v)", w.name, seq, rev, got, ok)
			}
		}
	}
	if len(writers[0].acked) == 0 || len(writers[1].acked) == 0 {
		t.Fatalf("writers made no progress: alice %d, bob %d", len(writers[0].acked), len(writers[1].acked))
	}
	if writers[0].denied+writers[1].denied > 0 {
		t.Errorf("alice or bob had ops refused: %d, %d", writers[0].denied, writers[1].denied)
	}
	if writers[2].denied == 0 && len(writers[2].acked) > 0 {
		// mallory kept writing through the swap: her connection must have been re-checked.
		t.Errorf("mallory was never refused after the swap (%d ops acked)", len(writers[2].acked))
	}
	t.Logf("acked: alice %d, bob %d, mallory %d (refused %d); log %d ops",
		len(writers[0].acked), len(writers[1].acked), len(writers[2].acked), writers[2].denied, len(log.Ops))
}

// TestManagementAuthorizerHotSwap: the management API's authorizer module is picked up from
// disk like the main one: allow-all lets anyone list, acl with an empty config then refuses.
func TestManagementAuthorizerHotSwap(t *testing.T) {
	plugins := filepath.Join(filepath.Dir(binPath), "plugins")
	module := filepath.Join(t.TempDir(), "mgmt.wasm")
	copyFile(t, filepath.Join(plugins, "allow-all.wasm"), module)
	s := startServer(t, "", "--config", writeConfig(t, "plugins:\n  watchInterval: 100ms\n  management: {module: "+module+"}\n"))
	list := func() int { return httpJSONAuth(t, "GET", s.url("/v1/admin/docs"), "anyone", nil, nil) }
	if got := list(); got != 200 {
		t.Fatalf("admin list under allow-all: %d", got)
	}
	copyFile(t, filepath.Join(plugins, "acl.wasm"), module)
	deadline := time.Now().Add(10 * time.Second)
	for list() != 403 {
		if time.Now().After(deadline) {
			t.Fatalf("the management authorizer was never swapped\n%s", s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(s.log.String(), "management authorizer swapped") {
		t.Fatalf("no swap logged\n%s", s.log.String())
	}
}
