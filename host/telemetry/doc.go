// Package telemetry is OpStream's OpenTelemetry wiring: one TracerProvider (tracer "OpStream"),
// one MeterProvider (meter "OpStream") exported as Prometheus text on GET /metrics and, when
// configured, over OTLP; the Metrics the hot path records into; span names, attribute keys and
// status helpers; and a slog handler that stamps trace and span ids on every record.
//
// Nothing here touches OpenTelemetry's global providers: the server owns one Telemetry, hands
// its Tracer and Metrics to the parts that record, and calls Shutdown last, after everything
// that records has stopped.
//
// Goroutines: the SDK's batch span processor and periodic metric reader run their own
// goroutines; Shutdown flushes and stops them. Metrics methods are safe for concurrent use and
// never block; gauge callbacks registered with RegisterGauges run on the goroutine that collects
// (a /metrics request or the OTLP reader), so they must be fast and goroutine-safe.
//
// When tracing is off the TracerProvider is noop.NewTracerProvider and Tracer.Start returns
// the context unchanged: a span per op then costs a branch (see BenchmarkApplyOp).
package telemetry
