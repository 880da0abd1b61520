package e2e

import (
	"bufio"
	"encoding/json"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `opstream dev cluster` (make cluster) starts redis-server and three nodes that serve one
// document from any node, and stops everything on SIGINT.
func TestDevCluster(t *testing.T) {
	port := func() int {
		p, _ := strconv.Atoi(strings.TrimPrefix(freePort(t), "127.0.0.1:"))
		return p
	}
	base := port()
	for i := 1; i < 3; i++ { // the next two ports must be free too; retry on a clash
		if !portFree(base + i) {
			base = port()
			i = 0
		}
	}
	cmd := exec.Command(binPath, "dev", "cluster", "--nodes", "3", "--base-port", strconv.Itoa(base),
		"--redis-port", strconv.Itoa(port()), "--dir", t.TempDir(), "--ownership-lease-ttl", "1s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	var printed []string
	timeout := time.After(90 * time.Second)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("dev cluster exited early:\n%s", strings.Join(printed, "\n"))
			}
			printed = append(printed, l)
			if strings.HasPrefix(l, "cluster ready") {
				break wait
			}
		case <-timeout:
			t.Fatalf("dev cluster not ready in 90s:\n%s", strings.Join(printed, "\n"))
		}
	}
	go func() {
		for range lines {
		}
	}()
	nodes := make([]*server, 3)
	for i := range nodes {
		addr := "127.0.0.1:" + strconv.Itoa(base+i)
		if !strings.Contains(strings.Join(printed, "\n"), "http://"+addr) {
			t.Errorf("address %s not printed:\n%s", addr, strings.Join(printed, "\n"))
		}
		nodes[i] = &server{t: t, addr: addr}
	}
	if code, _ := postOp(t, nodes[0], "tryit", 0, []any{"hi"}, "c", 1); code != 200 {
		t.Fatalf("POST to n0: %d", code)
	}
	if code, _ := postOp(t, nodes[1], "tryit", 1, []any{2, "!"}, "c", 2); code != 200 {
		t.Fatalf("POST to n1: %d", code)
	}
	code, d := getDoc(t, nodes[2], "tryit")
	var text string
	_ = json.Unmarshal(d.Snapshot, &text)
	if code != 200 || text != "hi!" {
		t.Fatalf("GET from n2: %d %q", code, text)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(45 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("dev cluster did not stop within 45s of SIGINT")
	}
	for i := 0; i < 3; i++ {
		if !portFree(base + i) {
			t.Errorf("port %d still served after the cluster stopped", base+i)
		}
	}
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
