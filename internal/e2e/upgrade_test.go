package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bluegreen/bluegreen/deploy"
)

// TestUpgrade_UnderLoad upgrades serve while 8 keep-alive clients and 2
// WebSockets go through an app's proxy: no request fails, the new process
// answers /health with its pid and version, the containers are the same,
// the old WebSockets get 1001 at websocket_drain_timeout and new ones work.
// Once with SIGUSR2 and the API on TCP, once with `ctl upgrade --wait` and
// the API on a unix socket. Serve runs as under systemd (NOTIFY_SOCKET), so
// the old process exits and the new one reports itself as the main PID;
// without it, the stand-in stays (standin_test.go).
func TestUpgrade_UnderLoad(t *testing.T) {
	images(t)
	for _, tc := range []struct{ name, api string }{{"SIGUSR2, API on TCP", ""}, {"ctl upgrade, API on a unix socket", "unix"}} {
		t.Run(tc.name, func(t *testing.T) {
			sd := fakeSystemd(t)
			a := newApp(t, imgV1)
			s := newServe(t, tc.api, a)
			s.start()
			before := s.stable(a, imgV1, 60*time.Second)
			oldPID := s.pid()
			ids := containers(t, a.name)

			l := startLoad(t, a, 8, 2)
			waitFor(t, 10*time.Second, "traffic", func() (bool, string) { return l.ok.Load() > 200, l.String() })
			s.install(bin2) // the new build, at the same path
			start := time.Now()
			if tc.api == "" {
				s.signal(syscall.SIGUSR2)
			} else {
				code, out, errOut := s.ctl("upgrade", "--wait")
				if code != 0 || !strings.Contains(out, "upgraded: pid ") || !strings.Contains(out, version2) {
					t.Fatalf("ctl upgrade --wait: exit %d\n%s%s", code, out, errOut)
				}
			}
			var h deploy.Overall
			waitFor(t, 40*time.Second, "the new process on /health", func() (bool, string) {
				var err error
				h, err = s.health()
				return err == nil && h.PID != oldPID && h.Version == version2, fmt.Sprintf("%+v %v", h, err)
			})
			tookOver := time.Since(start)
			if code, ok := s.exited(30 * time.Second); !ok || code != 0 {
				t.Fatalf("the old process: exit %d, exited %v", code, ok)
			}
			oldGone := time.Since(start)
			if !sd.heard(fmt.Sprintf("MAINPID=%d\nREADY=1", h.PID)) {
				t.Fatalf("systemd did not hear pid %d as the main PID", h.PID)
			}

			// The old WebSockets ran on through the drain and got 1001.
			for i, ws := range l.sockets {
				status, at := ws.closedWith(t, 20*time.Second)
				after := at.Sub(start)
				if status != websocket.StatusGoingAway || ws.echoes.Load() == 0 {
					t.Fatalf("old WebSocket %d ended with %v (status %d) after %d echoes", i, ws.err, status, ws.echoes.Load())
				}
				t.Logf("old WebSocket %d: %d echoes, closed with 1001 %s after the upgrade began", i, ws.echoes.Load(), after.Round(time.Millisecond))
			}
			fresh := openSocket(t, a)
			waitFor(t, 5*time.Second, "a new WebSocket echoes", func() (bool, string) { return fresh.echoes.Load() > 3, fmt.Sprint(fresh.err) })
			afterUpgrade := l.ok.Load()
			waitFor(t, 10*time.Second, "traffic after the upgrade", func() (bool, string) { return l.ok.Load() > afterUpgrade+200, l.String() })
			l.halt()

			t.Logf("upgrade %s: new process on /health after %s, old one exited after %s; %d requests answered, %d failed",
				tc.name, tookOver.Round(time.Millisecond), oldGone.Round(time.Millisecond), l.ok.Load(), l.failed.Load())
			if l.failed.Load() != 0 {
				t.Fatalf("failed requests during the upgrade: %s", l)
			}
			if got := containers(t, a.name); fmt.Sprint(got) != fmt.Sprint(ids) {
				t.Fatalf("containers changed: %v, were %v", got, ids)
			}
			after := s.stable(a, imgV1, 10*time.Second)
			if after.ActiveColor != before.ActiveColor {
				t.Fatalf("active color %s, was %s", after.ActiveColor, before.ActiveColor)
			}
			if !h.StartedAt.After(start.Add(-time.Second)) {
				t.Fatalf("started_at %s of the new process", h.StartedAt)
			}
			up := s.event("", deploy.EventSupervisorUpgraded, 0, 5*time.Second)
			var d struct {
				OldPID     int    `json:"old_pid"`
				NewPID     int    `json:"new_pid"`
				OldVersion string `json:"old_version"`
				NewVersion string `json:"new_version"`
			}
			dataOf(t, up, &d)
			if d.OldPID != oldPID || d.NewPID != h.PID || d.OldVersion != version1 || d.NewVersion != version2 {
				t.Fatalf("supervisor.upgraded data %+v", d)
			}
			s.event("", deploy.EventSupervisorUpgrading, 0, time.Second)
			if tc.api == "unix" {
				if _, err := os.Stat(filepath.Join(s.dir, "api.sock")); err != nil {
					t.Fatalf("the socket file after the old process exited: %v", err)
				}
			}
			// The new process drives: a deployment works.
			if d := s.ended(s.deploy(a, imgV2), 60*time.Second); d.Status != deploy.StatusCompleted {
				t.Fatalf("deployment after the upgrade: %+v", d)
			}
		})
	}
}

