package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
)

// sysmonGODEBUG keeps the Go runtime's system monitor thread from parking whenever the process
// goes idle. Parked, it is woken by the next system call and then polls every 20µs for a
// millisecond before backing off (golang/go#18236: the tick is hardcoded). A server that goes
// idle and busy again a thousand times a second, as OpStream does between group commits, spends
// 10-15% of its CPU, and as much again in context switches, in that polling. With schedtrace
// set, sysmon never parks and backs off to a 10ms tick when it has nothing to do, as it does in
// a process that is always busy. The side effects: a scheduler trace line on stderr every
// 2^31-1 milliseconds (24.8 days of machine uptime; at start-up on a machine up longer than
// that) and scheduler detail in a fatal panic's output.
const sysmonGODEBUG = "schedtrace=2147483647"

// steadySysmonEnv is the environment variable that turns the re-exec off (OPSTREAM_STEADY_SYSMON=0).
const steadySysmonEnv = "OPSTREAM_STEADY_SYSMON"

// withSteadySysmon re-executes the process with sysmonGODEBUG added to GODEBUG (the runtime reads
// GODEBUG's schedtrace only at start-up) for the long-running commands: the server (whose
// storage plugin subprocess inherits the environment) and the load generator. It returns when
// there is nothing to do, the user set schedtrace or turned it off, or exec failed (the process
// then runs as it is).
func withSteadySysmon(args []string) {
	if runtime.GOOS == "windows" { // no exec(2) there
		return
	}
	if len(args) < 2 || (args[1] != "serve" && args[1] != "bench" && args[1] != "dev") {
		return
	}
	if v := os.Getenv(steadySysmonEnv); v == "0" || v == "false" {
		return
	}
	godebug := os.Getenv("GODEBUG")
	for _, kv := range strings.Split(godebug, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "schedtrace=") {
			return
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	if godebug != "" {
		godebug += ","
	}
	if err := os.Setenv("GODEBUG", godebug+sysmonGODEBUG); err != nil {
		return
	}
	err = syscall.Exec(exe, args, os.Environ())
	fmt.Fprintf(os.Stderr, "opstream: re-exec with GODEBUG=%s failed (running without it): %v\n", sysmonGODEBUG, err)
}
