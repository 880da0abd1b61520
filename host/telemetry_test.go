package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/opstream/opstream/client"
	"github.com/opstream/opstream/host"
	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/internal/testredis"
)

// sharedDataDir is the data dir of the servers whose storage is elsewhere (memory, Redis).
var sharedDataDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "opstream-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedDataDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// opstreamBin is the built binary the servers re-execute as their storage plugin.
func opstreamBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("OPSTREAM_BIN"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "bin", "opstream")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run `make build` first: %v", p, err)
	}
	return p
}

// startNode runs a server in this process with its spans going to rec.
func startNode(t *testing.T, cfg host.Config, rec *tracetest.SpanRecorder) *host.Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.DataDir == "" {
		// Memory and Redis storage keep nothing here but the WASM compilation cache: sharing
		// it across the package's servers compiles the built-in modules once.
		cfg.DataDir = sharedDataDir
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := host.New(ctx, cfg, host.Options{
		Executable: opstreamBin(t),
		Telemetry:  []telemetry.Option{telemetry.WithSpanProcessor(rec)},
	})
	if err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("server did not stop in 30s")
		}
	})
	return srv
}

// waitSpans waits until rec has ended a span named name that match accepts, and returns all
// ended spans then.
func waitSpans(t *testing.T, rec *tracetest.SpanRecorder, name string, match func(sdktrace.ReadOnlySpan) bool) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		spans := rec.Ended()
		for _, s := range spans {
			if s.Name() == name && match(s) {
				return spans
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s span in 10s; have %s", name, spanNames(spans))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func spanNames(spans []sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %s trace=%s span=%s parent=%s", s.Name(), s.SpanContext().TraceID(), s.SpanContext().SpanID(), s.Parent().SpanID())
	}
	return b.String()
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func intAttr(t *testing.T, s sdktrace.ReadOnlySpan, key attribute.Key) int64 {
	t.Helper()
	v, ok := attr(s, key)
	if !ok {
		t.Fatalf("span %s has no %s attribute: %v", s.Name(), key, s.Attributes())
	}
	return v.AsInt64()
}

// childrenOf returns the spans whose parent is span, by name.
func childrenOf(spans []sdktrace.ReadOnlySpan, parent trace.SpanContext) map[string]sdktrace.ReadOnlySpan {
	out := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if s.Parent().SpanID() == parent.SpanID() && s.SpanContext().TraceID() == parent.TraceID() {
			out[s.Name()] = s
		}
	}
	return out
}

func dial(t *testing.T, ctx context.Context, addr string) *client.Conn {
	t.Helper()
	c, err := client.Dial(ctx, "ws://"+addr+"/v1/ws", client.Options{})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func drain(d *client.Doc) {
	go func() {
		for range d.Events() {
		}
	}()
}

// TestTraceRebasedOp submits an op based on an old revision and checks its span tree: one
// apply_op root with the op's attributes, and transform (the op was rebased over one op),
// apply and store.append children in the same trace.
func TestTraceRebasedOp(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	srv := startNode(t, host.Config{Storage: host.StorageConfig{Provider: "memory"}}, rec)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := dial(t, ctx, srv.Addr()).Join(ctx, "traced", "text")
	if err != nil {
		t.Fatal(err)
	}
	drain(d)
	if rev, err := d.Submit(ctx, json.RawMessage(`["hello"]`), 0); err != nil || rev != 1 {
		t.Fatalf("first op: rev %d, %v", rev, err)
	}
	// Based on revision 0: the server rebases it over revision 1.
	if rev, err := d.Submit(ctx, json.RawMessage(`[" world"]`), 0); err != nil || rev != 2 {
		t.Fatalf("rebased op: rev %d, %v", rev, err)
	}
	isRebased := func(s sdktrace.ReadOnlySpan) bool {
		v, ok := attr(s, telemetry.AttrOpNewRevision)
		return ok && v.AsInt64() == 2
	}
	spans := waitSpans(t, rec, telemetry.SpanApplyOp, isRebased)
	var root sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == telemetry.SpanApplyOp && isRebased(s) {
			root = s
		}
	}
	if root.Parent().IsValid() {
		t.Errorf("apply_op has a parent %s; want a root span", root.Parent().SpanID())
	}
	if v, _ := attr(root, telemetry.AttrDocID); v.AsString() != "traced" {
		t.Errorf("doc.id = %q", v.AsString())
	}
	if v, _ := attr(root, telemetry.AttrPeerID); v.AsString() == "" {
		t.Errorf("peer.id missing: %v", root.Attributes())
	}
	if v, _ := attr(root, telemetry.AttrEngineName); v.AsString() != "text" {
		t.Errorf("engine.name = %q", v.AsString())
	}
	if got := intAttr(t, root, telemetry.AttrOpBaseRevision); got != 0 {
		t.Errorf("op.base_revision = %d", got)
	}
	if got := intAttr(t, root, telemetry.AttrOpTransforms); got != 1 {
		t.Errorf("apply_op op.transforms = %d, want 1", got)
	}
	if got := intAttr(t, root, telemetry.AttrOpSize); got != int64(len(`[" world"]`)) {
		t.Errorf("op.size = %d", got)
	}
	if root.Status().Code == codes.Error {
		t.Errorf("apply_op status %v", root.Status())
	}
	kids := childrenOf(spans, root.SpanContext())
	for _, name := range []string{telemetry.SpanEngineTransform, telemetry.SpanEngineApply, telemetry.SpanStoreAppend} {
		if _, ok := kids[name]; !ok {
			t.Errorf("apply_op has no %s child; spans:%s", name, spanNames(spans))
		}
	}
	if tr, ok := kids[telemetry.SpanEngineTransform]; ok {
		if got := intAttr(t, tr, telemetry.AttrOpTransforms); got != 1 {
			t.Errorf("transform op.transforms = %d, want 1", got)
		}
	}
	if _, ok := kids[telemetry.SpanBackplanePublish]; ok {
		t.Errorf("a single node published to the backplane")
	}
	// The first op was at the head: no transform span in its trace.
	for _, s := range spans {
		if s.Name() == telemetry.SpanApplyOp && !isRebased(s) {
			if _, ok := childrenOf(spans, s.SpanContext())[telemetry.SpanEngineTransform]; ok {
				t.Errorf("the op at the head has a transform span")
			}
		}
	}
}

