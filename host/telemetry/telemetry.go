package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of OpStream's tracer and meter.
const ScopeName = "OpStream"

// cardinalityLimit caps the series per instrument, a safety net behind the bounded labels.
const cardinalityLimit = 2000

// Telemetry owns the tracer and meter providers and their exporters.
type Telemetry struct {
	cfg       Config
	log       *slog.Logger
	tp        trace.TracerProvider
	sdkTP     *sdktrace.TracerProvider // nil when tracing is off
	mp        metric.MeterProvider
	sdkMP     *sdkmetric.MeterProvider // nil when no reader is configured
	tracer    *Tracer
	metrics   *Metrics
	registry  *prometheus.Registry // nil when Prometheus is off
	handler   http.Handler
	propagate propagation.TextMapPropagator
}

// Option adjusts New; options are for tests and embedding.
type Option func(*options)

type options struct {
	processors []sdktrace.SpanProcessor
	readers    []sdkmetric.Reader
	sampler    sdktrace.Sampler
}

// WithSpanProcessor adds a span processor and turns tracing on whatever the config says. Tests
// pass a tracetest.SpanRecorder, or sdktrace.NewSimpleSpanProcessor(tracetest.NewInMemoryExporter()).
func WithSpanProcessor(p sdktrace.SpanProcessor) Option {
	return func(o *options) { o.processors = append(o.processors, p) }
}

// WithSpanExporter exports every ended span to exp synchronously (no batching) and turns
// tracing on whatever the config says: for tests, with tracetest.NewInMemoryExporter().
func WithSpanExporter(exp sdktrace.SpanExporter) Option {
	return WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(exp))
}

// WithSampler replaces the sampler built from the sampling ratio.
func WithSampler(s sdktrace.Sampler) Option {
	return func(o *options) { o.sampler = s }
}

// WithMetricReader adds a metric reader (for example an sdkmetric.ManualReader in tests).
func WithMetricReader(r sdkmetric.Reader) Option {
	return func(o *options) { o.readers = append(o.readers, r) }
}

// New builds the providers and exporters cfg asks for. nodeID becomes the service.instance.id
// resource attribute. Exporters connect lazily: an unreachable collector does not fail New,
// it logs export errors later. Call Shutdown to flush and stop.
func New(ctx context.Context, cfg Config, nodeID string, log *slog.Logger, opts ...Option) (_ *Telemetry, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.Default()
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	t := &Telemetry{
		cfg: cfg,
		log: log.With("component", "telemetry"),
		propagate: propagation.NewCompositeTextMapPropagator(
			propagation.TraceContext{}, propagation.Baggage{}),
	}
	defer func() {
		if err != nil {
			_ = t.Shutdown(context.WithoutCancel(ctx))
		}
	}()

	attrs := []attribute.KeyValue{attribute.String("service.name", cfg.ServiceName)}
	if nodeID != "" {
		attrs = append(attrs, attribute.String("service.instance.id", nodeID))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}

	if err := t.buildTracing(ctx, res, o); err != nil {
		return nil, err
	}
	if err := t.buildMetrics(ctx, res, o); err != nil {
		return nil, err
	}
	t.metrics, err = NewMetrics(t.mp.Meter(ScopeName))
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Telemetry) buildTracing(ctx context.Context, res *resource.Resource, o options) error {
	cfg := t.cfg.Traces
	if !exporterOn(cfg.Exporter) && len(o.processors) == 0 {
		t.tp = tracenoop.NewTracerProvider()
		t.tracer = &Tracer{t: t.tp.Tracer(ScopeName)}
		return nil
	}
	sampler := o.sampler
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SamplingRatio))
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	if exporterOn(cfg.Exporter) {
		exp, err := newSpanExporter(ctx, cfg.OTLPConfig)
		if err != nil {
			return err
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	for _, p := range o.processors {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(p))
	}
	t.sdkTP = sdktrace.NewTracerProvider(tpOpts...)
	t.tp = t.sdkTP
	t.tracer = &Tracer{t: t.tp.Tracer(ScopeName), on: true}
	return nil
}

