package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

// SetTraffic records the change in the app's status, as the supervisor
// would, and counts the calls.
func (f *fakeSupervisor) SetTraffic(ctx context.Context, app string, change deploy.TrafficChange) (deploy.AppStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[app]
	if !ok {
		return deploy.AppStatus{}, deploy.Errorf(deploy.ENOTFOUND, "no app named %q", app)
	}
	if err := change.Check(); err != nil {
		return deploy.AppStatus{}, err
	}
	f.trafficCalls++
	a.Traffic = change.State(time.Now()).Status(a.Traffic.Held)
	return *a, nil
}

func TestCtl_Traffic(t *testing.T) {
	f := newFakeSupervisor()
	addr := startAPI(t, api.NewServer(f, nil))
	ctl := func(args ...string) (int, string, string) {
		return run(t, append([]string{"ctl", "--api", addr}, args...)...)
	}
	mode := func() deploy.Traffic {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.apps["web"].Traffic
	}

	t.Run("pause", func(t *testing.T) {
		code, out, errOut := ctl("pause", "web", "--max-wait", "45s")
		if code != 0 || out != "web: paused: new requests are held, each up to 45.0s, until \"bluegreen ctl resume web\"\n" {
			t.Fatalf("exit %d out %q err %q", code, out, errOut)
		}
		if tr := mode(); tr.Mode != deploy.TrafficPaused || tr.MaxWaitMS != 45000 {
			t.Fatalf("traffic %+v", tr)
		}
		if code, _, _ := ctl("pause", "web"); code != 0 || mode().MaxWaitMS != 30000 {
			t.Fatalf("a pause again: exit %d, %+v", code, mode())
		}
	})
	t.Run("status shows the mode", func(t *testing.T) {
		f.mu.Lock()
		f.apps["web"].Traffic.Held = 4
		f.apps["worker"].Traffic = deploy.TrafficState{}.Status(0)
		f.mu.Unlock()
		code, out, _ := ctl("status")
		lines := strings.Split(out, "\n")
		if code != 0 || !strings.Contains(lines[0], "TRAFFIC") || !strings.Contains(lines[1], "paused (4 held)") || !strings.Contains(lines[2], "serving") {
			t.Fatalf("exit %d table:\n%s", code, out)
		}
		code, out, _ = ctl("status", "web")
		if code != 0 || !strings.Contains(out, "  traffic:  paused since ") || !strings.Contains(out, ", max wait 30.0s, 4 held") {
			t.Fatalf("exit %d detail:\n%s", code, out)
		}
	})
	t.Run("maintenance", func(t *testing.T) {
		code, out, _ := ctl("maintenance", "web", "--message", "back at 10:00", "--retry-after", "2m")
		if code != 0 || out != "web: in maintenance: new requests get 503 (Retry-After: 120) with the message \"back at 10:00\"\n" {
			t.Fatalf("exit %d out %q", code, out)
		}
		code, out, _ = ctl("status", "web")
		if code != 0 || !strings.Contains(out, `traffic:  maintenance since `) || !strings.Contains(out, `Retry-After: 120, message "back at 10:00"`) {
			t.Fatalf("detail:\n%s", out)
		}
	})
	t.Run("resume with --json", func(t *testing.T) {
		code, out, _ := ctl("resume", "web", "--json")
		var st deploy.AppStatus
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Traffic.Mode != deploy.TrafficServing {
			t.Fatalf("exit %d out %q", code, out)
		}
		if code, out, _ := ctl("resume", "web"); code != 0 || out != "web: serving: new requests go to blue\n" {
			t.Fatalf("exit %d out %q", code, out)
		}
	})
}