// TestTraceAcrossNodes submits through a node that does not own the document: the op is one
// trace, its apply_op and backplane.publish spans on the entry node, its engine and store
// spans on the owner, children of the entry node's apply_op.
func TestTraceAcrossNodes(t *testing.T) {
	l, err := testredisPort()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := testredis.Start(t.TempDir(), l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Stop)
	cfg := func(node string) host.Config {
		return host.Config{
			NodeID: node,
			Storage: host.StorageConfig{Provider: "redis", Config: map[string]any{
				"addr": rs.Addr(), "keyPrefix": "tracetest:store:",
			}},
			Backplane: host.BackplaneConfig{Type: "redis", Addr: rs.Addr(), KeyPrefix: "tracetest:bp:"},
		}
	}
	recA, recB := tracetest.NewSpanRecorder(), tracetest.NewSpanRecorder()
	a := startNode(t, cfg("a"), recA)
	b := startNode(t, cfg("b"), recB)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The first node to load a document owns it: join on a first.
	da, err := dial(t, ctx, a.Addr()).Join(ctx, "shared", "text")
	if err != nil {
		t.Fatal(err)
	}
	drain(da)
	if _, err := da.Submit(ctx, json.RawMessage(`["a"]`), 0); err != nil {
		t.Fatal(err)
	}
	db, err := dial(t, ctx, b.Addr()).Join(ctx, "shared", "text")
	if err != nil {
		t.Fatal(err)
	}
	drain(db)
	// Based on revision 0 again: rebased on the owner.
	if rev, err := db.Submit(ctx, json.RawMessage(`["b"]`), 0); err != nil || rev != 2 {
		t.Fatalf("forwarded op: rev %d, %v", rev, err)
	}
	waitSpans(t, recB, telemetry.SpanBackplanePublish, func(sdktrace.ReadOnlySpan) bool { return true })
	var root sdktrace.ReadOnlySpan
	spansB := waitSpans(t, recB, telemetry.SpanApplyOp, func(s sdktrace.ReadOnlySpan) bool {
		v, ok := attr(s, telemetry.AttrOpNewRevision)
		if ok && v.AsInt64() == 2 {
			root = s
		}
		return ok && v.AsInt64() == 2
	})
	if _, ok := childrenOf(spansB, root.SpanContext())[telemetry.SpanBackplanePublish]; !ok {
		t.Fatalf("entry node: no backplane.publish child of apply_op:%s", spanNames(spansB))
	}
	for _, s := range spansB {
		if s.Name() == telemetry.SpanEngineApply || s.Name() == telemetry.SpanStoreAppend {
			t.Errorf("the entry node applied or stored the op itself (%s)", s.Name())
		}
	}
	isChild := func(s sdktrace.ReadOnlySpan) bool {
		return s.SpanContext().TraceID() == root.SpanContext().TraceID() && s.Parent().SpanID() == root.SpanContext().SpanID()
	}
	spansA := waitSpans(t, recA, telemetry.SpanStoreAppend, isChild)
	kids := childrenOf(spansA, root.SpanContext())
	for _, name := range []string{telemetry.SpanEngineTransform, telemetry.SpanEngineApply, telemetry.SpanStoreAppend} {
		s, ok := kids[name]
		if !ok {
			t.Errorf("owner node: no %s in the entry node's trace; spans:%s", name, spanNames(spansA))
			continue
		}
		if !s.Parent().IsRemote() {
			t.Errorf("owner node: %s's parent is not remote", name)
		}
	}
}

// testredisPort picks a free loopback port for redis-server.
func testredisPort() (int, error) {
	addr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
