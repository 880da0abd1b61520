package cluster

import (
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func TestTraceparentRoundTrip(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	tp := traceparent(sc)
	if tp != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("traceparent = %q", tp)
	}
	// The same header the OpenTelemetry propagator writes.
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(t.Context(), sc), carrier)
	if carrier["traceparent"] != tp {
		t.Fatalf("propagator wrote %q, we wrote %q", carrier["traceparent"], tp)
	}
	got := parseTraceparent(tp)
	if got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() || !got.IsRemote() {
		t.Fatalf("parsed %+v", got)
	}
	if traceparent(trace.SpanContext{}) != "" {
		t.Fatal("an invalid span context was encoded")
	}
	for name, bad := range map[string]string{
		"empty":        "",
		"short":        tp[:54],
		"version ff":   "ff" + tp[2:],
		"zero trace":   "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"zero span":    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"not hex":      "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
		"no separator": "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	} {
		if got := parseTraceparent(bad); got.IsValid() {
			t.Errorf("%s: %q parsed as valid %+v", name, bad, got)
		}
	}
}

// FuzzParseTraceparent: whatever another node sends, parsing never panics, and what parses
// encodes back to the same header.
func FuzzParseTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		sc := parseTraceparent(s)
		if !sc.IsValid() {
			return
		}
		if back := parseTraceparent(traceparent(sc)); back.TraceID() != sc.TraceID() || back.SpanID() != sc.SpanID() || back.TraceFlags() != sc.TraceFlags() {
			t.Fatalf("%q: round trip changed %+v into %+v", s, sc, back)
		}
	})
}
