package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// scrape fetches /metrics from a real HTTP server and parses it with the Prometheus text
// parser under the legacy (strict) name rules.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q, want Prometheus text", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

func labelsOf(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// series finds the metric of family name with exactly labels ("k=v,k=v", sorted; "" for none).
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		var names []string
		for n := range fams {
			if strings.HasPrefix(n, "opstream_") {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		t.Fatalf("no metric family %s; have %v", name, names)
	}
	if f.GetType() != typ {
		t.Fatalf("%s has type %v, want %v", name, f.GetType(), typ)
	}
	for _, m := range f.GetMetric() {
		if labelsOf(m) == labels {
			return m
		}
	}
	var have []string
	for _, m := range f.GetMetric() {
		have = append(have, "{"+labelsOf(m)+"}")
	}
	t.Fatalf("%s has no series {%s}; have %v", name, labels, have)
	return nil
}

func TestPrometheusExport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tel, err := New(ctx, Config{}, "node-1", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := tel.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	if !tel.PrometheusEnabled() {
		t.Fatal("Prometheus should be on by default")
	}
	m := tel.Metrics()
	reg, err := m.RegisterGauges(Gauges{
		ActiveDocs:   func() int64 { return 7 },
		Connections:  func() int64 { return 11 },
		WALBytes:     func() (int64, bool) { return 4096, true },
		WebhookQueue: func() int64 { return 3 },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reg.Unregister() }()

	// A scripted session.
	for range 3 {
		m.OpProcessed(ctx, "text")
		m.ApplyLatency(ctx, "text", 2*time.Millisecond)
	}
	m.OpProcessed(ctx, "json")
	m.OpRejected(ctx, "InvalidOp")
	m.OpRejected(ctx, "InvalidOp")
	m.OpRejected(ctx, "Forbidden")
	m.TransformsPerOp(ctx, 0)
	m.TransformsPerOp(ctx, 3)
	m.StoreAppend(ctx, time.Millisecond, nil)
	m.StoreAppend(ctx, 3*time.Millisecond, nil)
	m.StoreAppend(ctx, time.Second, errors.New("disk full"))
	m.StoreRead(ctx, 500*time.Microsecond, nil)
	m.BackplanePublish(ctx, time.Millisecond, nil)
	m.FanOut(ctx, 5)
	m.FanOut(ctx, 1)
	m.PeersPerDoc(ctx, 2)
	m.WasmCall(ctx, "text", false)
	m.WasmCall(ctx, "text", false)
	m.WasmCall(ctx, "authz", true)
	m.PluginRestarted(ctx, "sqlite")
	m.LeaseAcquired(ctx)
	m.LeaseAcquired(ctx)
	m.LeaseLost(ctx)
	m.WebhookDelivered(ctx, "crm", "doc.changed")
	m.WebhookDelivered(ctx, "crm", "doc.changed")
	m.WebhookFailed(ctx, "crm", "doc.deleted")
	m.WebhookDropped(ctx, "crm", "queue_full")

	fams := scrape(t, tel.Handler())
	C, G, H := dto.MetricType_COUNTER, dto.MetricType_GAUGE, dto.MetricType_HISTOGRAM
	counters := []struct {
		name, labels string
		want         float64
	}{
		{"opstream_ops_processed_total", "engine=text", 3},
		{"opstream_ops_processed_total", "engine=json", 1},
		{"opstream_ops_rejected_total", "code=InvalidOp", 2},
		{"opstream_ops_rejected_total", "code=Forbidden", 1},
		{"opstream_wasm_calls_total", "plugin=text", 2},
		{"opstream_wasm_calls_total", "plugin=authz", 1},
		{"opstream_wasm_traps_total", "plugin=authz", 1},
		{"opstream_plugin_restarts_total", "plugin=sqlite", 1},
		{"opstream_lease_acquired_total", "", 2},
		{"opstream_lease_lost_total", "", 1},
		{"opstream_webhook_delivered_total", "endpoint=crm,event=doc.changed", 2},
		{"opstream_webhook_failed_total", "endpoint=crm,event=doc.deleted", 1},
		{"opstream_webhook_dropped_total", "endpoint=crm,reason=queue_full", 1},
	}
	for _, c := range counters {
		if got := series(t, fams, c.name, C, c.labels).GetCounter().GetValue(); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := fams["opstream_wasm_traps_total"]; ok && len(fams["opstream_wasm_traps_total"].GetMetric()) != 1 {
		t.Errorf("opstream_wasm_traps_total: a call that did not trap was counted as a trap")
	}
	gauges := []struct {
		name string
		want float64
	}{
		{"opstream_documents_active", 7},
		{"opstream_connections_active", 11},
		{"opstream_store_wal_size_bytes", 4096},
		{"opstream_webhook_queue_length", 3},
	}
	for _, g := range gauges {
		if got := series(t, fams, g.name, G, "").GetGauge().GetValue(); got != g.want {
			t.Errorf("%s = %v, want %v", g.name, got, g.want)
		}
	}
	hists := []struct {
		name, labels string
		count        uint64
		sum          float64
	}{
		{"opstream_op_apply_duration_seconds", "engine=text", 3, 0.006},
		{"opstream_op_transforms", "", 2, 3},
		{"opstream_store_append_duration_seconds", "outcome=ok", 2, 0.004},
		{"opstream_store_append_duration_seconds", "outcome=error", 1, 1},
		{"opstream_store_read_duration_seconds", "outcome=ok", 1, 0.0005},
		{"opstream_backplane_publish_duration_seconds", "outcome=ok", 1, 0.001},
		{"opstream_fanout_size", "", 2, 6},
		{"opstream_document_peers", "", 1, 2},
	}
	for _, h := range hists {
		got := series(t, fams, h.name, H, h.labels).GetHistogram()
		if got.GetSampleCount() != h.count || math.Abs(got.GetSampleSum()-h.sum) > 1e-9 {
			t.Errorf("%s{%s}: count %d sum %v, want %d and %v", h.name, h.labels, got.GetSampleCount(), got.GetSampleSum(), h.count, h.sum)
		}
	}
	// Latency buckets are in seconds: 2ms lands in le=0.0025, not in le=0.001.
	for _, b := range series(t, fams, "opstream_op_apply_duration_seconds", H, "engine=text").GetHistogram().GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= 0.0025 {
			want = 3
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("apply duration bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	// No series carries a document id, and the process and Go collectors are there.
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "target_info"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("missing %s", name)
		}
	}
	ti := fams["target_info"].GetMetric()[0]
	if !strings.Contains(labelsOf(ti), "service_instance_id=node-1") || !strings.Contains(labelsOf(ti), "service_name=opstream") {
		t.Errorf("target_info labels %s: want service_name=opstream and service_instance_id=node-1", labelsOf(ti))
	}

	// Counters move by exactly the amounts recorded since the last scrape.
	m.OpProcessed(ctx, "text")
	m.OpRejected(ctx, "InvalidOp")
	fams = scrape(t, tel.Handler())
	if got := series(t, fams, "opstream_ops_processed_total", C, "engine=text").GetCounter().GetValue(); got != 4 {
		t.Errorf("after one more op: processed = %v, want 4", got)
	}
	if got := series(t, fams, "opstream_ops_rejected_total", C, "code=InvalidOp").GetCounter().GetValue(); got != 3 {
		t.Errorf("after one more rejection: rejected = %v, want 3", got)
	}
}

func TestLabelValuesAreBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tel, err := New(ctx, Config{}, "n", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	for i := range maxLabelValues + 50 {
		tel.Metrics().OpProcessed(ctx, fmt.Sprintf("engine-%d", i))
	}
	fams := scrape(t, tel.Handler())
	f := fams["opstream_ops_processed_total"]
	if n := len(f.GetMetric()); n != maxLabelValues+1 {
		t.Errorf("%d series, want %d (the first %d values and %q)", n, maxLabelValues+1, maxLabelValues, OverflowLabel)
	}
	if got := series(t, fams, "opstream_ops_processed_total", dto.MetricType_COUNTER, "engine=other").GetCounter().GetValue(); got != 50 {
		t.Errorf("overflow series = %v, want 50", got)
	}
}

func TestNilMetricsAreNoOps(t *testing.T) {
	t.Parallel()
	var m *Metrics
	ctx := context.Background()
	m.OpProcessed(ctx, "text")
	m.OpRejected(ctx, "InvalidOp")
	m.ApplyLatency(ctx, "text", time.Millisecond)
	m.StoreAppend(ctx, time.Millisecond, nil)
	m.WebhookDropped(ctx, "a", "queue_full")
	if _, err := m.RegisterGauges(Gauges{}); err == nil {
		t.Error("RegisterGauges on nil Metrics: want an error")
	}
}

func TestPrometheusOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	off := false
	tel, err := New(ctx, Config{Metrics: MetricsConfig{Prometheus: &off}}, "n", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	if tel.PrometheusEnabled() || tel.Registry() != nil {
		t.Fatal("Prometheus should be off")
	}
	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "telemetry.metrics.prometheus") {
		t.Errorf("GET /metrics with Prometheus off: %d %q", rec.Code, rec.Body.String())
	}
	tel.Metrics().OpProcessed(ctx, "text") // records into a no-op meter without panicking
}
