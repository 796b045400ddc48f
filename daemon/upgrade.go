package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/bluegreen/bluegreen/actors"
	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/handover"
)

// The upgrade of serve onto the binary now at its path (docs/upgrades.md,
// "Step by step"), as nginx's binary upgrade does it: SIGUSR2, POST
// /api/upgrade and `ctl upgrade` start it.
//
//  1. The old process records supervisor.upgrading and stops driving
//     Docker (actors.System.Pause: a running deployment finishes first, new
//     requests get a retryable EUNAVAILABLE; then no event stream, no reconcile,
//     no health checks, no state writes). Its proxies keep routing.
//  2. It starts the executable at os.Executable(), resolved now, with its
//     own arguments, handing over every listening socket (each app's proxy
//     port and the API, a unix socket too) and a ready pipe
//     (internal/handover). Both processes accept on the same sockets from
//     then on: the kernel queues every connection, none is refused.
//  3. The new process opens the store, loads apps.d (an app added or
//     removed meanwhile is its to apply), adopts the containers (none is
//     recreated or restarted), health-checks them, serves, tells systemd
//     MAINPID=<its pid> and READY=1, records supervisor.upgraded, and writes
//     "ready" to the pipe.
//  4. Only then does the old process stop accepting; its requests in flight
//     finish (each app's drain_timeout), its WebSockets get 1001 at
//     websocket_drain_timeout, and it exits 0, telling systemd nothing.
//     Without a service manager, the process the user started does not
//     exit: it stays as the stand-in of the serving processes (standin.go),
//     and the new process announces itself to it before step 4.
//
// A new process that exits or is not ready within 30 s is killed; the old
// one resumes driving, records supervisor.upgrade_failed with the reason
// (the new one's exit status or own reason and its last log lines) and
// keeps serving. A second upgrade asked while one runs is a conflict.

// upgradeState is the upgrade under way, if any.
type upgradeState struct {
	mu      sync.Mutex
	ready   bool // this process reported ready: it may hand over
	running bool
	child   *handover.Child // the new process, once it reported ready
	wg      sync.WaitGroup
	done    chan error // the outcome, for run: nil when handed over
}

// setReady records that this process reported ready: from now on it may
// hand over.
func (u *upgradeState) setReady() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.ready = true
}

// backend is what the management API serves: the supervisor, and the
// upgrade of this process (api.Upgrader).
type backend struct {
	*actors.System
	sv *serving
}

var _ api.Upgrader = backend{}

// Upgrade implements api.Upgrader.
func (b backend) Upgrade(ctx context.Context) (deploy.UpgradeStatus, error) {
	return b.sv.startUpgrade("api")
}

// startUpgrade begins an upgrade in the background and answers at once; the
// outcome is an event after the one it returns.
func (sv *serving) startUpgrade(trigger string) (deploy.UpgradeStatus, error) {
	u := &sv.upgrade
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case !u.ready:
		// Also the new process of an upgrade under way, which shares the
		// API socket with the old one until it is ready.
		return deploy.UpgradeStatus{}, deploy.Errorf(deploy.ECONFLICT, "this process (pid %d) is still starting (an upgrade may be under way): retry once it serves", os.Getpid())
	case u.child != nil:
		return deploy.UpgradeStatus{}, deploy.Errorf(deploy.ECONFLICT, "this process (pid %d) already handed over to pid %d", os.Getpid(), u.child.Pid)
	case u.running:
		return deploy.UpgradeStatus{}, deploy.Errorf(deploy.ECONFLICT, "an upgrade of pid %d is already in progress: wait for its end", os.Getpid())
	}
	exe, err := os.Executable()
	if err != nil {
		return deploy.UpgradeStatus{}, deploy.Errorf(deploy.EINTERNAL, "find the executable to upgrade to: %v", err)
	}
	pid := os.Getpid()
	id := sv.sys.Record(deploy.EventSupervisorUpgrading,
		fmt.Sprintf("upgrading: pid %d (%s) starts %s (asked by %s)", pid, sv.version, exe, trigger),
		map[string]any{"old_pid": pid, "old_version": sv.version, "executable": exe, "trigger": trigger})
	sv.log.Info("upgrading", "executable", exe, "trigger", trigger)
	u.running = true
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		child, err := sv.runUpgrade(exe)
		u.mu.Lock()
		u.running = false
		u.child = child
		u.mu.Unlock()
		u.done <- err
	}()
	return deploy.UpgradeStatus{Status: deploy.UpgradeStarted, OldPID: pid, EventID: id}, nil
}

// runUpgrade hands over to a new process (steps 1 to 3 above) and returns
// it once it is ready; on failure this process drives again.
func (sv *serving) runUpgrade(exe string) (*handover.Child, error) {
	fail := func(pid int, err error) (*handover.Child, error) {
		sv.sys.Resume()
		sv.announce() // the stand-in may have heard from the new process before it failed
		var logs []string
		var fe *handover.FailedError
		if errors.As(err, &fe) {
			logs = fe.Logs
		}
		sv.log.Error("upgrade failed: this process keeps serving", "err", err, "new_pid", pid)
		sv.sys.Record(deploy.EventSupervisorUpgradeFailed,
			fmt.Sprintf("upgrade failed: pid %d keeps serving: %v", os.Getpid(), err),
			map[string]any{"old_pid": os.Getpid(), "new_pid": pid, "reason": err.Error(), "logs": logs})
		return nil, err
	}
	if err := sv.sys.Pause(sv.ctx); err != nil {
		return fail(0, fmt.Errorf("hand the driving of Docker over: %w", err))
	}
	files, err := sv.lns.Files()
	if err != nil {
		return fail(0, err)
	}
	link, err := sv.standInLink()
	if err != nil {
		for _, f := range files {
			f.Close()
		}
		return fail(0, fmt.Errorf("become the stand-in: %w", err))
	}
	sv.log.Info("upgrade: starting the new process", "executable", exe, "sockets", sv.lns.Keys())
	child, err := handover.Start(sv.ctx, handover.Spec{Path: exe, Args: sv.argv[:len(sv.argv):len(sv.argv)],
		Env: os.Environ(), Listeners: files, ParentVersion: sv.version, Timeout: handover.DefaultReadyTimeout,
		StandIn: link})
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		pid := 0
		var fe *handover.FailedError
		if errors.As(err, &fe) {
			pid = fe.Pid
		}
		return fail(pid, fmt.Errorf("the new process did not take over: %w", err))
	}
	sv.log.Info("upgrade: the new process is ready", "new_pid", child.Pid)
	if sv.standIn != nil {
		sv.standIn.begin(child)
	}
	return child, nil
}

// standInLink is the end of the stand-in's link that the new process gets:
// the one this process inherited, or, in the process the user started
// without a service manager, that of the stand-in it becomes (made at the
// first upgrade); nil under systemd.
func (sv *serving) standInLink() (*os.File, error) {
	if link := sv.inh.StandIn(); link != nil {
		return link.File(), nil
	}
	if !standsIn(sv.inh) {
		return nil, nil
	}
	if sv.standIn == nil {
		s, err := newStandIn(sv.log)
		if err != nil {
			return nil, err
		}
		sv.standIn = s
	}
	return sv.standIn.link.Serving(), nil
}

// upgradeWait waits for an upgrade under way to end (serve is stopping: its
// context ended, which kills a new process not yet ready) and returns the
// process this one handed over to, if it did.
func (sv *serving) upgradeWait() *handover.Child {
	sv.upgrade.wg.Wait()
	sv.upgrade.mu.Lock()
	defer sv.upgrade.mu.Unlock()
	return sv.upgrade.child
}
