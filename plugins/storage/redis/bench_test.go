package redis_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

// provider returns the provider in process or behind the plugin boundary, with a fresh key
// prefix on the shared server.
func provider(b *testing.B, where string) storage.Provider {
	if where == "plugin" {
		return startPlugin(b, configJSON(b))
	}
	p := newProvider(b)
	b.Cleanup(func() { p.Close() })
	return p
}

// BenchmarkAppend appends to one document per call (ops ops per call) and, for docs>1, one op to
// each of docs documents in one call (group commit). Ops carry 64 bytes of data.
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

// fill appends total ops of 64 bytes to doc in batches of 1,000.
func fill(b *testing.B, p storage.Provider, doc storage.DocKey, total int64) {
	const batch = 1_000
	for rev := int64(0); rev < total; rev += batch {
		resp, err := p.Append(context.Background(), &storage.AppendRequest{Appends: []storage.Append{
			{Doc: doc, Type: "text", ExpectedRevision: rev, Epoch: 1, Ops: storagetest.Ops(rev+1, batch, 64)},
		}})
		if err != nil || resp.Results[0].Err != nil {
			b.Fatalf("fill: %v %v", err, resp)
		}
	}
}

// BenchmarkReadOps100k reads a 100,000-op document from revision 1 to the end in pages, the way
// a document without a snapshot is loaded.
func BenchmarkReadOps100k(b *testing.B) {
	const total = 100_000
	for _, where := range []string{"inprocess", "plugin"} {
		b.Run(where, func(b *testing.B) {
			p := provider(b, where)
			ctx := context.Background()
			doc := storage.DocKey{Tenant: "bench", ID: "big"}
			fill(b, p, doc, total)
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

// BenchmarkMemory100k stores a 100,000-op document (64-byte op data, as storagetest.Ops makes
// them: about 90 bytes of op JSON, client id and timestamps) and reports the server's
// used_memory growth per op. Run it alone (-run '^$' -bench Memory): other tests share the
// server.
func BenchmarkMemory100k(b *testing.B) {
	const total = 100_000
	p := newProvider(b)
	defer p.Close()
	c := shared.client()
	defer c.Close()
	ctx := context.Background()
	var perOp float64
	i := 0
	for b.Loop() {
		b.StopTimer()
		before := usedMemory(b, c.Info(ctx, "memory").Val())
		b.StartTimer()
		doc := storage.DocKey{Tenant: "bench", ID: fmt.Sprintf("mem-%d", i)}
		fill(b, p, doc, total)
		b.StopTimer()
		after := usedMemory(b, c.Info(ctx, "memory").Val())
		perOp = float64(after-before) / total
		if err := p.Delete(ctx, doc); err != nil {
			b.Fatal(err)
		}
		i++
		b.StartTimer()
	}
	b.ReportMetric(perOp, "server-bytes/op")
}

func usedMemory(b *testing.B, info string) int64 {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("no used_memory in INFO memory")
	return 0
}

// BenchmarkMemoryPerDoc stores 10,000 documents of one 64-byte op each and reports the
// server's used_memory growth per document (head, op log, index entry, the op included).
func BenchmarkMemoryPerDoc(b *testing.B) {
	const docs, batch = 10_000, 100
	p := newProvider(b)
	defer p.Close()
	c := shared.client()
	defer c.Close()
	ctx := context.Background()
	var perDoc float64
	round := 0
	for b.Loop() {
		b.StopTimer()
		before := usedMemory(b, c.Info(ctx, "memory").Val())
		b.StartTimer()
		for d := 0; d < docs; d += batch {
			req := &storage.AppendRequest{}
			for i := d; i < d+batch; i++ {
				req.Appends = append(req.Appends, storage.Append{
					Doc: storage.DocKey{Tenant: "bench", ID: fmt.Sprintf("r%d-doc-%05d", round, i)}, Type: "text", Epoch: 1,
					Ops: storagetest.Ops(1, 1, 64),
				})
			}
			if _, err := p.Append(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		perDoc = float64(usedMemory(b, c.Info(ctx, "memory").Val())-before) / docs
		for i := range docs {
			if err := p.Delete(ctx, storage.DocKey{Tenant: "bench", ID: fmt.Sprintf("r%d-doc-%05d", round, i)}); err != nil {
				b.Fatal(err)
			}
		}
		round++
		b.StartTimer()
	}
	b.ReportMetric(perDoc, "server-bytes/doc")
}
