// Package e2e tests the real opstream binary end to end: real processes, real SQLite files,
// real WebSocket clients. `make test` builds bin/opstream first and points OPSTREAM_BIN at it.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binPath string

func TestMain(m *testing.M) {
	binPath = os.Getenv("OPSTREAM_BIN")
	if binPath == "" {
		_, file, _, _ := runtime.Caller(0)
		binPath = filepath.Join(filepath.Dir(file), "..", "bin", "opstream")
	}
	if _, err := os.Stat(binPath); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %s is missing: run `make build` (or `make test`) first\n", binPath)
		os.Exit(1)
	}
	code := m.Run()
	stopSharedPostgres()
	os.Exit(code)
}

// server is one opstream process.
type server struct {
	t       testing.TB
	dataDir string
	addr    string
	args    []string
	cmd     *exec.Cmd
	log     *syncBuffer
	exited  chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer starts opstream on a free port with a fresh data dir (or dataDir when given).
func startServer(t testing.TB, dataDir string, args ...string) *server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	s := &server{t: t, dataDir: dataDir, addr: freePort(t), args: args, log: &syncBuffer{}}
	s.start()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})
	return s
}

func (s *server) start() {
	s.t.Helper()
	args := append([]string{"serve", "--addr", s.addr, "--data-dir", s.dataDir}, s.args...)
	s.cmd = exec.Command(binPath, args...)
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start server: %v", err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(s.cmd, s.exited)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			s.t.Fatalf("server exited at start:\n%s", s.log.String())
		default:
		}
		resp, err := http.Get(s.url("/health/ready"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("server not ready in 60s:\n%s", s.log.String())
}

// stop sends SIGTERM and waits.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.t.Errorf("server did not stop within 30s of SIGTERM")
		s.kill9()
	}
}

// kill9 kills the server and its storage plugin subprocess.
func (s *server) kill9() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
}

// kill9Server kills the server process alone, as `kill -9 PID` does: its storage plugin is
// orphaned and must notice and exit by itself while the next server starts.
func (s *server) kill9Server() {
	_ = syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
}

func (s *server) url(path string) string { return "http://" + s.addr + path }
func (s *server) wsURL() string          { return "ws://" + s.addr + "/v1/ws" }

// httpJSON does a request and decodes a JSON answer.
func httpJSON(t testing.TB, method, url string, body any, out any) int {
	t.Helper()
	return httpJSONAuth(t, method, url, "", body, out)
}

// httpJSONAuth is httpJSON with a bearer token.
func httpJSONAuth(t testing.TB, method, url, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, raw, err)
		}
	}
	return resp.StatusCode
}

type docResp struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Revision int64           `json:"revision"`
	Snapshot json.RawMessage `json:"snapshot"`
}

type opsResp struct {
	Ops []struct {
		Revision int64           `json:"revision"`
		Op       json.RawMessage `json:"op"`
		ClientID string          `json:"clientId"`
		Seq      uint64          `json:"seq"`
	} `json:"ops"`
}

type submitResp struct {
	Revision  int64           `json:"revision"`
	Op        json.RawMessage `json:"op"`
	Duplicate bool            `json:"duplicate"`
	Error     *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func postOp(t *testing.T, s *server, doc string, base int64, op any, client string, seq uint64) (int, submitResp) {
	t.Helper()
	var r submitResp
	code := httpJSON(t, "POST", s.url("/v1/docs/"+doc+"/ops"), map[string]any{
		"type": "text", "baseRevision": base, "op": op, "clientId": client, "seq": seq,
	}, &r)
	return code, r
}

func getDoc(t testing.TB, s *server, doc string) (int, docResp) {
	t.Helper()
	var d docResp
	code := httpJSON(t, "GET", s.url("/v1/docs/"+doc), nil, &d)
	return code, d
}

func getOps(t *testing.T, s *server, doc string) opsResp {
	t.Helper()
	var all opsResp
	from := int64(1)
	for {
		var page opsResp
		if code := httpJSON(t, "GET", s.url(fmt.Sprintf("/v1/docs/%s/ops?from=%d&limit=10000", doc, from)), nil, &page); code != 200 {
			t.Fatalf("get ops: status %d", code)
		}
		all.Ops = append(all.Ops, page.Ops...)
		if len(page.Ops) < 10000 {
			return all
		}
		from = page.Ops[len(page.Ops)-1].Revision + 1
	}
}

// tryPost is postOp for goroutines: it reports errors instead of failing the test.
func tryPost(s *server, doc string, base int64, op any, client string, seq uint64) (int, submitResp, error) {
	return tryPostTimeout(s, doc, base, op, client, seq, 5*time.Second)
}

func tryPostTimeout(s *server, doc string, base int64, op any, client string, seq uint64, timeout time.Duration) (int, submitResp, error) {
	body, _ := json.Marshal(map[string]any{"type": "text", "baseRevision": base, "op": op, "clientId": client, "seq": seq})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.url("/v1/docs/"+doc+"/ops"), bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, submitResp{}, err
	}
	defer resp.Body.Close()
	var r submitResp
	err = json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r, err
}

// writeConfig writes a YAML config file for a test server and returns its path.
func writeConfig(t testing.TB, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "opstream.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
