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

// BenchmarkAppend: see storagetest.BenchAppend.
func BenchmarkAppend(b *testing.B) { storagetest.BenchAppend(b, provider) }

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

// BenchmarkReadOps100k: see storagetest.BenchReadOps100k.
func BenchmarkReadOps100k(b *testing.B) { storagetest.BenchReadOps100k(b, provider) }

// BenchmarkMemory100k stores a 100,000-op document (64-byte op data, as storagetest.Ops makes
// them: about 90 bytes of op JSON, client id and timestamps) and reports the server's
// used_memory growth per op. Run it alone (-run '^$' -bench Memory): other tests share the
// server.
func BenchmarkMemory100k(b *testing.B) {
	const total = 100_000
	p := newProvider(b)
	defer p.Close()
	c := shared.Client()
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
	c := shared.Client()
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
