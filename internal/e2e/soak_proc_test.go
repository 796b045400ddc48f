package e2e

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// proc is a serve process of the soak: one it started, or one that an
// upgrade started (this process's child once its parent exited: TestMain
// made this process a subreaper).
type proc struct {
	pid  int
	p    *os.Process // a handle taken while it ran: signals never reach a reused pid
	done chan struct{}
	code int // its exit status once done; -1 when another process reaped it
}

// startServe starts a serve and knows it as a proc.
func (k *soak) startServe() *proc {
	k.t.Helper()
	k.s.start()
	k.s.mu.Lock()
	cmd, done := k.s.cmd, k.s.done
	k.s.mu.Unlock()
	pr := &proc{pid: cmd.Process.Pid, p: cmd.Process, done: make(chan struct{})}
	go func() {
		<-done
		pr.code = cmd.ProcessState.ExitCode()
		close(pr.done)
	}()
	k.procs[pr.pid] = pr
	return pr
}

// current is the serve process that answers the API now.
func (k *soak) current() *proc {
	k.t.Helper()
	var pid int
	waitFor(k.t, 30*time.Second, "serve answers /health", func() (bool, string) {
		h, err := k.s.health()
		pid = h.PID
		return err == nil && pid != 0, fmt.Sprint(err)
	})
	if pr := k.procs[pid]; pr != nil {
		return pr
	}
	pr := &proc{pid: pid, p: k.s.process(pid), done: make(chan struct{})}
	if pr.p == nil {
		k.t.Fatalf("serve pid %d: no handle", pid)
	}
	go pr.reap()
	k.procs[pid] = pr
	return pr
}

// reap waits for a process the soak did not start: it can wait for it only
// once it is its child (its parent, the serve that started it, exited), and
// it learns that another process reaped it when no signal reaches it.
func (pr *proc) reap() {
	for {
		st, err := pr.p.Wait()
		if err == nil {
			pr.code = st.ExitCode()
			close(pr.done)
			return
		}
		if errors.Is(pr.p.Signal(syscall.Signal(0)), os.ErrProcessDone) {
			pr.code = -1
			close(pr.done)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (pr *proc) signal(sig syscall.Signal) error {
	if err := pr.p.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to serve pid %d: %w", sig, pr.pid, err)
	}
	return nil
}

// exited waits up to timeout for the process to end.
func (pr *proc) exited(timeout time.Duration) bool {
	select {
	case <-pr.done:
		return true
	case <-time.After(timeout):
		return false
	}
}
