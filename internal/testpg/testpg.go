// Package testpg starts private PostgreSQL servers for tests: initdb into a temporary directory
// (as the postgres user when running as root), postgres on a unix socket in it.
package testpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgServer is a private PostgreSQL server for the tests: its own data directory and a unix
// socket in a temporary directory, no TCP listener.
// Server is one private PostgreSQL server.
type Server struct {
	dir     string // owned by the server's user; holds data/ and the socket
	bin     string // directory of initdb and postgres
	port    int
	durable bool // fsync on (benchmarks) or off (tests)
	cred    *syscall.Credential
	cmd     *exec.Cmd
	done    chan struct{}
	schemas atomic.Int64
}

// pgBinDir finds initdb and postgres on the PATH or under /usr/lib/postgresql/*/bin.
func pgBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	for i := len(matches) - 1; i >= 0; i-- { // newest version first
		dir := filepath.Dir(matches[i])
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("initdb and postgres not found on the PATH or under /usr/lib/postgresql/*/bin: install PostgreSQL (apt-get install postgresql)")
}

// startServer runs initdb in a fresh temporary directory and starts postgres on it. As root it
// runs both as the postgres user (initdb refuses root).
// Start initdb-s and starts a server; durable turns fsync on.
func Start(durable bool) (*Server, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "opstream-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin, port: 5432, durable: durable}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs a postgres user to run initdb as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.dataDir(), "-U", "opstream",
		"--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if err := s.start(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// start starts postgres on the existing data directory and waits until it accepts connections.
func (s *Server) start() error {
	args := []string{"-D", s.dataDir(), "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=", "-c", "max_connections=200", "-c", "shared_buffers=64MB"}
	if !s.durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), args...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	log, err := os.Create(filepath.Join(os.TempDir(), filepath.Base(s.dir)+".log"))
	if err != nil {
		return err
	}
	defer log.Close()
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			out, _ := os.ReadFile(log.Name())
			return fmt.Errorf("postgres exited during start-up:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after 30s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts postgres down (fast shutdown, then SIGKILL to its process group) and keeps the
// data directory, so start can bring it back.
func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // any child left behind
	s.cmd = nil
}

// Halt stops the server but keeps its data directory: Resume brings it back on the same port.
func (s *Server) Halt() { s.stop() }

// Resume starts a halted server again.
func (s *Server) Resume() error { return s.start() }

// Stop stops the server and removes its directory.
func (s *Server) Stop() {
	s.stop()
	os.Remove(filepath.Join(os.TempDir(), filepath.Base(s.dir)+".log"))
	os.RemoveAll(s.dir)
}

// DSN is a connection string for database db over the unix socket.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://opstream@/%s?host=%s&port=%d&sslmode=disable", db, s.dir, s.port)
}

// NewSchema returns a schema name not used before on this server, so tests sharing the server
// run in parallel on separate tables.
func (s *Server) NewSchema() string {
	return fmt.Sprintf("t%d", s.schemas.Add(1))
}
