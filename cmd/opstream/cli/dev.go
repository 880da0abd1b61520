package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Dev runs development helpers: `opstream dev cluster`.
func Dev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "cluster" {
		return errors.New("usage: opstream dev cluster [flags]")
	}
	return devCluster(ctx, args[1:], stdout, stderr)
}

// devCluster starts redis-server (the backplane, and the shared store through the Redis storage
// provider) and n nodes on loopback ports, prints their addresses and runs until interrupted.
func devCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := fs.Int("nodes", 3, "number of nodes")
	basePort := fs.Int("base-port", 7071, "first node's port; node i listens on base-port+i")
	redisPort := fs.Int("redis-port", 6390, "redis-server port (backplane and shared store)")
	dir := fs.String("dir", "opstream-cluster", "directory for Redis data, node data and logs")
	leaseTTL := fs.Duration("ownership-lease-ttl", 3*time.Second, "document ownership lease TTL")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: opstream dev cluster [flags]\n\nStarts redis-server and a local cluster on loopback ports; Ctrl-C stops everything.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *nodes < 1 {
		return fmt.Errorf("--nodes %d: need at least one", *nodes)
	}
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return errors.New("redis-server is not on the PATH (Debian: apt-get install -y redis-server)")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(abs, "redis"), 0o755); err != nil {
		return err
	}
	for i := 0; i < *nodes; i++ {
		if err := checkPortFree(*basePort + i); err != nil {
			return err
		}
	}
	if err := checkPortFree(*redisPort); err != nil {
		return err
	}

	redisAddr := "127.0.0.1:" + strconv.Itoa(*redisPort)
	redis := exec.Command(redisBin, "--port", strconv.Itoa(*redisPort), "--bind", "127.0.0.1", "--dir", filepath.Join(abs, "redis"),
		"--appendonly", "yes", "--save", "", "--logfile", filepath.Join(abs, "redis.log"))
	if err := redis.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	redisProc := watch(redis)
	defer redisProc.stop()
	if err := waitRedis(ctx, redisAddr); err != nil {
		return err
	}

	cfgPath := filepath.Join(abs, "cluster.yaml")
	cfg := fmt.Sprintf(`# written by opstream dev cluster
backplane:
  type: redis
  addr: %s
  ownershipLeaseTtl: %s
storage:
  provider: redis
  config:
    addr: %s
    keyPrefix: "opstream:store:"
`, redisAddr, *leaseTTL, redisAddr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	exited := make(chan string, *nodes)
	var procs []*process
	defer func() {
		for _, p := range procs {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			p.stop()
		}
	}()
	fmt.Fprintf(stdout, "redis-server  %s  (backplane and shared store; data in %s)\n", redisAddr, filepath.Join(abs, "redis"))
	for i := 0; i < *nodes; i++ {
		name := "n" + strconv.Itoa(i)
		addr := "127.0.0.1:" + strconv.Itoa(*basePort+i)
		logf, err := os.Create(filepath.Join(abs, name+".log"))
		if err != nil {
			return err
		}
		defer logf.Close()
		p := exec.Command(self, "serve", "--config", cfgPath, "--addr", addr, "--node-id", name, "--data-dir", filepath.Join(abs, name))
		p.Stdout, p.Stderr = logf, logf
		if err := p.Start(); err != nil {
			return fmt.Errorf("start node %s: %w", name, err)
		}
		proc := watch(p)
		procs = append(procs, proc)
		go func() {
			<-proc.done
			exited <- name
		}()
		fmt.Fprintf(stdout, "node %-4s     http://%s  ws://%s/v1/ws  (log %s)\n", name, addr, addr, logf.Name())
	}
	for i := 0; i < *nodes; i++ {
		if err := waitReady(ctx, "127.0.0.1:"+strconv.Itoa(*basePort+i), exited); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, "cluster ready; any node serves any document. Ctrl-C stops it.")
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "stopping")
		return nil
	case name := <-exited:
		return fmt.Errorf("node %s exited; see its log in %s", name, abs)
	}
}

// waitReady polls a node's /health/ready until it answers 200.
func waitReady(ctx context.Context, addr string, exited <-chan string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case name := <-exited:
			return fmt.Errorf("node %s exited at start; see its log", name)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node at %s not ready after 2 minutes; see its log", addr)
		}
	}
}

func checkPortFree(port int) error {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("port %d is taken: %w (choose others with the flags)", port, err)
	}
	return l.Close()
}

func waitRedis(ctx context.Context, addr string) error {
	c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("redis-server did not answer on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// process is a started child and a channel closed when it exits.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func watch(cmd *exec.Cmd) *process {
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p
}

// stop asks the process to stop and kills it after 15s.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
