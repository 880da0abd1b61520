package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opstream/opstream/client"
)

// cpuTicks returns the CPU time (user+system, clock ticks) of pids and their children.
func cpuTicks(tb testing.TB, nodes []*server) int64 {
	var total int64
	for _, n := range nodes {
		pids := append([]int{n.cmd.Process.Pid}, n.children()...)
		for _, pid := range pids {
			b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
			if err != nil {
				tb.Fatal(err)
			}
			// Fields after the command name (which may hold spaces) start after the last ')'.
			f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
			utime, _ := strconv.ParseInt(f[11], 10, 64)
			stime, _ := strconv.ParseInt(f[12], 10, 64)
			total += utime + stime
		}
	}
	return total
}

// BenchmarkClusterSubmit measures a submit's round trip (submit to ack, one in flight) from a
// peer on the owner node (direct) and from a peer on another node (forwarded through Redis), on
// two real nodes sharing redis-server and PostgreSQL. It reports p50/p99 latency and the CPU
// all node processes (with their storage plugins) spent per op.
//
//	make build && OPSTREAM_BIN=$PWD/bin/opstream go test -run '^$' -bench ClusterSubmit -benchtime 2000x ./e2e/
func BenchmarkClusterSubmit(b *testing.B) {
	c := startCluster(b, 2, 5*time.Second, "")
	ctx := context.Background()
	if code, _, err := tryPost(c.nodes[0], "bench", 0, []any{"x"}, "seed", 1); code != 200 {
		b.Fatalf("seed op: %d %v", code, err)
	}
	if c.ownerOf("bench") != 0 {
		b.Fatalf("node 0 should own the document")
	}
	for _, mode := range []struct {
		name string
		node int
	}{{"direct", 0}, {"forwarded", 1}} {
		b.Run(mode.name, func(b *testing.B) {
			conn, err := client.Dial(ctx, c.nodes[mode.node].wsURL(), client.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			d, err := conn.Join(ctx, "bench", "text")
			if err != nil {
				b.Fatal(err)
			}
			go func() {
				for range d.Events() {
				}
			}()
			op, _ := json.Marshal([]any{"y"})
			lat := make([]time.Duration, 0, b.N)
			cpu0 := cpuTicks(b, c.nodes)
			for i, addr := range c.pprof {
				// OPSTREAM_E2E_PPROF=1: profile every node during the run.
				go func() {
					resp, err := http.Get("http://" + addr + "/debug/pprof/profile?seconds=5")
					if err != nil {
						return
					}
					defer resp.Body.Close()
					f, err := os.Create(filepath.Join(os.TempDir(), fmt.Sprintf("cluster-%s-n%d.prof", mode.name, i)))
					if err != nil {
						return
					}
					defer f.Close()
					_, _ = io.Copy(f, resp.Body)
				}()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := d.Submit(ctx, op, d.Revision()); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			cpu := cpuTicks(b, c.nodes) - cpu0
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			// Clock ticks are 10ms (USER_HZ 100).
			b.ReportMetric(float64(cpu)*10000/float64(b.N), "cpu-µs/op")
		})
	}
}
