// Package e2e holds the process-level tests of bluegreen: the built binary
// run as `bluegreen serve` against the real Docker daemon, upgraded with
// SIGUSR2 and `ctl upgrade`, killed with SIGKILL in every phase of a
// deployment, stopped with SIGTERM, and its containers killed under it
// (docs/upgrades.md, docs/faults.md). Traffic goes to 127.0.0.1 only. Each test prints
// what it measured (t.Logf), so `go test -v` shows the numbers.
package e2e
