package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

// provider returns the provider in process or behind the plugin boundary, on a fresh database.
func provider(b *testing.B, where string) storage.Provider {
	if where == "plugin" {
		return startPlugin(b, configJSON(b, b.TempDir()))
	}
	p := newProvider(b)
	b.Cleanup(func() { p.Close() })
	return p
}

// BenchmarkAppend: see storagetest.BenchAppend.
func BenchmarkAppend(b *testing.B) { storagetest.BenchAppend(b, provider) }

// BenchmarkReadOps100k: see storagetest.BenchReadOps100k.
func BenchmarkReadOps100k(b *testing.B) { storagetest.BenchReadOps100k(b, provider) }

// BenchmarkAppendDurable measures durable appends (synchronous "full") through the plugin
// boundary, 5 ops of one document per request: unary calls one at a time, and the append
// stream with 1, 2 and 4 requests in flight (the provider commits in order and one fsync covers
// every request committed while the previous fsync ran).
func BenchmarkAppendDurable(b *testing.B) {
	for _, mode := range []struct {
		name  string
		depth int
	}{{"unary", 0}, {"stream-1", 1}, {"stream-2", 2}, {"stream-4", 4}} {
		b.Run(mode.name, func(b *testing.B) {
			cfg, err := json.Marshal(map[string]any{"path": filepath.Join(b.TempDir(), "d.db")})
			if err != nil {
				b.Fatal(err)
			}
			c := startPlugin(b, cfg)
			doc := storage.DocKey{Tenant: "bench", ID: "hot"}
			const per = 5
			rev := int64(0)
			next := func() *storage.AppendRequest {
				req := &storage.AppendRequest{Appends: []storage.Append{{Doc: doc, Type: "text", ExpectedRevision: rev, Epoch: 1, Ops: storagetest.Ops(rev+1, per, 64)}}}
				rev += per
				return req
			}
			b.ResetTimer()
			if mode.depth == 0 {
				for b.Loop() {
					if resp, err := c.Append(context.Background(), next()); err != nil || resp.Results[0].Err != nil {
						b.Fatal(err, resp)
					}
				}
			} else {
				sem := make(chan struct{}, mode.depth)
				var failed atomic.Value
				for b.Loop() {
					sem <- struct{}{}
					c.AppendAsync(context.Background(), next(), func(resp *storage.AppendResponse, err error) {
						if err != nil || resp.Results[0].Err != nil {
							failed.Store(fmt.Sprint(err, resp))
						}
						<-sem
					})
				}
				for range mode.depth {
					sem <- struct{}{}
				}
				if f := failed.Load(); f != nil {
					b.Fatal(f)
				}
			}
			b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
