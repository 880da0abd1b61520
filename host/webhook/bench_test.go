package webhook

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// benchEnqueue measures what a document actor pays to raise an event (Deleted, which is not
// debounced) against an endpoint at url, and reports how many events were dropped because the
// endpoint's queue was full. The cost must not depend on the endpoint's health.
func benchEnqueue(b *testing.B, url string) {
	var dropped atomic.Int64
	cfg := Config{
		Endpoints:   []EndpointConfig{{Name: "bench", URL: url, Secret: "bench-secret-0123456789"}},
		Timeout:     2 * time.Second,
		BackoffBase: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
	}
	d, err := New(cfg, Options{
		Logger: quietLoggerB(),
		Hooks:  Hooks{Dropped: func(string, EventType, string) { dropped.Add(1) }},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		d.Deleted("tenant", "doc", int64(n))
		n++
	}
	b.StopTimer()
	b.ReportMetric(float64(dropped.Load())/float64(n), "dropped/op")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = d.Close(ctx)
}

func quietLoggerB() *slog.Logger { return quietLogger() }

// BenchmarkEnqueueHealthyReceiver: the receiver answers 204 at once.
func BenchmarkEnqueueHealthyReceiver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	benchEnqueue(b, srv.URL)
}

// BenchmarkEnqueueDeadReceiver: nothing listens on the port (connection refused).
func BenchmarkEnqueueDeadReceiver(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	benchEnqueue(b, url)
}

// BenchmarkEnqueueHangingReceiver: the receiver accepts the connection and never answers.
func BenchmarkEnqueueHangingReceiver(b *testing.B) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer srv.Close()
	defer close(stop)
	benchEnqueue(b, srv.URL)
}

// BenchmarkDocChanged is the per-commit call from many document actors at once: it only
// merges into the document's open debounce window.
func BenchmarkDocChanged(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	d, err := New(Config{
		Endpoints: []EndpointConfig{{URL: srv.URL, Secret: "bench-secret-0123456789"}},
		Debounce:  time.Hour,
	}, Options{Logger: quietLoggerB()})
	if err != nil {
		b.Fatal(err)
	}
	docs := make([]string, 200)
	for i := range docs {
		docs[i] = "doc-" + strconv.Itoa(i)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1))
		rev := int64(0)
		for pb.Next() {
			rev++
			d.DocChanged("tenant", docs[i%len(docs)], rev, rev)
			i++
		}
	})
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.Close(ctx)
}
