package handover

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// DefaultReadyTimeout is how long the old process waits for the new one to
// report ready before it kills it and keeps serving (docs/upgrades.md,
// "When it fails").
const DefaultReadyTimeout = 30 * time.Second

// keepLogs is how many of the new process's last log lines a failure quotes.
const keepLogs = 10

// exitWait bounds the wait for a new process that closed its pipe (or said
// it failed) to exit, before it is killed.
const exitWait = 5 * time.Second

// Spec says which process to start and what it inherits.
type Spec struct {
	Path          string              // the executable
	Args          []string            // its arguments, without the program name
	Env           []string            // its environment; Env is set on top
	Listeners     map[string]*os.File // the sockets, by key (Listeners.Files)
	ParentVersion string              // this process's version, for the new one's event
	Stdout        *os.File            // nil: os.Stdout
	Stderr        *os.File            // nil: os.Stderr
	StandIn       *os.File            // the serving processes' end of the stand-in's link (StandIn.Serving, Link.File); nil: none
	Timeout       time.Duration       // 0: DefaultReadyTimeout
}

// Child is a new process that reported ready.
type Child struct {
	Pid  int
	done chan struct{}
	err  error
}

// Done is closed when the process exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// Wait waits for the process to exit and returns how it ended.
func (c *Child) Wait() error {
	<-c.done
	return c.err
}

// FailedError says why a new process did not take over.
type FailedError struct {
	Pid    int      // 0 when it never started
	Reason string   // what happened: its exit status, its own reason, a timeout
	Logs   []string // its last log lines before it failed
}

func (e *FailedError) Error() string {
	if len(e.Logs) == 0 {
		return e.Reason
	}
	return e.Reason + "; its last log lines: " + strings.Join(e.Logs, " | ")
}

// Start starts the new process with the listeners and waits until it reports
// ready (the *Child is returned), or fails: it exits, says why, or is not
// ready within Timeout, or ctx ends. A process that failed is killed if it
// still runs; the error is a *FailedError. The listeners stay open here and
// are the caller's to close.
func Start(ctx context.Context, s Spec) (*Child, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, &FailedError{Reason: fmt.Sprintf("ready pipe: %v", err)}
	}
	defer pr.Close()
	cmd, err := command(s, pw)
	if err != nil {
		pw.Close()
		return nil, &FailedError{Reason: fmt.Sprintf("handover state: %v", err)}
	}
	err = cmd.Start()
	pw.Close() // the child holds the write end now: EOF when it closes or exits
	if err != nil {
		return nil, &FailedError{Reason: fmt.Sprintf("start %s: %v", s.Path, err)}
	}
	child := &Child{Pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		child.err = cmd.Wait()
		close(child.done)
	}()
	return child.awaitReady(ctx, cmd, pipeLines(pr), timeout)
}

// command is the new process of s, not started: the ready pipe's write end
// pw on descriptor 3, the listeners after it in the order of their keys,
// then the stand-in's link, and Env naming them.
func command(s Spec, pw *os.File) (*exec.Cmd, error) {
	st := state{Ready: 3, Listeners: map[string]int{}, ParentPID: os.Getpid(), ParentVersion: s.ParentVersion}
	files := []*os.File{pw}
	keys := make([]string, 0, len(s.Listeners))
	for key := range s.Listeners {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		st.Listeners[key] = 3 + len(files)
		files = append(files, s.Listeners[key])
	}
	if s.StandIn != nil {
		st.StandIn = 3 + len(files)
		files = append(files, s.StandIn)
	}
	js, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.Path, s.Args...)
	cmd.Stdout, cmd.Stderr = orFile(s.Stdout, os.Stdout), orFile(s.Stderr, os.Stderr)
	cmd.ExtraFiles = files
	cmd.Env = append(withoutEnv(s.Env), Env+"="+string(js))
	return cmd, nil
}

// pipeLines sends each line the new process writes to the ready pipe, and
// closes the channel at the pipe's end.
func pipeLines(pr *os.File) <-chan string {
	lines := make(chan string)
	go func() {
		defer close(lines)
		br := bufio.NewReader(pr)
		for {
			line, err := readLine(br)
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	return lines
}

// awaitReady reads the new process's lines until it says "ready" (c is
// returned) or fails: it closes the pipe or exits, says "fail", is not ready
// within timeout, or ctx ends. It keeps its last keepLogs log lines for the
// *FailedError.
func (c *Child) awaitReady(ctx context.Context, cmd *exec.Cmd, lines <-chan string, timeout time.Duration) (*Child, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var logs []string
	fail := func(reason string) error {
		return &FailedError{Pid: c.Pid, Reason: reason, Logs: logs}
	}
	for {
		select {
		case line, ok := <-lines:
			switch {
			case !ok:
				if status, killed := c.ended(cmd); !killed {
					return nil, fail("it exited before it was ready: " + status)
				}
				return nil, fail("it closed its ready pipe without being ready: killed it")
			case line == msgReady:
				go drain(lines)
				return c, nil
			case strings.HasPrefix(line, msgFail):
				go drain(lines)
				c.ended(cmd)
				return nil, fail(strings.TrimPrefix(line, msgFail))
			case strings.HasPrefix(line, msgLog):
				logs = append(logs, strings.TrimPrefix(line, msgLog))
				if len(logs) > keepLogs {
					logs = logs[len(logs)-keepLogs:]
				}
			}
		case <-timer.C:
			go drain(lines)
			kill(cmd)
			<-c.done
			return nil, fail(fmt.Sprintf("not ready within %s: killed it", timeout))
		case <-ctx.Done():
			go drain(lines)
			kill(cmd)
			<-c.done
			return nil, fail(fmt.Sprintf("upgrade canceled (%v): killed it", context.Cause(ctx)))
		}
	}
}

// ended waits a moment for a process that gave up to exit, and kills it if
// it does not. It returns the exit status, or killed.
func (c *Child) ended(cmd *exec.Cmd) (status string, killed bool) {
	select {
	case <-c.done:
		return exitStatus(c.err), false
	case <-time.After(exitWait):
		kill(cmd)
		<-c.done
		return "", true
	}
}

func kill(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGKILL)
}

// exitStatus describes how a process ended ("exit status 1", "signal: killed").
func exitStatus(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func drain(lines <-chan string) {
	for range lines {
	}
}

func orFile(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

// withoutEnv returns env without Env (an old value from this process's own
// start).
func withoutEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, Env+"=") {
			out = append(out, kv)
		}
	}
	return out
}
