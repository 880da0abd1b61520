package telemetry

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Exporter names accepted by TracesConfig.Exporter and MetricsConfig.Exporter.
const (
	ExporterNone     = "none"
	ExporterOTLPGRPC = "otlp-grpc"
	ExporterOTLPHTTP = "otlp-http"
)

// Config configures tracing and metrics; it is the server config's `telemetry:` block. Zero
// fields take the defaults in their comments.
//
//	telemetry:
//	  serviceName: opstream
//	  traces:
//	    exporter: otlp-grpc        # none (default), otlp-grpc, otlp-http
//	    endpoint: collector:4317
//	    insecure: true
//	    samplingRatio: 0.1
//	  metrics:
//	    prometheus: true           # GET /metrics; default true
//	    exporter: otlp-http        # none (default), otlp-grpc, otlp-http
//	    endpoint: collector:4318
//	    interval: 30s
type Config struct {
	// ServiceName is the service.name resource attribute; empty means "opstream".
	ServiceName string `yaml:"serviceName"`
	// Traces configures span export.
	Traces TracesConfig `yaml:"traces"`
	// Metrics configures metric export.
	Metrics MetricsConfig `yaml:"metrics"`
}

// OTLPConfig says where an OTLP exporter sends. The exporters also read the standard
// OTEL_EXPORTER_OTLP_* environment variables (for example OTEL_EXPORTER_OTLP_HEADERS, the
// place for tokens that should not sit in a config file); fields set here win.
type OTLPConfig struct {
	// Exporter is "none", "otlp-grpc" or "otlp-http"; empty means none.
	Exporter string `yaml:"exporter"`
	// Endpoint is host:port, or a URL (http:// or https://). For otlp-http a URL's path, when
	// it has one, replaces the default /v1/traces or /v1/metrics. Empty means the exporter's
	// default, localhost:4317 for gRPC and localhost:4318 for HTTP.
	Endpoint string `yaml:"endpoint"`
	// Insecure sends without TLS. Default false; an http:// endpoint URL implies it.
	Insecure bool `yaml:"insecure"`
	// Headers are sent with every export (for example an API key).
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one export; zero means 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// TracesConfig configures tracing. With the exporter "none" (the default) tracing costs
// nothing: the tracer is a no-op.
type TracesConfig struct {
	OTLPConfig `yaml:",inline"`
	// SamplingRatio is the share of new traces recorded, in (0, 1]; zero means 1 (all). A
	// request that arrives with a trace context follows its parent's sampling decision.
	SamplingRatio float64 `yaml:"samplingRatio"`
}

// MetricsConfig configures metrics.
type MetricsConfig struct {
	// Prometheus serves the metrics as Prometheus text on GET /metrics; nil means true.
	Prometheus *bool `yaml:"prometheus"`
	// OTLPConfig pushes the metrics over OTLP when Exporter is otlp-grpc or otlp-http;
	// default none.
	OTLPConfig `yaml:",inline"`
	// Interval is the OTLP push interval; zero means 60s.
	Interval time.Duration `yaml:"interval"`
}

// PrometheusEnabled reports whether GET /metrics is served.
func (c MetricsConfig) PrometheusEnabled() bool { return c.Prometheus == nil || *c.Prometheus }

// TracingEnabled reports whether spans are exported.
func (c Config) TracingEnabled() bool { return exporterOn(c.Traces.Exporter) }

func exporterOn(name string) bool { return name != "" && name != ExporterNone }

// WithDefaults returns c with its defaults filled in.
func (c Config) WithDefaults() Config {
	if c.ServiceName == "" {
		c.ServiceName = "opstream"
	}
	if c.Traces.Exporter == "" {
		c.Traces.Exporter = ExporterNone
	}
	if c.Traces.SamplingRatio == 0 {
		c.Traces.SamplingRatio = 1
	}
	if c.Traces.Timeout == 0 {
		c.Traces.Timeout = 10 * time.Second
	}
	if c.Metrics.Exporter == "" {
		c.Metrics.Exporter = ExporterNone
	}
	if c.Metrics.Timeout == 0 {
		c.Metrics.Timeout = 10 * time.Second
	}
	if c.Metrics.Interval == 0 {
		c.Metrics.Interval = 60 * time.Second
	}
	return c
}

// Validate checks c (after defaults) and says how to fix what is wrong. All problems are
// reported at once.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	errs = append(errs, c.Traces.validate("telemetry.traces")...)
	errs = append(errs, c.Metrics.validate("telemetry.metrics")...)
	if r := c.Traces.SamplingRatio; r < 0 || r > 1 || r != r {
		errs = append(errs, fmt.Errorf("telemetry.traces.samplingRatio %v: use a ratio in (0, 1], for example 0.1 to record one trace in ten; set telemetry.traces.exporter to none to record none", r))
	}
	if c.Metrics.Interval < time.Second {
		errs = append(errs, fmt.Errorf("telemetry.metrics.interval %s: use 1s or more", c.Metrics.Interval))
	}
	if strings.TrimSpace(c.ServiceName) != c.ServiceName {
		errs = append(errs, fmt.Errorf("telemetry.serviceName %q: remove the surrounding spaces", c.ServiceName))
	}
	return errors.Join(errs...)
}

func (o OTLPConfig) validate(prefix string) []error {
	var errs []error
	switch o.Exporter {
	case ExporterNone, ExporterOTLPGRPC, ExporterOTLPHTTP:
	default:
		errs = append(errs, fmt.Errorf("%s.exporter %q: use none, otlp-grpc or otlp-http", prefix, o.Exporter))
	}
	if o.Endpoint != "" {
		if strings.Contains(o.Endpoint, "://") {
			u, err := url.Parse(o.Endpoint)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s.endpoint %q: %w", prefix, o.Endpoint, err))
			case u.Scheme != "http" && u.Scheme != "https":
				errs = append(errs, fmt.Errorf("%s.endpoint %q: a URL must start with http:// or https://", prefix, o.Endpoint))
			case u.Host == "":
				errs = append(errs, fmt.Errorf("%s.endpoint %q: the URL has no host", prefix, o.Endpoint))
			}
		} else if !strings.Contains(o.Endpoint, ":") {
			errs = append(errs, fmt.Errorf("%s.endpoint %q: use host:port (4317 for otlp-grpc, 4318 for otlp-http) or a URL", prefix, o.Endpoint))
		}
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%s.timeout %s: must be positive", prefix, o.Timeout))
	}
	for k := range o.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			errs = append(errs, fmt.Errorf("%s.headers: %q is not a valid header name", prefix, k))
		}
	}
	return errs
}
