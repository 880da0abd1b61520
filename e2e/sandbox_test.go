package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// buildHostile compiles the hostile test engine.
func buildHostile(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "hostile.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./testdata/hostile")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hostile engine: %v\n%s", err, b)
	}
	return out
}

// TestHostileEngineIsContained runs an engine that loops, exhausts its memory, panics and
// answers oversized output, through the real server: each misbehaving op gets a clear error,
// the document recovers from storage, and a concurrent load on a text document loses nothing.
func TestHostileEngineIsContained(t *testing.T) {
	module := buildHostile(t)
	s := startServer(t, "", "--config", writeConfig(t, fmt.Sprintf(`plugins:
  memoryLimitMiB: 64
  engineCallTimeout: 300ms
  engines:
    hostile: {module: %s}
`, module)))

	// A steady writer on a text document, all the while.
	stop := make(chan struct{})
	var (
		wg    sync.WaitGroup
		acked []uint64
		bad   []string
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		rev := int64(0)
		for seq := uint64(1); ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			op := []any{"x"}
			if rev > 0 {
				op = []any{int(rev), "x"}
			}
			code, r, err := tryPost(s, "steady", rev, op, "steady", seq)
			if err != nil || code != 200 {
				bad = append(bad, fmt.Sprintf("seq %d: %d %v %+v", seq, code, err, r.Error))
				return
			}
			acked = append(acked, seq)
			rev = r.Revision
		}
	}()

	post := func(op any, seq uint64) (int, string) {
		var r submitResp
		code := httpJSON(t, "POST", s.url("/v1/docs/h/ops"), map[string]any{"type": "hostile", "baseRevision": 0, "op": op, "clientId": "h", "seq": seq}, &r)
		if r.Error != nil {
			return code, r.Error.Code
		}
		return code, ""
	}
	if code, _ := post(5, 1); code != 200 {
		t.Fatalf("first op: %d", code)
	}
	seq := uint64(1)
	for _, c := range []struct {
		op   string
		code int
		err  string
	}{
		{"loop", 503, "Unavailable"}, // cut by the call deadline
		{"bomb", 503, "Unavailable"}, // out of its 64 MiB
		{"panic", 400, "InvalidOp"},  // the SDK turns the panic into a clean guest error
		{"big", 503, "Unavailable"},  // 20 MiB answer refused (rebased over the ops before it)
	} {
		seq++
		start := time.Now()
		code, errCode := post(c.op, seq)
		if code != c.code || errCode != c.err {
			t.Errorf("%s: %d %s, want %d %s", c.op, code, errCode, c.code, c.err)
		}
		op := c.op
		t.Logf("%s answered in %v", op, time.Since(start).Round(time.Millisecond))
		// The document recovers from storage and keeps its value.
		seq++
		if code, _ := post(1, seq); code != 200 {
			t.Fatalf("after %s: a good op got %d", op, code)
		}
	}
	_, d := getDoc(t, s, "h")
	if string(d.Snapshot) != "9" {
		t.Errorf("hostile doc after recovery: %s (want 5+1+1+1+1 = 9)", d.Snapshot)
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("the text document was disturbed: %v", bad)
	}
	ops := getOps(t, s, "steady")
	if len(ops.Ops) != len(acked) {
		t.Fatalf("text doc has %d ops, %d were acked", len(ops.Ops), len(acked))
	}
	t.Logf("%d text ops acked meanwhile, all present", len(acked))
}
