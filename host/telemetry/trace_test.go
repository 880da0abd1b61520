package telemetry

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// applyOp is the shape of the span tree the document actor produces for one op.
func applyOp(ctx context.Context, tr *Tracer, rebase bool, failCode string) {
	ctx, span := tr.Start(ctx, SpanApplyOp)
	defer span.End()
	SetOpAttributes(span, "doc-1", "peer-1", 42, 7)
	SetEngine(span, "text")
	if rebase {
		_, s := tr.Start(ctx, SpanEngineTransform)
		SetTransforms(s, 3)
		s.End()
		SetTransforms(span, 3)
	}
	_, s := tr.Start(ctx, SpanEngineApply)
	SetEngine(s, "text")
	s.End()
	if failCode != "" {
		SetStatus(span, failCode, errors.New("append refused"))
		return
	}
	_, s = tr.Start(ctx, SpanStoreAppend)
	s.End()
	_, s = tr.Start(ctx, SpanBackplanePublish)
	s.End()
	SetNewRevision(span, 11)
	SetStatus(span, "", nil)
}

func newRecorded(t *testing.T) (*Telemetry, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tel, err := New(context.Background(), Config{}, "node", discardLogger(), WithSpanProcessor(rec))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel, rec
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestSpanTreeForRebasedOp(t *testing.T) {
	t.Parallel()
	tel, rec := newRecorded(t)
	if !tel.Tracer().Enabled() {
		t.Fatal("a span processor must turn tracing on")
	}
	applyOp(context.Background(), tel.Tracer(), true, "")
	spans := rec.Ended()
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = s
	}
	if len(spans) != 5 || len(byName) != 5 {
		t.Fatalf("%d spans, want 5 distinct", len(spans))
	}
	root := byName[SpanApplyOp]
	if root == nil || root.Parent().IsValid() {
		t.Fatalf("%s must be the root span", SpanApplyOp)
	}
	if root.InstrumentationScope().Name != "OpStream" {
		t.Errorf("tracer name %q, want OpStream", root.InstrumentationScope().Name)
	}
	for _, name := range []string{SpanEngineTransform, SpanEngineApply, SpanStoreAppend, SpanBackplanePublish} {
		s := byName[name]
		if s == nil {
			t.Fatalf("no %s span", name)
		}
		if s.Parent().SpanID() != root.SpanContext().SpanID() || s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Errorf("%s is not a child of %s", name, SpanApplyOp)
		}
	}
	a := attrs(root)
	want := map[attribute.Key]attribute.Value{
		AttrDocID: attribute.StringValue("doc-1"), AttrPeerID: attribute.StringValue("peer-1"),
		AttrOpSize: attribute.IntValue(42), AttrOpBaseRevision: attribute.Int64Value(7),
		AttrOpNewRevision: attribute.Int64Value(11), AttrEngineName: attribute.StringValue("text"),
		AttrOpTransforms: attribute.IntValue(3),
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("attribute %s = %v, want %v", k, a[k].Emit(), v.Emit())
		}
	}
	if root.Status().Code != codes.Unset {
		t.Errorf("status %v, want unset for success", root.Status())
	}
}

func TestSpanTreeWithoutRebaseHasNoTransform(t *testing.T) {
	t.Parallel()
	tel, rec := newRecorded(t)
	applyOp(context.Background(), tel.Tracer(), false, "")
	for _, s := range rec.Ended() {
		if s.Name() == SpanEngineTransform {
			t.Fatal("an op at the head must not have a transform span")
		}
	}
	if n := len(rec.Ended()); n != 4 {
		t.Errorf("%d spans, want 4", n)
	}
}

