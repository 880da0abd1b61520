package telemetry

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ratio := func(r float64) Config { return Config{Traces: TracesConfig{SamplingRatio: r}} }
	cases := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{"zero value", Config{}, nil},
		{"otlp grpc host:port", Config{Traces: TracesConfig{OTLPConfig: OTLPConfig{Exporter: ExporterOTLPGRPC, Endpoint: "collector:4317", Insecure: true}}}, nil},
		{"otlp http url", Config{Traces: TracesConfig{OTLPConfig: OTLPConfig{Exporter: ExporterOTLPHTTP, Endpoint: "https://otlp.example.com/v1/traces"}}}, nil},
		{"ratio 0.1", ratio(0.1), nil},
		{"unknown exporter", Config{Traces: TracesConfig{OTLPConfig: OTLPConfig{Exporter: "jaeger"}}}, []string{`telemetry.traces.exporter "jaeger": use none, otlp-grpc or otlp-http`}},
		{"ratio above 1", ratio(1.5), []string{"telemetry.traces.samplingRatio 1.5"}},
		{"negative ratio", ratio(-0.1), []string{"samplingRatio -0.1"}},
		{"endpoint without port", Config{Metrics: MetricsConfig{OTLPConfig: OTLPConfig{Exporter: ExporterOTLPHTTP, Endpoint: "collector"}}}, []string{`telemetry.metrics.endpoint "collector": use host:port`}},
		{"endpoint bad scheme", Config{Traces: TracesConfig{OTLPConfig: OTLPConfig{Exporter: ExporterOTLPHTTP, Endpoint: "ftp://x:1"}}}, []string{"must start with http:// or https://"}},
		{"short interval", Config{Metrics: MetricsConfig{Interval: time.Millisecond}}, []string{"telemetry.metrics.interval 1ms: use 1s or more"}},
		{"bad header", Config{Traces: TracesConfig{OTLPConfig: OTLPConfig{Headers: map[string]string{"a b": "x"}}}}, []string{`"a b" is not a valid header name`}},
		{"all at once", Config{
			Traces:  TracesConfig{OTLPConfig: OTLPConfig{Exporter: "zipkin"}, SamplingRatio: 2},
			Metrics: MetricsConfig{OTLPConfig: OTLPConfig{Exporter: "statsd"}},
		}, []string{"telemetry.traces.exporter", "telemetry.metrics.exporter", "samplingRatio 2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.cfg.Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want an error containing %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults()
	if c.ServiceName != "opstream" || c.Traces.Exporter != ExporterNone || c.Traces.SamplingRatio != 1 ||
		c.Metrics.Exporter != ExporterNone || c.Metrics.Interval != time.Minute || !c.Metrics.PrometheusEnabled() {
		t.Errorf("defaults: %+v", c)
	}
	if (Config{}).TracingEnabled() {
		t.Error("tracing must be off by default")
	}
}

func TestConfigYAMLStrict(t *testing.T) {
	t.Parallel()
	const doc = `
serviceName: opstream-eu
traces:
  exporter: otlp-grpc
  endpoint: collector:4317
  insecure: true
  headers: {x-api-key: k}
  samplingRatio: 0.25
metrics:
  prometheus: false
  exporter: otlp-http
  endpoint: http://collector:4318
  interval: 30s
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.ServiceName != "opstream-eu" || c.Traces.Exporter != ExporterOTLPGRPC || c.Traces.Endpoint != "collector:4317" ||
		!c.Traces.Insecure || c.Traces.Headers["x-api-key"] != "k" || c.Traces.SamplingRatio != 0.25 ||
		c.Metrics.PrometheusEnabled() || c.Metrics.Exporter != ExporterOTLPHTTP || c.Metrics.Interval != 30*time.Second {
		t.Errorf("decoded %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	dec = yaml.NewDecoder(strings.NewReader("traces: {exporter: none, sampling: 1}\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err == nil {
		t.Error("unknown key traces.sampling: want an error")
	}
}
