// Command bluegreen runs zero-downtime blue-green deployments of Docker
// containers: `bluegreen serve` is the supervisor, `bluegreen ctl` its client.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/bluegreen/bluegreen/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
