package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/bluegreen/bluegreen/config"
)

// validateUsage is the usage line of bluegreen validate.
const validateUsage = "usage: bluegreen validate [PATH ...]   (files or folders; default ./apps.d)"

// runValidate checks app configs without touching Docker (bluegreen
// validate): it prints every problem to stderr and exits 1, or one line per
// app to stdout and exits 0. Bad usage exits 2.
func runValidate(args []string, stdout, stderr io.Writer) int {
	var paths []string
	flags := true
	for _, a := range args {
		switch {
		case flags && a == "--":
			flags = false
		case flags && (a == "-h" || a == "-help" || a == "--help"):
			fmt.Fprintln(stdout, validateUsage)
			fmt.Fprintln(stdout, "Checks app configs (a folder gives its *.yaml and *.yml files; a file is read whatever its extension).")
			fmt.Fprintln(stdout, "Prints every problem and exits 1, or one line per app and exits 0.")
			return 0
		case flags && strings.HasPrefix(a, "-") && a != "-":
			fmt.Fprintf(stderr, "bluegreen validate: unknown flag %s\n%s\n", a, validateUsage)
			return 2
		default:
			paths = append(paths, a)
		}
	}
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
