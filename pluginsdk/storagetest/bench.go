package storagetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// BenchAppend is the standard append benchmark for a provider, run "inprocess" and through the
// "plugin" boundary (provider makes either): 1 document x 1 op and 1 x 100 ops per call, and
// 100 documents x 1 op in one call (group commit). It reports ops/s.
func BenchAppend(b *testing.B, provider func(b *testing.B, where string) storage.Provider) {
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
							Ops:              Ops(revs[d]+1, shape.ops, 64),
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

// BenchReadOps100k is the standard load benchmark: it reads a 100,000-op document from revision 1 to the end in pages, the way
// a document without a snapshot is loaded.
func BenchReadOps100k(b *testing.B, provider func(b *testing.B, where string) storage.Provider) {
	const total, batch = 100_000, 1_000
	for _, where := range []string{"inprocess", "plugin"} {
		b.Run(where, func(b *testing.B) {
			p := provider(b, where)
			ctx := context.Background()
			doc := storage.DocKey{Tenant: "bench", ID: "big"}
			for rev := int64(0); rev < total; rev += batch {
				resp, err := p.Append(ctx, &storage.AppendRequest{Appends: []storage.Append{
					{Doc: doc, Type: "text", ExpectedRevision: rev, Epoch: 1, Ops: Ops(rev+1, batch, 64)},
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
