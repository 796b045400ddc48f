package cli

import (
	"runtime"
	"strings"
	"testing"
)

func TestRun_Usage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "no command", args: nil, code: 2, stderr: "usage:"},
		{name: "unknown command", args: []string{"deploy"}, code: 2, stderr: `unknown command "deploy"`},
		{name: "version", args: []string{"version"}, code: 0, stdout: "bluegreen dev (go"},
		{name: "help", args: []string{"help"}, code: 0, stdout: "bluegreen ctl"},
		{name: "ctl without subcommand", args: []string{"ctl"}, code: 2, stderr: "missing subcommand"},
		{name: "ctl unknown subcommand", args: []string{"ctl", "destroy"}, code: 2, stderr: `unknown subcommand "destroy"`},
		{name: "ctl help", args: []string{"ctl", "help"}, code: 0, stdout: "watch"},
		{name: "ctl help deploy", args: []string{"ctl", "help", "deploy"}, code: 0, stdout: "deploy APP [IMAGE]"},
		{name: "subcommand -h", args: []string{"ctl", "history", "-h"}, code: 0, stdout: "history APP [--limit N]"},
		{name: "deploy without app", args: []string{"ctl", "deploy"}, code: 2, stderr: "usage: bluegreen ctl [--api ADDR] [--json] deploy APP"},
		{name: "too many arguments", args: []string{"ctl", "deploy", "web", "web:v2", "extra"}, code: 2, stderr: "too many arguments"},
		{name: "unknown flag", args: []string{"ctl", "status", "--color"}, code: 2, stderr: "unknown flag --color"},
		{name: "flag of another subcommand", args: []string{"ctl", "status", "--wait"}, code: 2, stderr: "unknown flag --wait"},
		{name: "flag without value", args: []string{"ctl", "history", "web", "--limit"}, code: 2, stderr: "needs a value"},
		{name: "bad limit", args: []string{"ctl", "history", "web", "--limit", "ten"}, code: 2, stderr: "not a non-negative integer"},
		{name: "bad timeout", args: []string{"ctl", "deploy", "web", "--wait", "--timeout", "soon"}, code: 2, stderr: "not a positive duration"},
		{name: "bad color", args: []string{"ctl", "switch", "web", "red"}, code: 2, stderr: `"red" is not blue or green`},
		{name: "negative limit", args: []string{"ctl", "history", "web", "--limit", "-1"}, code: 2, stderr: `--limit "-1" is not a non-negative integer`},
		{name: "negative tail", args: []string{"ctl", "logs", "web", "--tail", "-5"}, code: 2, stderr: `--tail "-5" is not a non-negative integer`},
		{name: "image Docker refuses", args: []string{"ctl", "deploy", "demo", "Bad::Image"}, code: 2, stderr: `image "Bad::Image"`},
		{name: "image with a space", args: []string{"ctl", "deploy", "demo", "web:v 2", "--wait"}, code: 2, stderr: "whitespace"},
		{name: "image with a bad tag", args: []string{"ctl", "deploy", "demo", "web:-v2"}, code: 2, stderr: `tag "-v2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvAPI, "127.0.0.1:1") // never reached by a usage error
			code, stdout, stderr := run(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("stdout %q want %q; stderr %q want %q", stdout, tt.stdout, stderr, tt.stderr)
			}
			if tt.code == 2 && !strings.Contains(stderr, "usage") {
				t.Fatalf("usage error without a usage line: %q", stderr)
			}
		})
	}
}

func TestRun_Version(t *testing.T) {
	old := Version
	Version = "1.2.3"
	t.Cleanup(func() { Version = old })
	code, stdout, _ := run(t, "version")
	if want := "bluegreen 1.2.3 (" + runtime.Version() + ")\n"; code != 0 || stdout != want {
		t.Fatalf("exit %d output %q, want %q", code, stdout, want)
	}
	if code, _, stderr := run(t, "version", "--extra"); code != 2 || !strings.Contains(stderr, "usage") {
		t.Fatalf("exit %d stderr %q", code, stderr)
	}
}
