package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/config"
)

// validateUsage is the usage line of bluegreen validate.
const validateUsage = "usage: bluegreen validate [PATH ...]   (files or folders; default ./apps.d)"

// newValidateCmd is `bluegreen validate [PATH ...]`.
func newValidateCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [PATH ...]",
		Short: "check app configs without Docker",
		Long: validateUsage + `

Checks app configs (a folder gives its *.yaml and *.yml files; a file is read whatever its extension).
Prints every problem and exits 1, or one line per app and exits 0.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return exit(runValidate(args, stdout, stderr))
		},
	}
}

// runValidate checks app configs without touching Docker (bluegreen
// validate): it prints every problem to stderr and exits 1, or one line per
// app to stdout and exits 0.
func runValidate(paths []string, stdout, stderr io.Writer) int {
	if len(paths) == 0 {
		paths = []string{DefaultAppsDir}
	}

	apps, err := config.Load(paths...)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
		} else {
			fmt.Fprintf(stderr, "bluegreen validate: %v\n", err)
		}
		return 1
	}
	if len(apps) == 0 {
		fmt.Fprintf(stderr, "bluegreen validate: no app configs (*.yaml, *.yml) in %s\n", strings.Join(paths, ", "))
		return 0
	}
	for _, app := range apps {
		listen := ":" + strconv.Itoa(app.Ports.Proxy)
		if app.Proxy.ListenAddress != config.DefaultListenAddress {
			listen = net.JoinHostPort(app.Proxy.ListenAddress, strconv.Itoa(app.Ports.Proxy))
		}
		fmt.Fprintf(stdout, "%s: ok (%s, proxy %s)\n", app.File, app.Name, listen)
	}
	return 0
}
