package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// storagePluginPid finds the server's storage plugin subprocess.
func storagePluginPid(t *testing.T, s *server) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", s.cmd.Process.Pid, s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), "storage-plugin") {
			return pid
		}
	}
	// The Go runtime may have forked from another thread: look at every task.
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", s.cmd.Process.Pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", s.cmd.Process.Pid, task.Name()))
		for _, f := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(f)
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if strings.Contains(string(cmdline), "storage-plugin") {
				return pid
			}
		}
	}
	t.Fatal("no storage plugin subprocess found")
	return 0
}

// TestStoragePluginCrashIsRecovered kills the storage plugin with SIGKILL while a writer is
// busy: readiness turns false, ops get Unavailable (never an ack), the plugin is restarted, and
// in the end every acknowledged op is in the log exactly once.
func TestStoragePluginCrashIsRecovered(t *testing.T) {
	s := startServer(t, "")
	if code, _ := postOp(t, s, "crash", 0, []any{"s"}, "w", 1); code != 200 {
		t.Fatal("setup")
	}
	type ack struct {
		seq uint64
		rev int64
	}
	acks := make(chan ack, 10000)
	stop := make(chan struct{})
	done := make(chan struct{})
	unavailable := 0
	go func() {
		defer close(done)
		rev, seq := int64(1), uint64(1)
		for {
			select {
			case <-stop:
				return
			default:
			}
			seq++
			code, r, err := tryPost(s, "crash", rev, []any{"x"}, "w", seq)
			switch {
			case err != nil:
				seq-- // resubmit the same op
			case code == 200:
				acks <- ack{seq, r.Revision}
				rev = r.Revision
			case code == 503:
				unavailable++
				seq-- // resubmit the same op: deduplication makes it safe
				time.Sleep(20 * time.Millisecond)
			default:
				t.Errorf("unexpected status %d: %+v", code, r.Error)
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	if err := syscall.Kill(storagePluginPid(t, s), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sawNotReady := false
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		code := httpJSON(t, "GET", s.url("/health/ready"), nil, nil)
		if code == 503 {
			sawNotReady = true
		}
		if code == 200 && sawNotReady {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	<-done
	close(acks)
	if !sawNotReady {
		t.Error("readiness never turned false while the storage plugin was down")
	}
	if !strings.Contains(s.log.String(), "storage provider restarted") {
		t.Fatalf("plugin not restarted:\n%s", s.log.String())
	}
	ops := getOps(t, s, "crash")
	bySeq := map[uint64]int{}
	for i, op := range ops.Ops {
		if op.Revision != int64(i+1) {
			t.Fatalf("gap at revision %d", i+1)
		}
		bySeq[op.Seq]++
	}
	n := 0
	for a := range acks {
		n++
		if bySeq[a.seq] != 1 {
			t.Fatalf("acked op seq %d present %d times", a.seq, bySeq[a.seq])
		}
	}
	for seq, c := range bySeq {
		if c != 1 {
			t.Fatalf("seq %d present %d times", seq, c)
		}
	}
	t.Logf("%d ops acked, %d Unavailable answers while the plugin was down", n, unavailable)
}