func TestSetStatusFromErrorCode(t *testing.T) {
	t.Parallel()
	tel, rec := newRecorded(t)
	applyOp(context.Background(), tel.Tracer(), false, "Unavailable")
	var root sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == SpanApplyOp {
			root = s
		}
	}
	if root.Status().Code != codes.Error || root.Status().Description != "Unavailable" {
		t.Errorf("status %+v, want Error/Unavailable", root.Status())
	}
	if attrs(root)[AttrErrorCode] != attribute.StringValue("Unavailable") {
		t.Errorf("error.code attribute missing")
	}
	if ev := root.Events(); len(ev) != 1 || ev[0].Name != "exception" {
		t.Errorf("events %v, want one exception", ev)
	}

	// An error without a code is described by the error.
	_, span := tel.Tracer().Start(context.Background(), SpanStoreAppend)
	SetStatus(span, "", errors.New("disk full"))
	span.End()
	ended := rec.Ended()
	if last := ended[len(ended)-1]; last.Status().Code != codes.Error || last.Status().Description != "disk full" {
		t.Errorf("status %+v, want Error/disk full", last.Status())
	}
}

// TestTraceAcrossNodes forwards an op from one node to another over the W3C trace context
// headers: both nodes' spans belong to one trace.
func TestTraceAcrossNodes(t *testing.T) {
	t.Parallel()
	a, recA := newRecorded(t)
	memB := tracetest.NewInMemoryExporter() // node b records through an exporter instead
	b, err := New(context.Background(), Config{}, "node-b", discardLogger(), WithSpanExporter(memB))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(context.Background())

	ctx, span := a.Tracer().Start(context.Background(), SpanApplyOp)
	h := http.Header{}
	a.InjectHTTP(ctx, h)
	span.End()
	if h.Get("traceparent") == "" {
		t.Fatal("no traceparent header injected")
	}

	remote := b.ExtractHTTP(context.Background(), h)
	applyOp(remote, b.Tracer(), true, "")

	rootA := recA.Ended()[0]
	spansB := memB.GetSpans()
	if len(spansB) != 5 {
		t.Fatalf("node b exported %d spans, want 5", len(spansB))
	}
	for _, s := range spansB.Snapshots() {
		if s.SpanContext().TraceID() != rootA.SpanContext().TraceID() {
			t.Errorf("node b span %s in trace %s, want %s", s.Name(), s.SpanContext().TraceID(), rootA.SpanContext().TraceID())
		}
		if s.Name() == SpanApplyOp && (s.Parent().SpanID() != rootA.SpanContext().SpanID() || !s.Parent().IsRemote()) {
			t.Errorf("node b's %s must be a child of node a's span through a remote parent", SpanApplyOp)
		}
	}
}

func TestSamplingRatioZeroRecordsNothing(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tel, err := New(context.Background(), Config{}, "n", discardLogger(), WithSpanProcessor(rec), WithSampler(sdktrace.NeverSample()))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	applyOp(context.Background(), tel.Tracer(), true, "")
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded, want 0", n)
	}
}

// TestTracingOffIsNoop is not parallel: AllocsPerRun counts the whole process's allocations.
func TestTracingOffIsNoop(t *testing.T) {
	tel, err := New(context.Background(), Config{}, "n", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if _, ok := tel.TracerProvider().(tracenoop.TracerProvider); !ok {
		t.Fatalf("TracerProvider is %T, want noop.TracerProvider", tel.TracerProvider())
	}
	if tel.Tracer().Enabled() {
		t.Error("tracer enabled with the exporter none")
	}
	ctx := context.Background()
	got, span := tel.Tracer().Start(ctx, SpanApplyOp)
	if got != ctx || span.IsRecording() || span.SpanContext().IsValid() {
		t.Error("with tracing off Start must return the same context and a no-op span")
	}
	if n := testing.AllocsPerRun(100, func() { applyOp(ctx, tel.Tracer(), true, "") }); n != 0 {
		t.Errorf("a traced op allocates %v times with tracing off, want 0", n)
	}
	// A nil Tracer is off too.
	var nilTracer *Tracer
	if _, s := nilTracer.Start(ctx, SpanApplyOp); s.IsRecording() {
		t.Error("nil tracer recorded")
	}
}
