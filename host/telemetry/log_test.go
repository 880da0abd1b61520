package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestLogHandlerAddsTraceAndSpanIDs(t *testing.T) {
	t.Parallel()
	tel, _ := newRecorded(t)
	ctx, span := tel.Tracer().Start(context.Background(), SpanApplyOp)
	defer span.End()
	sc := span.SpanContext()
	traceID, spanID := sc.TraceID().String(), sc.SpanID().String()

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		log := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "doc")
		log.InfoContext(ctx, "op applied", "rev", 3)
		log.Info("no context")
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines, want 2", len(lines))
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
			t.Fatal(err)
		}
		if rec[LogTraceID] != traceID || rec[LogSpanID] != spanID || rec["component"] != "doc" || rec["rev"] != float64(3) {
			t.Errorf("record %v: want trace_id %s, span_id %s, component and rev", rec, traceID, spanID)
		}
		rec = nil
		if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
			t.Fatal(err)
		}
		if _, ok := rec[LogTraceID]; ok {
			t.Errorf("record without a span context has a trace id: %v", rec)
		}
	})
	t.Run("text", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		log := slog.New(NewLogHandler(slog.NewTextHandler(&buf, nil)))
		log.WarnContext(ctx, "slow append")
		if out := buf.String(); !strings.Contains(out, "trace_id="+traceID) || !strings.Contains(out, "span_id="+spanID) {
			t.Errorf("text record %q lacks the ids", out)
		}
	})
	t.Run("remote parent with tracing off", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		log := slog.New(NewLogHandler(slog.NewTextHandler(&buf, nil)))
		remote := trace.ContextWithRemoteSpanContext(context.Background(), sc)
		log.InfoContext(remote, "forwarded")
		if !strings.Contains(buf.String(), "trace_id="+traceID) {
			t.Errorf("record %q lacks the caller's trace id", buf.String())
		}
	})
	t.Run("level passes through", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		log := slog.New(NewLogHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
		log.InfoContext(ctx, "dropped")
		if buf.Len() != 0 {
			t.Errorf("info logged at warn level: %q", buf.String())
		}
	})
	if h := NewLogHandler(slog.NewTextHandler(&bytes.Buffer{}, nil)); NewLogHandler(h) != h {
		t.Error("wrapping twice must not add the ids twice")
	}
}
