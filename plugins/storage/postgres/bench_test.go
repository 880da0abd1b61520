package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

// provider returns the provider in process or behind the plugin boundary, in a fresh schema.
func provider(b *testing.B, where string) storage.Provider {
	if where == "plugin" {
		return startPlugin(b, configJSON(b, srv, srv.NewSchema()))
	}
	p := newProvider(b, srv, srv.NewSchema())
	b.Cleanup(func() { p.Close() })
	return p
}

// BenchmarkAppend appends to one document per call (ops ops per call) and, for docs>1, one op to
// each of docs documents in one call (group commit). The benchmark server runs with fsync on.
func BenchmarkAppend(b *testing.B) {
	for _, where := range []string{"inprocess", "plugin"} {
		for _, shape := range []struct{ docs, ops int }{{1, 1}, {1, 100}, {100, 1}} {
			b.Run(fmt.Sprintf("%s/docs=%d/ops=%d", where, shape.docs, shape.ops), func(b *testing.B) {
				p := provider(b, where)
				ctx := context.Background()
				revs := make([]int64, shape.docs)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					req := &storage.AppendRequest{Appends: make([]storage.Append, shape.docs)}
					for d := range shape.docs {
						req.Appends[d] = storage.Append{
							Doc:              storage.DocKey{Tenant: "bench", ID: fmt.Sprintf("doc-%d", d)},
							Type:             "text",
							ExpectedRevision: revs[d],
							Epoch:            1,
							Ops:              storagetest.Ops(revs[d]+1, shape.ops, 64),
						}
					}
					resp, err := p.Append(ctx, req)
					if err != nil {
						b.Fatal(err)
					}
					for d, r := range resp.Results {
						if r.Err != nil {
							b.Fatal(r.Err)
						}
						revs[d] = r.Revision
					}
				}
				b.ReportMetric(float64(b.N*shape.docs*shape.ops)/b.Elapsed().Seconds(), "ops/s")
			})
		}
	}
}

// BenchmarkReadOps100k reads a 100,000-op document from revision 1 to the end in pages, the way
// a document without a snapshot is loaded.
func BenchmarkReadOps100k(b *testing.B) {
	const total, batch = 100_000, 1_000
	for _, where := range []string{"inprocess", "plugin"} {
		b.Run(where, func(b *testing.B) {
			p := provider(b, where)
			ctx := context.Background()
			doc := storage.DocKey{Tenant: "bench", ID: "big"}
			for rev := int64(0); rev < total; rev += batch {
				resp, err := p.Append(ctx, &storage.AppendRequest{Appends: []storage.Append{
					{Doc: doc, Type: "text", ExpectedRevision: rev, Epoch: 1, Ops: storagetest.Ops(rev+1, batch, 64)},
				}})
				if err != nil || resp.Results[0].Err != nil {
					b.Fatalf("fill: %v %v", err, resp)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				n, from := 0, int64(1)
				for {
					resp, err := p.ReadOps(ctx, &storage.ReadOpsRequest{Doc: doc, From: from, Limit: storage.MaxReadOps})
					if err != nil {
						b.Fatal(err)
					}
					if len(resp.Ops) == 0 {
						break
					}
					n += len(resp.Ops)
					from = resp.Ops[len(resp.Ops)-1].Revision + 1
				}
				if n != total {
					b.Fatalf("read %d ops, want %d", n, total)
				}
			}
		})
	}
}
