package jwt

import (
	"runtime"
	"syscall"
	"testing"
)

// threadCPU starts measuring the CPU time of the calling goroutine's thread (it stays locked to
// it): on a machine shared with other work, wall-clock ns/op also counts the time the thread
// waits for a core. The returned function reports cpu-ns/op; call it after the loop.
func threadCPU(b *testing.B) func() {
	runtime.LockOSThread()
	start, ok := threadNanos()
	return func() {
		end, ok2 := threadNanos()
		runtime.UnlockOSThread()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// threadNanos is the user and system CPU time of the calling thread (getrusage RUSAGE_THREAD).
func threadNanos() (int64, bool) {
	const rusageThread = 1
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