func TestCtl_Traffic_badUsage(t *testing.T) {
	f := newFakeSupervisor()
	addr := startAPI(t, api.NewServer(f, nil))
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pause", "web", "--max-wait", "-5s"}, ExitUsage, "max_wait -5s is out of range: use 1s to 10m"},
		{[]string{"pause", "web", "--max-wait", "0"}, ExitUsage, "max_wait 0s is out of range: use 1s to 10m"},
		{[]string{"pause", "web", "--max-wait", "1h"}, ExitUsage, "max_wait 1h is out of range: use 1s to 10m"},
		{[]string{"pause", "web", "--max-wait", "99999999999h"}, ExitUsage, `max_wait "99999999999h" is not a duration: use e.g. 30s`},
		{[]string{"pause", "web", "--max-wait", "soon"}, ExitUsage, `max_wait "soon" is not a duration`},
		{[]string{"pause"}, ExitUsage, "APP"},
		{[]string{"pause", "web", "worker"}, ExitUsage, ""},
		{[]string{"pause", "web", "--message", "x"}, ExitUsage, "unknown flag --message for pause"},
		{[]string{"maintenance", "web", "--retry-after", "0s"}, ExitUsage, "retry_after 0s is out of range: use 1s to 24h"},
		{[]string{"maintenance", "web", "--retry-after", "2d"}, ExitUsage, `retry_after "2d" is not a duration`},
		{[]string{"maintenance", "web", "--message", strings.Repeat("m", 1025)}, ExitUsage, "message is 1025 bytes: at most 1024"},
		{[]string{"maintenance", "web", "--message", "a\x1bb"}, ExitUsage, "message holds the control character U+001B"},
		{[]string{"maintenance", "web", "--max-wait", "30s"}, ExitUsage, "unknown flag --max-wait for maintenance"},
		{[]string{"resume", "web", "--max-wait", "30s"}, ExitUsage, "unknown flag --max-wait for resume"},
		{[]string{"resume"}, ExitUsage, "APP"},
		{[]string{"pause", "nope"}, ExitFailed, `no app named "nope"`},
		{[]string{"maintenance", "nope"}, ExitFailed, `no app named "nope"`},
		{[]string{"resume", "nope"}, ExitFailed, `no app named "nope"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := run(t, append([]string{"ctl", "--api", addr}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d stderr %q; want exit %d saying %q", code, errOut, tt.code, tt.want)
			}
		})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.trafficCalls != 0 {
		t.Fatalf("%d refused commands reached the supervisor", f.trafficCalls)
	}
}

// TestWatcher_Screen_traffic: on a narrow terminal the TRAFFIC column is
// the first to go while every app serves, and the last (before IMAGE is
// cut) when an app is paused.
func TestWatcher_Screen_traffic(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	serving := deploy.TrafficState{}.Status(0)
	apps := func(web deploy.Traffic) []deploy.AppStatus {
		return []deploy.AppStatus{
			{Name: "web-api", Status: deploy.AppStable, ActiveColor: "blue", CurrentImage: "registry.example.com/team/web-api:20250630-1010-a333666",
				Ports: deploy.Ports{Proxy: 8000}, Containers: deploy.Containers{Blue: &deploy.Container{Health: deploy.Healthy}},
				LastDeployment: &deploy.Deployment{Status: deploy.StatusCompleted, StartedAt: now.Add(-5 * time.Minute)}, Traffic: web},
			{Name: "demo", Status: deploy.AppStable, ActiveColor: "green", CurrentImage: "bluegreen-demo:v2", Ports: deploy.Ports{Proxy: 8080}, Traffic: serving},
		}
	}
	c := &ctl{addr: "127.0.0.1:7070", fmt: formatter{now: func() time.Time { return now }}}
	paused := deploy.TrafficChange{Mode: deploy.TrafficPaused, MaxWait: time.Minute}.State(now).Status(17)
	for _, tc := range []struct {
		name        string
		web         deploy.Traffic
		width       int
		has, hasNot []string
	}{
		{"all serving, wide", serving, 200, []string{"TRAFFIC", "serving", "PROXY"}, nil},
		{"all serving, 90", serving, 90, []string{"PROXY", "HEALTH", "LAST DEPLOY"}, []string{"TRAFFIC"}},
		{"paused, 120", paused, 120, []string{"TRAFFIC", "paused (17 held)", "LAST DEPLOY"}, nil},
		{"paused, 80", paused, 80, []string{"TRAFFIC", "paused (17 held)", "IMAGE", "LAST DEPLOY"}, []string{"PROXY", "HEALTH", "ACTIVE"}},
		{"paused, 60", paused, 60, []string{"TRAFFIC", "paused (17 held)", "IMAGE"}, []string{"ACTIVE", "LAST DEPLOY"}},
		{"serving with held requests, 80", deploy.TrafficState{}.Status(2), 80, []string{"serving (2 held)"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &watcher{c: c, tty: true, width: tc.width, height: 30}
			frame := string(w.screen(apps(tc.web)))
			for _, l := range strings.Split(frame, "\n") {
				if n := len([]rune(strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(l, ansiClearLine, ""), ansiHome, ""), ansiClearDown, ""))); n > tc.width {
					t.Fatalf("a line of %d runes on a terminal of %d: %q", n, tc.width, l)
				}
			}
			for _, want := range tc.has {
				if !strings.Contains(frame, want) {
					t.Errorf("no %q in\n%s", want, frame)
				}
			}
			for _, not := range tc.hasNot {
				if strings.Contains(frame, not) {
					t.Errorf("%q in\n%s", not, frame)
				}
			}
		})
	}
}
