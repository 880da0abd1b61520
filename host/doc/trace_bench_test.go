package doc

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/opstream/opstream/host/store"
	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/plugins/storage/memory"
	"github.com/opstream/opstream/pluginsdk/storage"
)

// BenchmarkSubmitTracing runs the submit path as a session does (start apply_op, submit with
// its span context, end it in the ack callback) through a real actor, committer and memory
// provider:
//
//   - none: no tracer at all (the code path before tracing was wired);
//   - off: tracing configured off (the default), OpenTelemetry's no-op provider;
//   - on: every op recorded by the SDK into a span recorder.
//
// "off" against "none" is the cost of tracing when it is off: nothing measurable.
//
//	go test -run XXX -bench SubmitTracing -benchmem -count 6 ./host/doc/ | benchstat -col /tracing -
func BenchmarkSubmitTracing(b *testing.B) {
	for _, bc := range []struct {
		name   string
		tracer *telemetry.Tracer
	}{
		{"tracing=none", nil},
		{"tracing=off", telemetry.NewTracer(tracenoop.NewTracerProvider())},
		{"tracing=on", telemetry.NewTracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder())))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			mem := memory.New()
			com := store.NewCommitter(mem, store.CommitterConfig{}, nil)
			reg := NewRegistry(Config{Tracer: bc.tracer, RecentOps: 64}, mem, logEngine{}, com, nil)
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = reg.Close(ctx)
				_ = com.Close(ctx)
			}()
			key := storage.DocKey{Tenant: "t", ID: "bench"}
			ctx := context.Background()
			op := json.RawMessage(`"x"`)
			done := make(chan error, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sctx, span := bc.tracer.Start(ctx, telemetry.SpanApplyOp)
				telemetry.SetOpAttributes(span, key.ID, "peer", len(op), int64(i))
				req := SubmitRequest{DocType: "log", BaseRevision: int64(i), Op: op, ClientID: "c", Seq: uint64(i + 1),
					SpanContext: span.SpanContext()}
				err := reg.Do(sctx, key, func(d *Doc) error {
					return d.Submit(sctx, req, func(res SubmitResult, err error) {
						telemetry.SetNewRevision(span, res.Revision)
						span.End()
						done <- err
					})
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
