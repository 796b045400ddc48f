package daemon

import (
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bluegreen/bluegreen/internal/handover"
	"github.com/bluegreen/bluegreen/internal/sdnotify"
)

// The stand-in (docs/upgrades.md, "The stand-in"). Without a service
// manager (NOTIFY_SOCKET unset: a terminal, docker run, a script), whatever
// started serve waits for that process: it must not end at an upgrade. So
// the process the user started hands over as usual at its first upgrade,
// drains and closes its sockets, and then stays, doing nothing but:
//
//   - being the parent of every serving process: it is a child subreaper
//     (prctl PR_SET_CHILD_SUBREAPER), so a serving process whose parent (the
//     one before it) exits after an upgrade becomes its child;
//   - passing SIGINT, SIGTERM, SIGHUP and SIGUSR2 on to the serving process,
//     the one that last announced itself on the link (internal/handover);
//   - exiting as the serving process did once that one exits without a
//     successor (none announced, no child left).
//
// The serving processes hold the other end of the link: when the stand-in
// dies, kill -9 included, the kernel closes its end and each of them kills
// itself with SIGKILL, as a kill -9 of serve would have ended serve. The
// death of the parent thread or process (PR_SET_PDEATHSIG) would not do:
// it fires when the serving process's parent, the one before it, exits
// after an upgrade, and when the thread that forked it ends.
//
// Under systemd (NOTIFY_SOCKET set) the new process becomes the service's
// main PID instead and the old one exits (upgrade.go).

// standIn is this process's part as the stand-in: made at its first
// upgrade, active once a serving process took over.
type standIn struct {
	log  *slog.Logger
	link *handover.StandIn
	sigs chan os.Signal
	done chan syscall.WaitStatus // how the last serving process ended
}

// standsIn reports whether this process becomes the stand-in at an upgrade:
// it was not started by an upgrade (a process that was has a stand-in, or
// runs under systemd) and no service manager runs it.
func standsIn(inh *handover.Inherited) bool {
	return inh == nil && os.Getenv(sdnotify.SocketEnv) == ""
}

// newStandIn makes this process a child subreaper and opens the link the
// serving processes will hold.
func newStandIn(log *slog.Logger) (*standIn, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, err
	}
	link, err := handover.NewStandIn()
	if err != nil {
		return nil, err
	}
	return &standIn{log: log, link: link}, nil
}

// begin makes this process the stand-in of first, the serving process its
// upgrade started and that is ready: from now on the four signals go to the
// serving process. Announcements of processes that failed to take over
// earlier are dropped.
func (s *standIn) begin(first *handover.Child) {
	for drained := false; !drained; {
		select {
		case <-s.link.Announced():
		default:
			drained = true
		}
	}
	s.sigs = make(chan os.Signal, 8)
	signal.Notify(s.sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR2)
	s.done = make(chan syscall.WaitStatus, 1)
	go s.loop(first)
}

// active reports whether this process stands in for a serving process.
func (s *standIn) active() bool { return s != nil && s.done != nil }

// stand waits for the last serving process to end, then ends this process
// the same way: its exit status, or its signal. flush runs first (the log).
// It does not return.
func (s *standIn) stand(flush func()) {
	s.log.Info("standing in: signals go to the serving process; this process exits as it does", "pid", os.Getpid())
	debug.FreeOSMemory() // what served is garbage now
	ws := <-s.done
	s.log.Info("the serving process ended without a successor: the stand-in exits", "status", describe(ws))
	flush()
	exitAs(ws)
}

// exit is a child's end as wait4 reports it.
type exit struct {
	pid int
	ws  syscall.WaitStatus
}

// loop passes the signals on to the serving process, follows the
// announcements and the children's exits, and sends the status of the last
// serving process on done once no child is left.
func (s *standIn) loop(first *handover.Child) {
	exits := make(chan exit)
	go reap(first, exits)
	current, _ := os.FindProcess(first.Pid) // a pidfd: a signal never reaches a recycled pid
	currentPid := first.Pid
	var last syscall.WaitStatus
	var pending []os.Signal // signals that came while no process was announced
	announced := s.link.Announced()
	for {
		select {
		case sig := <-s.sigs:
			if current == nil {
				pending = append(pending, sig)
				continue
			}
			if err := current.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				s.log.Warn("stand-in: pass the signal on", "signal", sig.String(), "pid", currentPid, "err", err)
			}
		case pid, ok := <-announced:
			if !ok {
				announced = nil
				continue
			}
			if current != nil {
				current.Release()
			}
			current, _ = os.FindProcess(pid)
			currentPid = pid
			for _, sig := range pending {
				current.Signal(sig)
			}
			pending = nil
		case e, ok := <-exits:
			if !ok { // no child left: no serving process can come
				s.done <- last
				return
			}
			if e.pid == currentPid {
				last = e.ws
				if current != nil {
					current.Release()
				}
				current, currentPid = nil, 0
			}
		}
	}
}

// reap reports the exit of each child of this process: first, which os/exec
// waits for, then those it inherits as subreaper. It closes exits when no
// child is left.
func reap(first *handover.Child, exits chan<- exit) {
	defer close(exits)
	var ws syscall.WaitStatus
	var ee interface{ Sys() any }
	if err := first.Wait(); errors.As(err, &ee) {
		ws, _ = ee.Sys().(syscall.WaitStatus)
	}
	exits <- exit{pid: first.Pid, ws: ws}
	for {
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil { // ECHILD
			return
		}
		if ws.Exited() || ws.Signaled() {
			exits <- exit{pid: pid, ws: ws}
		}
	}
}

// exitAs ends this process as ws says the serving process ended: with its
// exit status, or killed by its signal.
func exitAs(ws syscall.WaitStatus) {
	if ws.Signaled() {
		sig := ws.Signal()
		signal.Reset(sig)
		syscall.Kill(os.Getpid(), sig)
		time.Sleep(time.Second) // the signal ends the process; if it did not:
		os.Exit(128 + int(sig))
	}
	os.Exit(ws.ExitStatus())
}

// describe says how a process ended: "exit status 0", "signal: killed".
func describe(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal: " + ws.Signal().String()
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}
