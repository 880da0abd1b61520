package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys the handler from NewLogHandler adds.
const (
	LogTraceID = "trace_id"
	LogSpanID  = "span_id"
)

// NewLogHandler wraps h so every record logged with a context that carries a valid span
// context (logger.InfoContext(ctx, ...)) gets trace_id and span_id attributes (hex, as in
// W3C traceparent), whatever h's format: slog.NewJSONHandler, slog.NewTextHandler or another.
// Records logged without such a context pass through unchanged. The ids follow the groups
// opened with WithGroup, like any attribute added at log time.
//
// The ids come from the context even when tracing is off, so a request forwarded with a
// traceparent header still logs its caller's trace id.
func NewLogHandler(h slog.Handler) slog.Handler {
	if th, ok := h.(traceHandler); ok {
		return th
	}
	return traceHandler{h}
}

type traceHandler struct{ inner slog.Handler }

func (h traceHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r = r.Clone()
			r.AddAttrs(
				slog.String(LogTraceID, sc.TraceID().String()),
				slog.String(LogSpanID, sc.SpanID().String()),
			)
		}
	}
	return h.inner.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.inner.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.inner.WithGroup(name)}
}