func newSpanExporter(ctx context.Context, c OTLPConfig) (sdktrace.SpanExporter, error) {
	switch c.Exporter {
	case ExporterOTLPGRPC:
		opts := []otlptracegrpc.Option{otlptracegrpc.WithTimeout(c.Timeout)}
		if c.Endpoint != "" {
			if isURL(c.Endpoint) {
				opts = append(opts, otlptracegrpc.WithEndpointURL(c.Endpoint))
			} else {
				opts = append(opts, otlptracegrpc.WithEndpoint(c.Endpoint))
			}
		}
		if c.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if len(c.Headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(c.Headers))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("telemetry.traces: start otlp-grpc exporter: %w", err)
		}
		return exp, nil
	case ExporterOTLPHTTP:
		opts := []otlptracehttp.Option{otlptracehttp.WithTimeout(c.Timeout)}
		if c.Endpoint != "" {
			if isURL(c.Endpoint) {
				opts = append(opts, otlptracehttp.WithEndpointURL(withDefaultPath(c.Endpoint, "/v1/traces")))
			} else {
				opts = append(opts, otlptracehttp.WithEndpoint(c.Endpoint))
			}
		}
		if c.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if len(c.Headers) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(c.Headers))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("telemetry.traces: start otlp-http exporter: %w", err)
		}
		return exp, nil
	}
	return nil, fmt.Errorf("telemetry.traces.exporter %q: use none, otlp-grpc or otlp-http", c.Exporter)
}

func (t *Telemetry) buildMetrics(ctx context.Context, res *resource.Resource, o options) error {
	cfg := t.cfg.Metrics
	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithCardinalityLimit(cardinalityLimit)}
	readers := 0
	if cfg.PrometheusEnabled() {
		t.registry = prometheus.NewRegistry()
		if err := t.registry.Register(collectors.NewGoCollector()); err != nil {
			return fmt.Errorf("register go collector: %w", err)
		}
		if err := t.registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return fmt.Errorf("register process collector: %w", err)
		}
		exp, err := otelprom.New(
			otelprom.WithRegisterer(t.registry),
			otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
			otelprom.WithoutScopeInfo(),
		)
		if err != nil {
			return fmt.Errorf("start prometheus exporter: %w", err)
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(exp))
		readers++
		t.handler = promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{
			ErrorLog:      slog.NewLogLogger(t.log.Handler(), slog.LevelWarn),
			ErrorHandling: promhttp.ContinueOnError,
		})
	} else {
		t.handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "Prometheus metrics are off (telemetry.metrics.prometheus: false)", http.StatusNotFound)
		})
	}
	if exporterOn(cfg.Exporter) {
		exp, err := newMetricExporter(ctx, cfg.OTLPConfig)
		if err != nil {
			return err
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp,
			sdkmetric.WithInterval(cfg.Interval), sdkmetric.WithTimeout(cfg.Timeout))))
		readers++
	}
	for _, r := range o.readers {
		mpOpts = append(mpOpts, sdkmetric.WithReader(r))
		readers++
	}
	if readers == 0 {
		t.mp = metricnoop.NewMeterProvider()
		return nil
	}
	t.sdkMP = sdkmetric.NewMeterProvider(mpOpts...)
	t.mp = t.sdkMP
	return nil
}

func newMetricExporter(ctx context.Context, c OTLPConfig) (sdkmetric.Exporter, error) {
	switch c.Exporter {
	case ExporterOTLPGRPC:
		opts := []otlpmetricgrpc.Option{otlpmetricgrpc.WithTimeout(c.Timeout)}
		if c.Endpoint != "" {
			if isURL(c.Endpoint) {
				opts = append(opts, otlpmetricgrpc.WithEndpointURL(c.Endpoint))
			} else {
				opts = append(opts, otlpmetricgrpc.WithEndpoint(c.Endpoint))
			}
		}
		if c.Insecure {
			opts = append(opts, otlpmetricgrpc.WithInsecure())
		}
		if len(c.Headers) > 0 {
			opts = append(opts, otlpmetricgrpc.WithHeaders(c.Headers))
		}
		exp, err := otlpmetricgrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("telemetry.metrics: start otlp-grpc exporter: %w", err)
		}
		return exp, nil
	case ExporterOTLPHTTP:
		opts := []otlpmetrichttp.Option{otlpmetrichttp.WithTimeout(c.Timeout)}
		if c.Endpoint != "" {
			if isURL(c.Endpoint) {
				opts = append(opts, otlpmetrichttp.WithEndpointURL(withDefaultPath(c.Endpoint, "/v1/metrics")))
			} else {
				opts = append(opts, otlpmetrichttp.WithEndpoint(c.Endpoint))
			}
		}
		if c.Insecure {
			opts = append(opts, otlpmetrichttp.WithInsecure())
		}
		if len(c.Headers) > 0 {
			opts = append(opts, otlpmetrichttp.WithHeaders(c.Headers))
		}
		exp, err := otlpmetrichttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("telemetry.metrics: start otlp-http exporter: %w", err)
		}
		return exp, nil
	}
	return nil, fmt.Errorf("telemetry.metrics.exporter %q: use none, otlp-grpc or otlp-http", c.Exporter)
}

