package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/api"
)

func TestCompletion(t *testing.T) {
	subcommands := []string{"serve", "validate", "ctl", "version"}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			code, out, stderr := run(t, "completion", shell)
			if code != 0 || out == "" || stderr != "" {
				t.Fatalf("exit %d, %d bytes, stderr %q", code, len(out), stderr)
			}
			if !strings.Contains(out, "bluegreen") || !strings.Contains(out, "__complete") {
				t.Fatalf("%s script does not complete bluegreen through __complete:\n%.400s", shell, out)
			}
			if shell != "bash" {
				return
			}
			bash, err := exec.LookPath("bash")
			if err != nil {
				t.Fatal("bash is missing")
			}
			file := filepath.Join(t.TempDir(), "bluegreen.bash")
			if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			if msg, err := exec.Command(bash, "-n", file).CombinedOutput(); err != nil {
				t.Fatalf("bash -n: %v\n%s", err, msg)
			}
		})
	}
	t.Run("the scripts ask the binary: it names the subcommands", func(t *testing.T) {
		code, out, _ := run(t, cobra.ShellCompRequestCmd, "")
		for _, want := range subcommands {
			if code != 0 || !strings.Contains(out, want+"\t") {
				t.Errorf("completing bluegreen: no %q in\n%s", want, out)
			}
		}
		code, out, _ = run(t, cobra.ShellCompRequestCmd, "ctl", "")
		for _, want := range []string{"status", "deploy", "rollback", "switch", "history", "health", "events", "watch", "logs", "reload", "images", "promote"} {
			if code != 0 || !strings.Contains(out, want+"\t") {
				t.Errorf("completing ctl: no %q in\n%s", want, out)
			}
		}
		code, out, _ = run(t, cobra.ShellCompRequestCmd, "ctl", "--api", "127.0.0.1:1", "switch", "web", "")
		if code != 0 || !strings.Contains(out, "blue\n") || !strings.Contains(out, "green\n") {
			t.Errorf("completing a color: %s", out)
		}
		code, out, _ = run(t, cobra.ShellCompRequestCmd, "serve", "--log-format", "")
		if code != 0 || !strings.Contains(out, "json\n") {
			t.Errorf("completing --log-format: %s", out)
		}
	})
	t.Run("bad shell", func(t *testing.T) {
		if code, _, stderr := run(t, "completion", "tcsh"); code != 2 || !strings.Contains(stderr, "usage") {
			t.Fatalf("exit %d stderr %q", code, stderr)
		}
	})
}

// TestHelp_defaults: the help of a flag whose default is the API's says
// that default, and what 0 does.
func TestHelp_defaults(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ctl", "history", "--help"}, fmt.Sprintf("how many deployments (default %d; 0: the default)", api.DefaultHistoryLimit)},
		{[]string{"ctl", "health", "--help"}, fmt.Sprintf("how many checks per color (default %d; 0: the default)", api.DefaultHealthLimit)},
		{[]string{"ctl", "logs", "--help"}, fmt.Sprintf("only the last N lines (default %d; 0: all of them)", api.DefaultLogsTail)},
	} {
		if code, out, _ := run(t, tc.args...); code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, no %q in\n%s", tc.args, code, tc.want, out)
		}
	}
}

// TestHelp checks that -h and --help print the help of every command on
// stdout and exit 0.
func TestHelp(t *testing.T) {
	var walk func(c *cobra.Command, path []string)
	var paths [][]string
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if !sub.Hidden && sub.Name() != "help" {
				walk(sub, append(append([]string{}, path...), sub.Name()))
			}
		}
	}
	walk(newRoot(nil, nil), nil)
	if len(paths) < 18 {
		t.Fatalf("only %d commands: %v", len(paths), paths)
	}
	for _, p := range paths {
		for _, flag := range []string{"-h", "--help"} {
			code, out, stderr := run(t, append(append([]string{}, p...), flag)...)
			if code != 0 || !strings.Contains(out, "Usage:") || stderr != "" {
				t.Errorf("%v %s: exit %d stdout %q stderr %q", p, flag, code, out, stderr)
			}
		}
	}
}
