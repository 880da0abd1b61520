package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// exportedFamilies drives every Metrics method and gauge once and returns the opstream_*
// families /metrics serves.
func exportedFamilies(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	ctx := context.Background()
	tel, err := New(ctx, Config{}, "n", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(ctx) })
	m := tel.Metrics()
	reg, err := m.RegisterGauges(Gauges{
		ActiveDocs: func() int64 { return 1 }, Connections: func() int64 { return 1 },
		WALBytes: func() (int64, bool) { return 1, true }, WebhookQueue: func() int64 { return 1 },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Unregister() })
	m.OpProcessed(ctx, "text")
	m.OpRejected(ctx, "InvalidOp")
	m.ApplyLatency(ctx, "text", time.Millisecond)
	m.TransformsPerOp(ctx, 1)
	m.StoreAppend(ctx, time.Millisecond, nil)
	m.StoreRead(ctx, time.Millisecond, errors.New("x"))
	m.BackplanePublish(ctx, time.Millisecond, nil)
	m.FanOut(ctx, 1)
	m.PeersPerDoc(ctx, 1)
	m.WasmCall(ctx, "p", true)
	m.PluginRestarted(ctx, "p")
	m.LeaseAcquired(ctx)
	m.LeaseLost(ctx)
	m.WebhookDelivered(ctx, "e", "doc.changed")
	m.WebhookFailed(ctx, "e", "doc.changed")
	m.WebhookDropped(ctx, "e", "queue_full")
	fams := map[string]*dto.MetricFamily{}
	for name, f := range scrape(t, tel.Handler()) {
		if strings.HasPrefix(name, "opstream_") {
			fams[name] = f
		}
	}
	return fams
}

var metricName = regexp.MustCompile(`opstream_[a-z_]+[a-z]`)

// TestDocsAndDeployMatchTheMetrics keeps docs/observability.md, the Grafana dashboard and the
// alert rules in step with the names /metrics really serves.
func TestDocsAndDeployMatchTheMetrics(t *testing.T) {
	fams := exportedFamilies(t)
	if len(fams) != 21 {
		t.Errorf("%d opstream_ families, want 21 (update this test and the docs together)", len(fams))
	}
	known := func(name string) bool {
		if _, ok := fams[name]; ok {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f, ok := fams[strings.TrimSuffix(name, suffix)]; ok && strings.HasSuffix(name, suffix) && f.GetType() == dto.MetricType_HISTOGRAM {
				return true
			}
		}
		return false
	}
	doc, err := os.ReadFile("../../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range fams {
		row := "| `" + name + "` | " + strings.ToLower(f.GetType().String()) + " |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/observability.md has no row %q", row)
		}
	}
	for _, file := range []string{"../../docs/observability.md", "../../deploy/grafana-dashboard.json", "../../deploy/opstream-alerts.yml"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range metricName.FindAllString(string(b), -1) {
			if !known(name) {
				t.Errorf("%s uses %s, which /metrics does not serve", file, name)
			}
		}
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, _ := os.ReadFile("../../deploy/grafana-dashboard.json")
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range metricName.FindAllString(tg.Expr, -1) {
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")] = true
			}
		}
	}
	for name := range fams {
		if !used[name] {
			t.Errorf("the Grafana dashboard does not chart %s", name)
		}
	}
}
