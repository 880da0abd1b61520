// Package testredis starts private redis-server processes for tests: no persistence, on a
// loopback port or a unix socket in a temporary directory.
package testredis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Server is one redis-server process.
type Server struct {
	cmd  *exec.Cmd
	addr string // "unix:///..." or "127.0.0.1:port"
	args []string
	dir  string
	done chan error
}

// Start starts redis-server with a unix socket in dir when port is 0, else on
// 127.0.0.1:port, and waits until it answers PING. A missing redis-server is an error that says
// how to install it: tests that need Redis fail loudly rather than skip.
func Start(dir string, port int) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server not found on the PATH: these tests need a real Redis " +
			"(apt-get install -y redis-server); CI installs it")
	}
	s := &Server{dir: dir}
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

// Addr is the server's address: "unix:///path" or "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

func (s *Server) start(bin string) error {
	s.cmd = exec.Command(bin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.done = make(chan error, 1)
	go func(cmd *exec.Cmd, done chan error) { done <- cmd.Wait() }(s.cmd, s.done)
	c := s.Client()
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
			s.Stop()
			return fmt.Errorf("redis-server did not answer within 10s: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart starts the server again with the same arguments (same port or socket).
func (s *Server) Restart() error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return err
	}
	return s.start(bin)
}

// Stop terminates the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Kill stops the server with SIGKILL.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Client is a plain go-redis client for checks.
func (s *Server) Client() *goredis.Client {
	opt := &goredis.Options{Addr: s.addr, DisableIdentity: true}
	if len(s.addr) > len("unix://") && s.addr[:len("unix://")] == "unix://" {
		opt.Network, opt.Addr = "unix", s.addr[len("unix://"):]
	}
	return goredis.NewClient(opt)
}
