// Package promtool runs Prometheus's promtool from tests: `promtool check
// metrics` on a scrape of /metrics and `promtool check config` on a scrape
// configuration. Debian's package prometheus ships it; .ci/run installs it
// when it is missing. Without it a test fails under CI=true and is skipped
// elsewhere, with a message that says how to install it.
package promtool

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Require returns the path of promtool, or ends the test: a failure under
// CI=true, a skip elsewhere.
func Require(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err == nil {
		return path
	}
	msg := "promtool needed: " + err.Error() + " (Debian: apt-get install prometheus, which ships /usr/bin/promtool)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipping (under CI=true this fails)")
	return ""
}

// CheckMetrics runs `promtool check metrics` on a scrape in the text
// exposition format and fails the test with promtool's output unless it
// finds nothing to say. It returns that output.
func CheckMetrics(t testing.TB, scrape []byte) string {
	t.Helper()
	out, err := run(t, bytes.NewReader(scrape), "check", "metrics")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	return out
}

// CheckConfig runs `promtool check config [flags] path` on a Prometheus
// configuration file (flags: --agent for an agent's) and fails the test
// with promtool's output unless it succeeds. It returns that output.
func CheckConfig(t testing.TB, path string, flags ...string) string {
	t.Helper()
	args := append(append([]string{"check", "config"}, flags...), path)
	out, err := run(t, nil, args...)
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// CheckRules runs `promtool check rules` on a rules file, which parses
// every expression in it, and fails the test with promtool's output unless
// it succeeds. It returns that output.
func CheckRules(t testing.TB, path string) string {
	t.Helper()
	out, err := run(t, nil, "check", "rules", path)
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", path, err, out)
	}
	return out
}

func run(t testing.TB, stdin *bytes.Reader, args ...string) (string, error) {
	t.Helper()
	path := Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
