// Command opstream is the OpStream server and its tools. See `opstream help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/opstream/opstream/cmd/opstream/cli"
)

func main() {
	withSteadySysmon(os.Args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
