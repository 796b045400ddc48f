package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bluegreen/bluegreen/daemon"
)

// TestServe_ExitStatus checks that serve hands its flags to the daemon and
// makes its result the exit status; the daemon's own tests run it.
func TestServe_ExitStatus(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte("name: web\nimage: web:v1\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"serve", "--apps", dir, "--db", filepath.Join(t.TempDir(), "bg.db")}, &out, &errOut)
	if code != ExitFailed || !strings.Contains(errOut.String(), "web.yaml:3:1") {
		t.Fatalf("serve with a bad config: %d %s", code, errOut.String())
	}
	errOut.Reset()
	if code := Run(context.Background(), []string{"serve", "--log-format", "xml"}, &out, &errOut); code != ExitUsage ||
		errOut.String() != "--log-format \"xml\": use text or json\n" {
		t.Fatalf("serve with a bad flag value: %d %q", code, errOut.String())
	}
	if code := Run(context.Background(), []string{"serve", "--reconcile-interval", "often"}, &out, &errOut); code != ExitUsage {
		t.Fatalf("serve with a bad duration: %d", code)
	}
	errOut.Reset()
	if code := Run(context.Background(), []string{"serve", "--docker-concurrency", "-1"}, &out, &errOut); code != ExitUsage ||
		!strings.Contains(errOut.String(), "--docker-concurrency -1") {
		t.Fatalf("serve with a negative Docker concurrency: %d %q", code, errOut.String())
	}
	out.Reset()
	errOut.Reset()
	noDir := filepath.Join(t.TempDir(), "missing", "access.log")
	if code := Run(context.Background(), []string{"serve", "--access-log", noDir}, &out, &errOut); code != ExitUsage ||
		!strings.Contains(errOut.String(), "--access-log "+noDir+": ") || !strings.Contains(errOut.String(), "no such file or directory") {
		t.Fatalf("serve with an access log it cannot open: %d %q", code, errOut.String())
	}
	for r, want := range map[daemon.Result]int{daemon.Stopped: ExitOK, daemon.Failed: ExitFailed, daemon.BadOption: ExitUsage} {
		if got := serveStatus(r); got != want {
			t.Errorf("serveStatus(%d) = %d, want %d", r, got, want)
		}
	}
}
