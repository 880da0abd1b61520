package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is a minimal OTLP/HTTP receiver: it decodes the protobuf POSTs it gets.
type collector struct {
	mu      sync.Mutex
	paths   []string
	headers []http.Header
	traces  []*coltracepb.ExportTraceServiceRequest
	metrics []*colmetricpb.ExportMetricsServiceRequest
	errs    []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paths = append(c.paths, r.Method+" "+r.URL.Path)
	c.headers = append(c.headers, r.Header.Clone())
	if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
		c.errs = append(c.errs, "bad request: "+r.Header.Get("Content-Type"))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var resp proto.Message
	switch r.URL.Path {
	case "/v1/traces":
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			c.errs = append(c.errs, err.Error())
		}
		c.traces = append(c.traces, req)
		resp = &coltracepb.ExportTraceServiceResponse{}
	case "/v1/metrics":
		req := &colmetricpb.ExportMetricsServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			c.errs = append(c.errs, err.Error())
		}
		c.metrics = append(c.metrics, req)
		resp = &colmetricpb.ExportMetricsServiceResponse{}
	default:
		http.NotFound(w, r)
		return
	}
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func TestOTLPHTTPExport(t *testing.T) {
	t.Parallel()
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()

	ctx := context.Background()
	cfg := Config{
		ServiceName: "opstream-test",
		Traces: TracesConfig{OTLPConfig: OTLPConfig{
			Exporter: ExporterOTLPHTTP, Endpoint: srv.URL, Headers: map[string]string{"X-Api-Key": "k1"},
		}},
		// host:port and insecure: the exporter's default path /v1/metrics.
		Metrics: MetricsConfig{OTLPConfig: OTLPConfig{Exporter: ExporterOTLPHTTP, Endpoint: srv.Listener.Addr().String(), Insecure: true}, Interval: time.Hour},
	}
	tel, err := New(ctx, cfg, "node-7", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if !tel.Tracer().Enabled() {
		t.Fatal("tracing is off with otlp-http configured")
	}
	applyOp(ctx, tel.Tracer(), true, "")
	tel.Metrics().OpProcessed(ctx, "text")

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.errs) > 0 {
		t.Fatalf("collector errors: %v", col.errs)
	}
	if len(col.traces) == 0 {
		t.Fatalf("no POST /v1/traces arrived; got %v", col.paths)
	}
	if len(col.metrics) == 0 {
		t.Fatalf("no POST /v1/metrics arrived; got %v", col.paths)
	}
	for i, p := range col.paths {
		if p == "POST /v1/traces" && col.headers[i].Get("X-Api-Key") != "k1" {
			t.Errorf("trace export without the configured header: %v", col.headers[i])
		}
	}
	names := map[string]bool{}
	var service, instance string
	for _, req := range col.traces {
		for _, rs := range req.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				switch kv.GetKey() {
				case "service.name":
					service = kv.GetValue().GetStringValue()
				case "service.instance.id":
					instance = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				if ss.GetScope().GetName() != ScopeName {
					t.Errorf("scope %q, want %q", ss.GetScope().GetName(), ScopeName)
				}
				for _, s := range ss.GetSpans() {
					names[s.GetName()] = true
				}
			}
		}
	}
	for _, n := range []string{SpanApplyOp, SpanEngineTransform, SpanEngineApply, SpanStoreAppend, SpanBackplanePublish} {
		if !names[n] {
			t.Errorf("span %s not exported; got %v", n, names)
		}
	}
	if service != "opstream-test" || instance != "node-7" {
		t.Errorf("resource service.name=%q service.instance.id=%q", service, instance)
	}
	found := false
	for _, req := range col.metrics {
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					if m.GetName() == "opstream.ops.processed" {
						if dp := m.GetSum().GetDataPoints(); len(dp) != 1 || dp[0].GetAsInt() != 1 {
							t.Errorf("opstream.ops.processed points %v, want one point of 1", dp)
						}
						found = true
					}
				}
			}
		}
	}
	if !found {
		t.Error("opstream.ops.processed not in the OTLP metrics export")
	}
}
