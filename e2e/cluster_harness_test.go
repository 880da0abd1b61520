package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opstream/opstream/internal/testpg"
	"github.com/opstream/opstream/internal/testredis"
)

// The cluster tests share one private PostgreSQL server (the shared store), each test in its
// own schema; each test starts its own redis-server (the backplane) so it may restart it.
var (
	pgOnce sync.Once
	pgSrv  *testpg.Server
	pgErr  error
)

func sharedPostgres(t testing.TB) *testpg.Server {
	t.Helper()
	pgOnce.Do(func() { pgSrv, pgErr = testpg.Start(false) })
	if pgErr != nil {
		t.Fatalf("start PostgreSQL (CI installs it: apt-get install -y postgresql): %v", pgErr)
	}
	return pgSrv
}

func stopSharedPostgres() {
	if pgSrv != nil {
		pgSrv.Stop()
	}
}

// cluster is a redis-server, a PostgreSQL schema and n opstream nodes sharing them.
type cluster struct {
	t      testing.TB
	redis  *testredis.Server
	pg     *testpg.Server
	schema string
	cfg    string
	ttl    time.Duration
	nodes  []*server
	pprof  []string // pprof addresses, with OPSTREAM_E2E_PPROF set
}

func startCluster(t testing.TB, n int, ttl time.Duration, extraYAML string) *cluster {
	t.Helper()
	port, _ := strconv.Atoi(strings.TrimPrefix(freePort(t), "127.0.0.1:"))
	rs, err := testredis.Start(t.TempDir(), port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Stop)
	pg := sharedPostgres(t)
	c := &cluster{t: t, redis: rs, pg: pg, schema: "cluster" + pg.NewSchema(), ttl: ttl}
	c.cfg = writeConfig(t, fmt.Sprintf(`
backplane:
  type: redis
  addr: %s
  ownershipLeaseTtl: %s
  forwardTimeout: 2s
storage:
  provider: postgres
  config:
    dsn: %q
    schema: %s
snapshots:
  every: 25
%s`, rs.Addr(), ttl, pg.DSN("postgres"), c.schema, extraYAML))
	for i := 0; i < n; i++ {
		args := []string{"--config", c.cfg, "--node-id", fmt.Sprintf("n%d", i)}
		if os.Getenv("OPSTREAM_E2E_PPROF") != "" {
			c.pprof = append(c.pprof, freePort(t))
			args = append(args, "--pprof-addr", c.pprof[i])
		}
		c.nodes = append(c.nodes, startServer(t, "", args...))
	}
	return c
}

// ownerOf returns the index of the node holding doc's lease, or -1.
func (c *cluster) ownerOf(doc string) int {
	rc := c.redis.Client()
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := rc.Get(ctx, "opstream:bp:lease:default/"+doc).Result()
	if err != nil {
		return -1
	}
	for i := range c.nodes {
		if strings.HasPrefix(v, fmt.Sprintf("n%d.", i)) {
			return i
		}
	}
	return -1
}

// storeCheck reads doc's op log straight from PostgreSQL: it fails the test unless revisions
// are exactly 1..N, each written once, and each (client id, seq) appears once. It returns the
// log as "clientId/seq" by revision (index 0 is revision 1).
func (c *cluster) storeCheck(doc string) []string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.pg.DSN("postgres"))
	if err != nil {
		c.t.Fatalf("connect to the store: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT revision, client_id, seq FROM %s.ops WHERE id = $1 ORDER BY revision`, c.schema), doc)
	if err != nil {
		c.t.Fatalf("read ops: %v", err)
	}
	defer rows.Close()
	var log []string
	seen := make(map[string]int64)
	for rows.Next() {
		var rev, seq int64
		var client string
		if err := rows.Scan(&rev, &client, &seq); err != nil {
			c.t.Fatal(err)
		}
		if rev != int64(len(log))+1 {
			c.t.Fatalf("op log of %s: revision %d after %d (written twice or missing)", doc, rev, len(log))
		}
		id := client + "/" + strconv.FormatInt(seq, 10)
		if first, dup := seen[id]; dup && client != "" {
			c.t.Fatalf("op log of %s: %s applied twice (revisions %d and %d)", doc, id, first, rev)
		}
		seen[id] = rev
		log = append(log, id)
	}
	if err := rows.Err(); err != nil {
		c.t.Fatal(err)
	}
	return log
}

// pause stops (SIGSTOP) or continues (SIGCONT) a node's own process, not its storage plugin.
func (s *server) signal(sig syscall.Signal) {
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

// children returns the pids of a node's child processes (its storage plugin), whichever of its
// threads started them.
func (s *server) children() []int {
	tasks, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "task", "*", "children"))
	if err != nil {
		s.t.Fatal(err)
	}
	var pids []int
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(field); err == nil {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

func readyStatus(s *server) int {
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(s.url("/health/ready"))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitReady polls a node's readiness until it equals want.
func waitReady(t *testing.T, s *server, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if readyStatus(s) == want {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: /health/ready did not become %d within %s", s.addr, want, within)
	return 0
}

// balancer is a TCP load balancer without sticky sessions: each new connection goes to the next
// backend that accepts it (round robin), like a cloud load balancer in front of the nodes.
type balancer struct {
	ln       net.Listener
	backends []string
	next     atomic.Uint64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

func startBalancer(t *testing.T, backends []string) *balancer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln, backends: backends, conns: make(map[net.Conn]struct{})}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(b.close)
	return b
}

func (b *balancer) addr() string { return b.ln.Addr().String() }

func (b *balancer) serve() {
	defer b.wg.Done()
	for {
		in, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.proxy(in)
		}()
	}
}

func (b *balancer) track(c net.Conn, add bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if add {
		b.conns[c] = struct{}{}
	} else {
		delete(b.conns, c)
	}
}

func (b *balancer) proxy(in net.Conn) {
	defer in.Close()
	var out net.Conn
	for i := 0; i < len(b.backends); i++ {
		addr := b.backends[int(b.next.Add(1))%len(b.backends)]
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			out = c
			break
		}
	}
	if out == nil {
		return
	}
	defer out.Close()
	b.track(in, true)
	b.track(out, true)
	defer b.track(in, false)
	defer b.track(out, false)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
	go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
	<-done
}

func (b *balancer) close() {
	_ = b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		_ = c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}