// TestUpgrade_Failed replaces the binary with one that exits 1: the old
// process keeps serving (no request fails), `ctl upgrade --wait` exits 1
// with the reason, a second upgrade while one runs is a conflict, and the
// old process drives Docker again afterwards.
func TestUpgrade_Failed(t *testing.T) {
	images(t)
	a := newApp(t, imgV1)
	s := newServe(t, "", a)
	s.start()
	s.stable(a, imgV1, 60*time.Second)
	oldPID := s.pid()
	l := startLoad(t, a, 8, 2)
	waitFor(t, 10*time.Second, "traffic", func() (bool, string) { return l.ok.Load() > 200, l.String() })

	// A build that fails after a moment: long enough to ask twice.
	s.installBytes([]byte("#!/bin/sh\necho 'bluegreen: this build is broken' >&2\nsleep 2\nexit 1\n"))
	type result struct {
		code        int
		out, errOut string
	}
	res := make(chan result, 1)
	go func() {
		code, out, errOut := s.ctl("upgrade", "--wait")
		res <- result{code, out, errOut}
	}()
	waitFor(t, 10*time.Second, "the upgrade under way", func() (bool, string) {
		evs := s.events("", 0)
		return len(evs) > 0 && evs[len(evs)-1].Type == deploy.EventSupervisorUpgrading, ""
	})
	code, _, errOut := s.ctl("upgrade")
	if code != 1 || !strings.Contains(errOut, "already in progress") {
		t.Fatalf("a second upgrade: exit %d %s", code, errOut)
	}
	r := <-res
	if r.code != 1 || !strings.Contains(r.errOut, "exited before it was ready: exit status 1") ||
		!strings.Contains(r.errOut, fmt.Sprintf("pid %d keeps serving", oldPID)) {
		t.Fatalf("ctl upgrade --wait of a broken build: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	t.Logf("ctl upgrade --wait: exit %d: %s", r.code, strings.TrimSpace(r.errOut))
	ev := s.event("", deploy.EventSupervisorUpgradeFailed, 0, time.Second)
	var d struct {
		Reason string `json:"reason"`
	}
	dataOf(t, ev, &d)
	if !strings.Contains(d.Reason, "exit status 1") {
		t.Fatalf("supervisor.upgrade_failed %+v", d)
	}
	if pid := s.pid(); pid != oldPID {
		t.Fatalf("/health answers pid %d, want the old %d", pid, oldPID)
	}
	n := l.ok.Load()
	waitFor(t, 10*time.Second, "traffic after the failure", func() (bool, string) { return l.ok.Load() > n+200, l.String() })
	l.halt()
	for i, ws := range l.sockets {
		select {
		case <-ws.done:
			t.Fatalf("WebSocket %d ended: %v", i, ws.err)
		default:
		}
	}
	t.Logf("failed upgrade: %d requests answered, %d failed", l.ok.Load(), l.failed.Load())
	if l.failed.Load() != 0 {
		t.Fatalf("failed requests: %s", l)
	}
	// The old process drives again: a deployment runs and completes.
	if d := s.ended(s.deploy(a, imgV2), 60*time.Second); d.Status != deploy.StatusCompleted {
		t.Fatalf("deployment after the failed upgrade: %+v", d)
	}

	// A new build that refuses to start (here: an app config broken since
	// the start) says why; the old process serves on.
	s.install(bin2)
	bad := filepath.Join(s.dir, "apps.d", "broken.yaml")
	if err := os.WriteFile(bad, []byte("name: broken\nimage: x:1\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = s.ctl("upgrade", "--wait")
	if code != 1 || !strings.Contains(errOut, "broken.yaml:3:1") || !strings.Contains(errOut, "keeps serving") {
		t.Fatalf("upgrade with a broken config: exit %d %s", code, errOut)
	}
	t.Logf("a build that refuses to start: %s", strings.TrimSpace(errOut))
	if pid := s.pid(); pid != oldPID {
		t.Fatalf("/health answers pid %d, want the old %d", pid, oldPID)
	}
}
