package telemetry

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// work stands in for the engine and store calls an op makes; it is not inlined so the plain
// path and the traced paths do the same work.
//
//go:noinline
func work(n int) int { return n*31 + 7 }

func plainOp(_ context.Context, n int) int {
	n = work(n)
	n = work(n)
	n = work(n)
	return work(n)
}

// tracedOp is plainOp with the span tree of a rebased op: a root and four children.
func tracedOp(ctx context.Context, tr *Tracer, n int) int {
	ctx, span := tr.Start(ctx, SpanApplyOp)
	SetOpAttributes(span, "doc-1", "peer-1", 42, int64(n))
	SetEngine(span, "text")
	_, s := tr.Start(ctx, SpanEngineTransform)
	n = work(n)
	SetTransforms(s, 3)
	s.End()
	_, s = tr.Start(ctx, SpanEngineApply)
	n = work(n)
	s.End()
	_, s = tr.Start(ctx, SpanStoreAppend)
	n = work(n)
	s.End()
	_, s = tr.Start(ctx, SpanBackplanePublish)
	n = work(n)
	s.End()
	SetNewRevision(span, int64(n))
	SetStatus(span, "", nil)
	span.End()
	return n
}

var sink int

// BenchmarkApplyOp compares one op's path without spans ("plain") with the same path starting
// five spans: tracing off through Tracer (the server's default), the bare noop tracer, tracing
// on but sampled out, and tracing on and recorded.
func BenchmarkApplyOp(b *testing.B) {
	ctx := context.Background()
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sink = plainOp(ctx, i)
		}
	})
	tel, err := New(ctx, Config{}, "bench", discardLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	b.Run("tracing-off", func(b *testing.B) {
		b.ReportAllocs()
		tr := tel.Tracer()
		for i := 0; b.Loop(); i++ {
			sink = tracedOp(ctx, tr, i)
		}
	})
	b.Run("tracing-off-bare-noop-tracer", func(b *testing.B) {
		b.ReportAllocs()
		tr := &Tracer{t: tracenoop.NewTracerProvider().Tracer(ScopeName), on: true}
		for i := 0; b.Loop(); i++ {
			sink = tracedOp(ctx, tr, i)
		}
	})
	for _, c := range []struct {
		name    string
		sampler sdktrace.Sampler
	}{{"tracing-on-sampled-out", sdktrace.NeverSample()}, {"tracing-on-recorded", sdktrace.AlwaysSample()}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(c.sampler),
				sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter())))
			defer tp.Shutdown(ctx)
			tr := NewTracer(tp)
			for i := 0; b.Loop(); i++ {
				sink = tracedOp(ctx, tr, i)
			}
		})
	}
}

// BenchmarkMetricsHotPath is what the document actor records per acknowledged op.
func BenchmarkMetricsHotPath(b *testing.B) {
	ctx := context.Background()
	tel, err := New(ctx, Config{}, "bench", discardLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	m := tel.Metrics()
	b.ReportAllocs()
	for b.Loop() {
		m.OpProcessed(ctx, "text")
		m.ApplyLatency(ctx, "text", 300*time.Microsecond)
		m.TransformsPerOp(ctx, 2)
		m.FanOut(ctx, 9)
	}
}
