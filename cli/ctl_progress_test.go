package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

// openPTY opens a pseudo-terminal: what is written to tty can be read
// from the returned channel once tty is closed (the terminal turns "\n"
// into "\r\n").
func openPTY(t *testing.T) (tty *os.File, output func() string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("open /dev/ptmx: %v", err)
		}
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	var buf bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&buf, ptmx) // ends with EIO once tty is closed
		close(read)
	}()
	return tty, func() string {
		tty.Close()
		select {
		case <-read:
		case <-time.After(10 * time.Second):
			t.Fatal("the pty's output did not end")
		}
		return strings.ReplaceAll(buf.String(), "\r\n", "\n")
	}
}

func TestIsTerminal(t *testing.T) {
	tty, _ := openPTY(t)
	if !isTerminal(tty) {
		t.Error("a pty is not a terminal")
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if isTerminal(null) || isTerminal(&bytes.Buffer{}) {
		t.Error("/dev/null or a buffer taken for a terminal")
	}
}

func TestCtl_DeployProgress(t *testing.T) {
	t.Run("terminal: a live line under the phases, erased before the end", func(t *testing.T) {
		f := newFakeSupervisor()
		f.outcome = "" // stays in health_checking: the line shows the passes
		f.apps["web"].Deployment = &deploy.Deployment{DeploymentID: 2, App: "web", Color: deploy.Green, Status: deploy.StatusHealthChecking}
		f.apps["web"].Containers.Green = &deploy.Container{ID: "c2", Image: "web:v2", State: "running", Health: deploy.Starting,
			HealthPasses: 1, HealthyThreshold: 3}
		addr := startAPI(t, api.NewServer(f, nil))
		tty, output := openPTY(t)
		var errb syncBuffer
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		code := Run(ctx, []string{"ctl", "--api", addr, "deploy", "web", "web:v2", "--wait", "--timeout", "1500ms"}, tty, &errb)
		out := output()
		if code != 1 || !strings.Contains(errb.String(), "still running (health_checking)") {
			t.Fatalf("exit %d stderr %q", code, errb.String())
		}
		for _, want := range []string{"deployment #2 started\n", "pulling", "health_checking", "health passes 1/3", ansiEraseLine} {
			if !strings.Contains(out, want) {
				t.Errorf("terminal output lacks %q:\n%q", want, out)
			}
		}
		// Every phase line starts a line of its own; the line is erased
		// last: nothing of it is left on the screen.
		last := strings.LastIndex(out, ansiEraseLine)
		if rest := out[last+len(ansiEraseLine):]; rest != "" {
			t.Errorf("left after the last erase: %q", rest)
		}
		// What stays on screen of each line is what follows its last erase:
		// never the progress text.
		for _, l := range strings.Split(out, "\n") {
			if i := strings.LastIndex(l, ansiEraseLine); i >= 0 {
				l = l[i+len(ansiEraseLine):]
			}
			if strings.HasPrefix(l, "  ... ") {
				t.Errorf("progress text left in the log: %q", l)
			}
		}
	})
	t.Run("terminal: completed", func(t *testing.T) {
		addr := startAPI(t, api.NewServer(newFakeSupervisor(), nil))
		tty, output := openPTY(t)
		code := Run(context.Background(), []string{"ctl", "--api", addr, "deploy", "web", "web:v2", "--wait"}, tty, io.Discard)
		out := output()
		if code != 0 {
			t.Fatalf("exit %d:\n%q", code, out)
		}
		final := "deployment #2 completed in 1.5s: web:v2 now serves on green\n"
		if !strings.HasSuffix(out, ansiEraseLine+final) && !strings.HasSuffix(out, "\n"+final) {
			t.Fatalf("the final line is not plain and last:\n%q", out)
		}
		if !strings.Contains(out, ansiEraseLine) || !strings.Contains(out, "... ") {
			t.Fatalf("no progress line:\n%q", out)
		}
	})
	t.Run("piped: plain lines", func(t *testing.T) {
		addr := startAPI(t, api.NewServer(newFakeSupervisor(), nil))
		code, out, _ := run(t, "ctl", "--api", addr, "deploy", "web", "web:v2", "--wait")
		if code != 0 || strings.Contains(out, "\r") || strings.Contains(out, "\x1b") || strings.Contains(out, "... ") {
			t.Fatalf("exit %d, output with terminal codes:\n%q", code, out)
		}
	})
}

func TestProgress_Line(t *testing.T) {
	p := &progress{start: time.Now().Add(-3 * time.Second), phase: "health_checking", passes: 5, threshold: 3}
	if got := p.line(); !strings.HasPrefix(got, "  ... health_checking  3.") || !strings.HasSuffix(got, "s  health passes 3/3") {
		t.Errorf("line %q", got)
	}
	p.phase = "draining"
	if got := p.line(); strings.Contains(got, "health") {
		t.Errorf("passes shown outside health_checking: %q", got)
	}
	if got := elapsed(90 * time.Second); got != shortDuration(90*time.Second) {
		t.Errorf("elapsed %q", got)
	}
}
