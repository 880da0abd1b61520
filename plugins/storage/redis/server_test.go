package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// redisServer is a private redis-server process started by the tests: no persistence, bound to
// a unix socket or a loopback port.
type redisServer struct {
	cmd  *exec.Cmd
	addr string // as the provider's config wants it: "unix:///..." or "127.0.0.1:port"
	args []string
	dir  string
	done chan error
}

// startRedis starts redis-server with a unix socket in dir (port 0 ... no TCP) when port is 0,
// else on 127.0.0.1:port, and waits until it answers PING.
func startRedis(dir string, port int) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server not found on the PATH: these tests need a real Redis " +
			"(apt-get install -y redis-server); CI installs it")
	}
	s := &redisServer{dir: dir}
	s.args = []string{"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "warning", "--logfile", filepath.Join(dir, "redis.log")}
	if port == 0 {
		sock := filepath.Join(dir, "redis.sock")
		s.args = append(s.args, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700")
		s.addr = "unix://" + sock
	} else {
		s.args = append(s.args, "--port", strconv.Itoa(port), "--bind", "127.0.0.1")
		s.addr = "127.0.0.1:" + strconv.Itoa(port)
	}
	return s, s.start(bin)
}

func (s *redisServer) start(bin string) error {
	s.cmd = exec.Command(bin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	c := s.client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-s.done:
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server exited at start: %v\n%s", werr, log)
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("redis-server did not answer within 10s: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restart starts the server again with the same arguments (same port or socket).
func (s *redisServer) restart() error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return err
	}
	return s.start(bin)
}

// stop terminates the server and waits for it to exit.
func (s *redisServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// client is a plain go-redis client for checks the provider does not offer.
func (s *redisServer) client() *goredis.Client {
	opt := &goredis.Options{Addr: s.addr, DisableIdentity: true}
	if path, ok := cutUnix(s.addr); ok {
		opt.Network, opt.Addr = "unix", path
	}
	return goredis.NewClient(opt)
}

func cutUnix(addr string) (string, bool) {
	const p = "unix://"
	if len(addr) > len(p) && addr[:len(p)] == p {
		return addr[len(p):], true
	}
	return "", false
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// shared is the server most tests use, started by TestMain; each test gets its own key prefix.
var shared *redisServer

var prefixes atomic.Int64

// nextPrefix returns a key prefix no other test uses.
func nextPrefix() string { return fmt.Sprintf("test%d:", prefixes.Add(1)) }
