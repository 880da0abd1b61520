package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/opstream/opstream/client"
	"github.com/opstream/opstream/protocol"
)

// scrape fetches GET /metrics and parses it with the Prometheus text parser.
func scrape(t testing.TB, s *server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(s.url("/metrics"))
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// metricValue is a series' value: a counter's or gauge's value, a histogram's count (or its
// sum with sum set). labels must all match (others are ignored); a missing series is 0.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string, sum bool) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
	var total float64
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			total += m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			total += m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			if sum {
				total += m.GetHistogram().GetSampleSum()
			} else {
				total += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return total
}

// TestMetricsAfterScriptedSession drives a known session through the real binary and checks
// that /metrics parses and that each counter moved by exactly what the session did.
func TestMetricsAfterScriptedSession(t *testing.T) {
	s := startServer(t, "")
	before := scrape(t, s)
	for _, name := range []string{"opstream_documents_active", "opstream_connections_active", "go_goroutines", "target_info"} {
		if _, ok := before[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	text := map[string]string{"engine": "text"}
	processed0 := metricValue(before, "opstream_ops_processed_total", text, false)
	invalid0 := metricValue(before, "opstream_ops_rejected_total", map[string]string{"code": "InvalidOp"}, false)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ca, err := client.Dial(ctx, s.wsURL(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := client.Dial(ctx, s.wsURL(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	da, err := ca.Join(ctx, "metrics-doc", "text")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range da.Events() {
		}
	}()
	db, err := cb.Join(ctx, "metrics-doc", "text")
	if err != nil {
		t.Fatal(err)
	}
	received := make(chan struct{}, 16)
	go func() {
		for ev := range db.Events() {
			if ev.Kind == client.EventOp {
				received <- struct{}{}
			}
		}
	}()
	// Five ops from A, each fanned out to B; the third is based on revision 1 and rebased
	// over one op.
	bases := []int64{0, 1, 1, 3, 4}
	for i, base := range bases {
		if _, err := da.Submit(ctx, json.RawMessage(`["x"]`), base); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	for range bases {
		select {
		case <-received:
		case <-ctx.Done():
			t.Fatal("B did not receive every op")
		}
	}
	// One refused op: its base revision is ahead of the document.
	_, err = da.Submit(ctx, json.RawMessage(`["x"]`), 99)
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Code != protocol.CodeInvalidOp {
		t.Fatalf("op ahead of the document: %v, want InvalidOp", err)
	}
	// One op over HTTP on another document: no peers to fan out to.
	if code, r := postOp(t, s, "metrics-http", 0, []any{"y"}, "http-client", 1); code != 200 || r.Revision != 1 {
		t.Fatalf("HTTP op: %d %+v", code, r)
	}

	after := scrape(t, s)
	delta := func(name string, labels map[string]string, sum bool) float64 {
		return metricValue(after, name, labels, sum) - metricValue(before, name, labels, sum)
	}
	if got := metricValue(after, "opstream_ops_processed_total", text, false) - processed0; got != 6 {
		t.Errorf("ops processed moved by %v, want 6", got)
	}
	if got := metricValue(after, "opstream_ops_rejected_total", map[string]string{"code": "InvalidOp"}, false) - invalid0; got != 1 {
		t.Errorf("ops rejected (InvalidOp) moved by %v, want 1", got)
	}
	if got := delta("opstream_op_apply_duration_seconds", text, false); got != 6 {
		t.Errorf("apply latency observations moved by %v, want 6", got)
	}
	if got := delta("opstream_op_transforms", nil, false); got != 6 {
		t.Errorf("transforms observations moved by %v, want 6", got)
	}
	// Rebased over: op 2 (base 1, head 1) 0, op 3 (base 1, head 2) 1, the others 0.
	if got := delta("opstream_op_transforms", nil, true); got != 1 {
		t.Errorf("transforms sum moved by %v, want 1", got)
	}
	if got := delta("opstream_fanout_size", nil, false); got != 6 {
		t.Errorf("fan-out observations moved by %v, want 6 (one per durable op)", got)
	}
	if got := delta("opstream_fanout_size", nil, true); got != 5 {
		t.Errorf("fan-out sum moved by %v, want 5 (five ops to one peer, one to none)", got)
	}
	if got := metricValue(after, "opstream_connections_active", nil, false); got != 2 {
		t.Errorf("connections = %v, want 2", got)
	}
	if got := metricValue(after, "opstream_documents_active", nil, false); got != 2 {
		t.Errorf("active documents = %v, want 2", got)
	}
	if got := metricValue(after, "opstream_store_wal_size_bytes", nil, false); got <= 0 {
		t.Errorf("SQLite WAL size = %v after appends, want > 0", got)
	}
	if got := delta("opstream_lease_acquired_total", nil, false); got != 2 {
		t.Errorf("leases acquired moved by %v, want 2 (two new documents)", got)
	}
	if got := delta("opstream_store_append_duration_seconds", map[string]string{"outcome": "ok"}, false); got < 1 || got > 6 {
		t.Errorf("store appends moved by %v, want 1..6 (group commit)", got)
	}
	if got := delta("opstream_store_append_duration_seconds", map[string]string{"outcome": "error"}, false); got != 0 {
		t.Errorf("failed store appends: %v", got)
	}
	if got := delta("opstream_store_read_duration_seconds", map[string]string{"outcome": "ok"}, false); got < 2 {
		t.Errorf("store reads moved by %v, want at least the two loads", got)
	}
	// Six applies, and each new document's empty and open.
	if got := delta("opstream_wasm_calls_total", map[string]string{"plugin": "text"}, false); got < 6 {
		t.Errorf("wasm calls (text) moved by %v, want at least 6", got)
	}
	if got := delta("opstream_wasm_traps_total", nil, false); got != 0 {
		t.Errorf("wasm traps moved by %v", got)
	}
	if got := delta("opstream_document_peers", nil, false); got < 2 {
		t.Errorf("peers-per-document observations moved by %v, want at least 2 (two joins)", got)
	}
	for name := range after {
		for _, m := range after[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == "metrics-doc" || l.GetValue() == "metrics-http" {
					t.Errorf("%s has a document id as a label (%s)", name, l.GetName())
				}
			}
		}
	}

	// Closing the connections moves the gauge back.
	ca.Close()
	cb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := metricValue(scrape(t, s), "opstream_connections_active", nil, false); got == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("connections = %v after both closed", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
