package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/opstream/opstream/client"
)

// BenchmarkJoinLongHistory measures joining a document with 100,000 ops of history: cold (the
// first join after a restart loads the latest snapshot plus the ops after it) and warm (the
// document is loaded). Building the history takes about a minute: run it with -benchtime 20x.
func BenchmarkJoinLongHistory(b *testing.B) {
	const history = 100_000
	s := startServer(b, "", "--config", writeConfig(b, "limits: {opsPerSecond: 1000000, opsBurst: 1000000}\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, s.wsURL(), client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	d, err := c.Join(ctx, "long", "text")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for range d.Events() {
		}
	}()
	// Rounds of 100 pipelined inserts on the same base; the server rebases each over the
	// ones before it in its round.
	var rev int64
	pending := make([]*client.Pending, 0, 100)
	for rev < history {
		pending = pending[:0]
		for i := 0; i < 100 && rev+int64(i) < history; i++ {
			p, err := d.SubmitAsync(json.RawMessage(`["x"]`), rev)
			if err != nil {
				b.Fatal(err)
			}
			pending = append(pending, p)
		}
		for _, p := range pending {
			r, err := p.Wait(ctx)
			if err != nil {
				b.Fatal(err)
			}
			rev = max(rev, r)
		}
	}
	c.Close()
	s.stop()
	s.start()

	join := func() time.Duration {
		start := time.Now()
		c, err := client.Dial(ctx, s.wsURL(), client.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		d, err := c.Join(ctx, "long", "text")
		if err != nil {
			b.Fatal(err)
		}
		if d.Revision() != history {
			b.Fatalf("joined at %d", d.Revision())
		}
		return time.Since(start)
	}
	cold := join()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		join()
	}
	b.ReportMetric(float64(cold.Microseconds())/1000, "cold-join-ms")
}
