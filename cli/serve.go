package cli

import (
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/daemon"
)

// Defaults of `bluegreen serve`.
const (
	DefaultAppsDir = "./apps.d"
	DefaultDB      = "./bluegreen.db"
	DefaultAPI     = "127.0.0.1:7070"
)

// newServeCmd is `bluegreen serve` with its flags; the serving process
// itself is the daemon package's.
func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var o daemon.Options
	cmd := &cobra.Command{
		Use:   "serve [--apps DIR] [--db FILE] [--api ADDR] [--log-format text|json] [--log-level L] [--access-log FILE]",
		Short: "run the supervisor: deployments, proxies and the management API",
		Long: `bluegreen serve runs the supervisor until SIGINT or SIGTERM (in-flight requests finish; the
containers keep running). SIGHUP re-reads the app configs and reopens the --access-log FILE.
SIGUSR2 upgrades it onto the binary now at its path without dropping a request. DOCKER_HOST picks
the Docker daemon.`,
		Args: argsBetween(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Args = os.Args[1:] // the process's own arguments ("serve" and its flags), for an upgrade
			o.Version, o.Stderr = Version, stderr
			return exit(serveStatus(daemon.Run(cmd.Context(), o)))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.AppsDir, "apps", DefaultAppsDir, "`DIR` of app configs (*.yaml, *.yml)")
	fs.StringVar(&o.DB, "db", DefaultDB, "SQLite database `FILE`")
	fs.StringVar(&o.API, "api", DefaultAPI, "`ADDR` of the management API: host:port on loopback, or unix:/path/to.sock")
	fs.StringVar(&o.LogFormat, "log-format", "text", "log `FORMAT`: text or json")
	fs.StringVar(&o.LogLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	fs.StringVar(&o.AccessLog, "access-log", "", "`FILE` the proxies' access log is appended to, reopened on SIGHUP (default: the log output)")
	fs.DurationVar(&o.ReconcileInterval, "reconcile-interval", daemon.DefaultReconcileInterval, "how often each app re-reads its containers from Docker")
	fs.IntVar(&o.DockerConcurrency, "docker-concurrency", daemon.DefaultDockerConcurrency, "container creates, starts, stops and removals sent to Docker at once, for all apps (`N`; 0: no bound)")
	_ = cmd.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagDirname("apps")
	_ = cmd.MarkFlagFilename("access-log")
	return cmd
}

// serveStatus is the exit status of serve that ended with r.
func serveStatus(r daemon.Result) int {
	switch r {
	case daemon.Stopped:
		return ExitOK
	case daemon.BadOption:
		return ExitUsage
	}
	return ExitFailed
}
