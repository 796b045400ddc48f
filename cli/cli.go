// Package cli is the bluegreen command line: the dispatcher of `serve`,
// `validate`, `version` and `ctl`, the client of the management API.
package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
)

// Version is the build's version, set with
// -ldflags "-X github.com/bluegreen/bluegreen/cli.Version=...".
var Version = "dev"

// Exit statuses of every command (CONTRACT §1).
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

const usageText = `bluegreen: zero-downtime blue-green deployments of Docker containers

usage:
  bluegreen serve [--apps DIR] [--db FILE] [--api ADDR] [--log-format text|json] [--log-level L]
  bluegreen validate [PATH ...]
  bluegreen ctl [--api ADDR] [--json] SUBCOMMAND ...   (bluegreen ctl help for the list)
  bluegreen version
`

// Run runs the command named by args[0] and returns the process exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return ExitUsage
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "validate":
		return runValidate(args[1:], stdout, stderr)
	case "ctl":
		return runCtl(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		if len(args) > 1 {
			fmt.Fprintln(stderr, "usage: bluegreen version")
			return ExitUsage
		}
		fmt.Fprintf(stdout, "bluegreen %s (%s)\n", Version, runtime.Version())
		return ExitOK
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[1] == "ctl" {
			return runCtl(ctx, []string{"help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usageText)
		return ExitOK
	}
	fmt.Fprintf(stderr, "bluegreen: unknown command %q\n\n%s", args[0], usageText)
	return ExitUsage
}
