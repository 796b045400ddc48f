// Package cli is the bluegreen command line, on github.com/spf13/cobra:
// `serve`, `validate`, `version`, `completion` and `ctl`, the client of the
// management API.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is the build's version, set with
// -ldflags "-X github.com/bluegreen/bluegreen/cli.Version=...".
var Version = "dev"

// Exit statuses of every command (docs/cli.md, "Exit codes").
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

const usageText = `usage:
  bluegreen serve [--apps DIR] [--db FILE] [--api ADDR] [--log-format text|json] [--log-level L]
  bluegreen validate [PATH ...]
  bluegreen ctl [--api ADDR] [--json] SUBCOMMAND ...   (bluegreen ctl help for the list)
  bluegreen version
  bluegreen completion bash|zsh|fish
`

// Run runs the command that args name and returns the process exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(longFlags(root, args))
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	// Everything else is bad usage: cobra's own errors (a flag, an unknown
	// command) and those of the argument checks.
	if cmd == nil {
		cmd = root
	}
	fmt.Fprintf(stderr, "%s: %v\n%s", errorPrefix(cmd), err, usageLine(cmd))
	return ExitUsage
}

// exitCode ends a command with a status other than ExitOK; the command has
// said why already.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// exit turns a command's exit status into what its RunE returns.
func exit(code int) error {
	if code == ExitOK {
		return nil
	}
	return exitCode(code)
}

// newRoot builds the command tree.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "bluegreen",
		Short: "zero-downtime blue-green deployments of Docker containers",
		Long:  "bluegreen: zero-downtime blue-green deployments of Docker containers\n\n" + usageText,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("missing command")
			}
			return unknown("command", cmd, args[0])
		},
		SilenceErrors: true,
		SilenceUsage:  true,
		// Flags before a subcommand's name belong to the commands before it
		// (ctl's --api and --json), as with docker.
		TraverseChildren: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newServeCmd(stdout, stderr), newValidateCmd(stdout, stderr), newVersionCmd(stdout), newCtlCmd(stdout, stderr))
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" { // completion bash|zsh|fish|powershell, cobra's generator
			c.Use = "completion bash|zsh|fish|powershell"
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return errors.New("missing shell (bash, zsh, fish or powershell)")
				}
				return unknown("shell", cmd, args[0])
			}
		}
	}
	mergeFlags(root)
	return root
}

// mergeFlags adds each command's persistent flags to its own flag set, so
// that TraverseChildren knows them before the subcommand's name: cobra
// merges them only when it runs a command, and until then takes
// "ctl --json status" for --json with the value "status".
func mergeFlags(cmd *cobra.Command) {
	cmd.LocalFlags()
	for _, sub := range cmd.Commands() {
		mergeFlags(sub)
	}
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  argsBetween(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(stdout, "bluegreen %s (%s)\n", Version, runtime.Version())
			return nil
		},
	}
}

// unknown is the error of an unknown command or subcommand, with cobra's
// suggestions of close names.
func unknown(what string, cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown %s %q", what, name)
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
	}
	return errors.New(msg)
}

// errorPrefix names the command in an error message: "bluegreen" for the
// root, "bluegreen ctl" for ctl and its subcommands.
func errorPrefix(cmd *cobra.Command) string {
	for cmd.HasParent() && cmd.Parent().HasParent() {
		cmd = cmd.Parent()
	}
	return cmd.CommandPath()
}

// usageLine is the usage of cmd printed under a usage error.
func usageLine(cmd *cobra.Command) string {
	hint := fmt.Sprintf("run %q for more\n", cmd.CommandPath()+" --help")
	switch {
	case !cmd.HasParent():
		return "\n" + usageText
	case cmd.Name() == "ctl" && !cmd.Parent().HasParent():
		return "usage: bluegreen ctl [--api ADDR] [--json] SUBCOMMAND (bluegreen ctl help lists them)\n"
	case cmd.Parent().Name() == "ctl":
		return "usage: bluegreen ctl [--api ADDR] [--json] " + cmd.Use + "\n" + hint
	}
	return "usage: " + cmd.Parent().CommandPath() + " " + cmd.Use + "\n" + hint
}

// argsBetween accepts min to max positional arguments (max < 0: any).
func argsBetween(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min {
			_, want, _ := strings.Cut(cmd.Use, " ")
			return fmt.Errorf("%s needs %s", cmd.Name(), want)
		}
		if max >= 0 && len(args) > max {
			if max == 0 {
				return fmt.Errorf("%s takes no arguments, got %q", cmd.Name(), strings.Join(args, " "))
			}
			return fmt.Errorf("too many arguments for %s: %s", cmd.Name(), strings.Join(args[max:], " "))
		}
		return nil
	}
}

// flagError writes pflag's errors as bluegreen always has.
func flagError(cmd *cobra.Command, err error) error {
	var (
		notExist *pflag.NotExistError
		noValue  *pflag.ValueRequiredError
		invalid  *pflag.InvalidValueError
	)
	switch {
	case errors.As(err, &notExist):
		name := "--" + notExist.GetSpecifiedName()
		if s := notExist.GetSpecifiedShortnames(); s != "" {
			name = "-" + notExist.GetSpecifiedName()
		}
		if !cmd.HasParent() || cmd.Name() == "ctl" {
			return fmt.Errorf("unknown flag %s (before the subcommand only --api and --json are allowed)", name)
		}
		return fmt.Errorf("unknown flag %s for %s", name, cmd.Name())
	case errors.As(err, &noValue):
		return fmt.Errorf("flag --%s needs a value", noValue.GetFlag().Name)
	case errors.As(err, &invalid):
		f := invalid.GetFlag()
		if f.Value.Type() == "bool" {
			return fmt.Errorf("flag --%s takes no value (got %q)", f.Name, invalid.GetValue())
		}
		var ve valueError
		if errors.As(err, &ve) {
			return fmt.Errorf("--%s %q %s", f.Name, invalid.GetValue(), ve)
		}
		return fmt.Errorf("--%s %q: %v", f.Name, invalid.GetValue(), errors.Unwrap(err))
	}
	return err
}

// longFlags lets flags be written with one dash, as Go's flag package
// allows (-json, -wait, -version): an argument "-name" or "-name=v" whose
// name is a long flag of any command becomes "--name". Arguments after
// "--" stay as they are.
func longFlags(root *cobra.Command, args []string) []string {
	names := map[string]bool{"help": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(name) > 1 && names[name] {
			out[i] = "-" + a
		}
	}
	if len(out) > 0 && (out[0] == "--version") {
		out[0] = "version"
	}
	return out
}