func isURL(endpoint string) bool { return strings.Contains(endpoint, "://") }

// withDefaultPath gives an OTLP/HTTP endpoint URL without a path the signal's default path:
// the exporters would otherwise POST to "/".
func withDefaultPath(endpoint, path string) string {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Path != "" && u.Path != "/") {
		return endpoint
	}
	u.Path = path
	return u.String()
}

// Tracer is OpStream's tracer, named "OpStream".
func (t *Telemetry) Tracer() *Tracer { return t.tracer }

// TracerProvider is the provider behind Tracer, for instrumentation libraries that take one;
// a noop.TracerProvider when tracing is off.
func (t *Telemetry) TracerProvider() trace.TracerProvider { return t.tp }

// MeterProvider is the provider behind Metrics; a no-op one when no exporter is configured.
func (t *Telemetry) MeterProvider() metric.MeterProvider { return t.mp }

// Metrics are the instruments the server records into.
func (t *Telemetry) Metrics() *Metrics { return t.metrics }

// Propagator carries W3C trace context and baggage across nodes: inject into a forwarded
// request's headers, extract from an incoming one. It is returned, never installed globally.
func (t *Telemetry) Propagator() propagation.TextMapPropagator { return t.propagate }

// InjectHTTP writes ctx's trace context into h (a request being forwarded to another node).
func (t *Telemetry) InjectHTTP(ctx context.Context, h http.Header) {
	t.propagate.Inject(ctx, propagation.HeaderCarrier(h))
}

// ExtractHTTP returns ctx carrying the trace context found in h (a forwarded request), so the
// spans started from it join the caller's trace.
func (t *Telemetry) ExtractHTTP(ctx context.Context, h http.Header) context.Context {
	return t.propagate.Extract(ctx, propagation.HeaderCarrier(h))
}

// PrometheusEnabled reports whether Handler serves metrics.
func (t *Telemetry) PrometheusEnabled() bool { return t.registry != nil }

// Handler serves GET /metrics as Prometheus text from Telemetry's own registry (OpStream's
// instruments, Go runtime and process metrics). With Prometheus off it answers 404.
func (t *Telemetry) Handler() http.Handler { return t.handler }

// Registry is the Prometheus registry behind Handler (nil when Prometheus is off), for
// registering extra collectors.
func (t *Telemetry) Registry() *prometheus.Registry { return t.registry }

// Shutdown flushes pending spans and metrics and stops the exporters. Call it once, last,
// with a deadline; spans and measurements recorded afterwards are dropped.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	if t.sdkTP != nil {
		if err := t.sdkTP.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down tracer provider: %w", err))
		}
	}
	if t.sdkMP != nil {
		if err := t.sdkMP.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down meter provider: %w", err))
		}
	}
	return errors.Join(errs...)
}

// LogErrors is an OpenTelemetry error handler that logs export failures (collector down,
// refused batch) at warn through log. The SDK reports them only to the process-wide handler,
// which by default writes to the standard library logger; main may install this one with
// otel.SetErrorHandler(telemetry.LogErrors(log)). New does not, to leave global state alone.
func LogErrors(log *slog.Logger) otel.ErrorHandler {
	log = log.With("component", "telemetry")
	return otel.ErrorHandlerFunc(func(err error) { log.Warn("telemetry export failed", "err", err) })
}
