package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// environOf returns the GODEBUG value in a running process's environment ("" when unset).
func godebugOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatalf("read environ: %v", err)
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			return v
		}
	}
	return ""
}

// pluginPID returns the pid of the server's storage plugin subprocess.
func pluginPID(t *testing.T, server int) int {
	t.Helper()
	out, err := exec.Command("pgrep", "-P", strconv.Itoa(server)).Output()
	if err != nil {
		t.Fatalf("pgrep -P %d: %v", server, err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(out))[0])
	if err != nil {
		t.Fatalf("pgrep output %q: %v", out, err)
	}
	return pid
}

// The server re-executes itself so the Go runtime's sysmon backs off instead of polling every
// 20µs after each idle period (cmd/opstream/sysmon.go); its storage plugin inherits the
// setting; a user's GODEBUG is kept; OPSTREAM_STEADY_SYSMON=0 turns it off.
func TestServerRunsWithSteadySysmon(t *testing.T) {
	t.Setenv("GODEBUG", "madvdontneed=1")
	s := startServer(t, "")
	pid := s.cmd.Process.Pid
	want := "madvdontneed=1,schedtrace=2147483647"
	if got := godebugOf(t, pid); got != want {
		t.Errorf("server GODEBUG = %q, want %q", got, want)
	}
	if got := godebugOf(t, pluginPID(t, pid)); got != want {
		t.Errorf("storage plugin GODEBUG = %q, want %q", got, want)
	}
	s.stop()

	t.Setenv("OPSTREAM_STEADY_SYSMON", "0")
	off := startServer(t, "")
	if got := godebugOf(t, off.cmd.Process.Pid); got != "madvdontneed=1" {
		t.Errorf("with OPSTREAM_STEADY_SYSMON=0, server GODEBUG = %q, want the user's alone", got)
	}
}
