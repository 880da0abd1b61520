package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/opstream/opstream/host"
)

// TestLoggerCarriesTraceIDs: the server's logger, in both formats, stamps the trace and span
// ids of the context a record is logged with.
func TestLoggerCarriesTraceIDs(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		log, err := newLogger(&buf, host.LogConfig{Format: format})
		if err != nil {
			t.Fatal(err)
		}
		log.InfoContext(ctx, "traced")
		log.Info("untraced")
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%s: %d lines: %q", format, len(lines), buf.String())
		}
		for i, want := range []bool{true, false} {
			has := strings.Contains(lines[i], sc.TraceID().String()) && strings.Contains(lines[i], sc.SpanID().String())
			if has != want {
				t.Errorf("%s line %d: trace ids present %v, want %v: %s", format, i, has, want, lines[i])
			}
		}
		if format == "json" {
			var rec map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || rec["trace_id"] != sc.TraceID().String() {
				t.Errorf("json record %v %v", rec, err)
			}
		}
	}
}
