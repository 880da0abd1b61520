package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Span names. One opstream.session.apply_op span per submitted op; its children are
// opstream.engine.transform (only when the op is rebased over concurrent ops),
// opstream.engine.apply, opstream.store.append and opstream.backplane.publish.
const (
	SpanApplyOp          = "opstream.session.apply_op"
	SpanEngineTransform  = "opstream.engine.transform"
	SpanEngineApply      = "opstream.engine.apply"
	SpanStoreAppend      = "opstream.store.append"
	SpanBackplanePublish = "opstream.backplane.publish"
)

// Span attribute keys.
const (
	AttrDocID          = attribute.Key("doc.id")
	AttrPeerID         = attribute.Key("peer.id")
	AttrOpSize         = attribute.Key("op.size")
	AttrOpBaseRevision = attribute.Key("op.base_revision")
	AttrOpNewRevision  = attribute.Key("op.new_revision")
	AttrEngineName     = attribute.Key("engine.name")
	AttrOpTransforms   = attribute.Key("op.transforms")
	// AttrErrorCode carries the protocol error code (for example "InvalidOp") of a failed span.
	AttrErrorCode = attribute.Key("error.code")
)

// Tracer starts OpStream's spans. When tracing is off, Start returns the context unchanged and
// a no-op span without allocating, so the hot path may start a span per op unconditionally.
// A Tracer is safe for concurrent use.
type Tracer struct {
	t  trace.Tracer
	on bool
}

// NewTracer wraps tp's "OpStream" tracer (for tests and tools that build their own provider).
func NewTracer(tp trace.TracerProvider) *Tracer {
	_, noop := tp.(tracenoop.TracerProvider)
	return &Tracer{t: tp.Tracer(ScopeName), on: !noop}
}

var noopSpan trace.Span = tracenoop.Span{}

// Start starts a span named name (one of the Span* constants) as a child of the span in ctx.
// End the span on every path. Set attributes with the Set* helpers, which do nothing on
// spans that are not recorded.
func (t *Tracer) Start(ctx context.Context, name string) (context.Context, trace.Span) {
	if t == nil || !t.on {
		return ctx, noopSpan
	}
	return t.t.Start(ctx, name)
}

// Enabled reports whether spans may be recorded.
func (t *Tracer) Enabled() bool { return t != nil && t.on }

// SetOpAttributes sets the attributes of an opstream.session.apply_op span.
func SetOpAttributes(span trace.Span, docID, peerID string, size int, baseRevision int64) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(
		AttrDocID.String(docID),
		AttrPeerID.String(peerID),
		AttrOpSize.Int(size),
		AttrOpBaseRevision.Int64(baseRevision),
	)
}

// SetNewRevision records the revision an op was assigned.
func SetNewRevision(span trace.Span, revision int64) {
	if span.IsRecording() {
		span.SetAttributes(AttrOpNewRevision.Int64(revision))
	}
}

// SetEngine records the engine (document type) that handled the op.
func SetEngine(span trace.Span, engine string) {
	if span.IsRecording() {
		span.SetAttributes(AttrEngineName.String(engine))
	}
}

// SetTransforms records how many concurrent ops the op was rebased over.
func SetTransforms(span trace.Span, n int) {
	if span.IsRecording() {
		span.SetAttributes(AttrOpTransforms.Int(n))
	}
}

// SetStatus sets span's status from the outcome of its work: code is the protocol error code
// ("" when none) and err the Go error (nil when none). A code marks the span as an error with
// the code as the status description and the error.code attribute; err alone marks it as an
// error described by err; neither leaves the status unset (success). err is recorded as an
// exception event. Error messages may hold user data: pass codes, not messages, when in doubt.
func SetStatus(span trace.Span, code string, err error) {
	if !span.IsRecording() || (code == "" && err == nil) {
		return
	}
	if err != nil {
		span.RecordError(err)
	}
	if code != "" {
		span.SetAttributes(AttrErrorCode.String(code))
		span.SetStatus(codes.Error, code)
		return
	}
	span.SetStatus(codes.Error, err.Error())
}
