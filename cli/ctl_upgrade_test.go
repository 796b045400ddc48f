package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

// upgradeAPI fakes the routes `ctl upgrade` uses: the answer of POST
// /api/upgrade, then the outcome event after a few reads of the audit trail.
func upgradeAPI(t *testing.T, post int, outcome deploy.EventType, data string) *httptest.Server {
	t.Helper()
	var reads atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/upgrade", func(w http.ResponseWriter, r *http.Request) {
		if post != http.StatusAccepted {
			w.WriteHeader(post)
			json.NewEncoder(w).Encode(api.ErrorBody{Error: api.ErrorDetail{Code: "conflict", Message: "an upgrade of pid 100 is already in progress: wait for its end"}})
			return
		}
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(deploy.UpgradeStatus{Status: deploy.UpgradeStarted, OldPID: 100, EventID: 5})
	})
	mux.HandleFunc("GET /api/events", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("after_id") == "" {
			t.Errorf("events read from the start, not after the upgrade's event")
		}
		evs := []deploy.Event{}
		if reads.Add(1) > 2 {
			evs = append(evs, deploy.Event{ID: 7, Type: outcome, Data: json.RawMessage(data)})
		}
		json.NewEncoder(w).Encode(evs)
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(deploy.Overall{Status: "healthy", PID: 200})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestUpgradeCommand(t *testing.T) {
	run := func(srv *httptest.Server, o upgradeOptions) (int, string, string) {
		var out, errOut bytes.Buffer
		o.poll, o.timeout = time.Millisecond, 5*time.Second
		code := upgradeCommand(context.Background(), api.NewClient(strings.TrimPrefix(srv.URL, "http://")), o, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	t.Run("wait: upgraded", func(t *testing.T) {
		srv := upgradeAPI(t, http.StatusAccepted, deploy.EventSupervisorUpgraded,
			`{"old_pid": 100, "new_pid": 200, "old_version": "v1", "new_version": "v2"}`)
		code, out, errOut := run(srv, upgradeOptions{wait: true})
		if code != ExitOK || !strings.Contains(out, "upgraded: pid 200 (v2) serves in place of pid 100 (v1)") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("wait: failed", func(t *testing.T) {
		srv := upgradeAPI(t, http.StatusAccepted, deploy.EventSupervisorUpgradeFailed,
			`{"old_pid": 100, "new_pid": 201, "reason": "the new process did not take over: it exited before it was ready: exit status 1"}`)
		code, _, errOut := run(srv, upgradeOptions{wait: true})
		if code != ExitFailed || !strings.Contains(errOut, "exit status 1") || !strings.Contains(errOut, "pid 100 keeps serving") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
	t.Run("wait --json", func(t *testing.T) {
		srv := upgradeAPI(t, http.StatusAccepted, deploy.EventSupervisorUpgraded, `{"old_pid": 100, "new_pid": 200}`)
		code, out, _ := run(srv, upgradeOptions{wait: true, json: true})
		var res upgradeResult
		if code != ExitOK || json.Unmarshal([]byte(out), &res) != nil || res.Status != "upgraded" || res.NewPID != 200 {
			t.Fatalf("exit %d: %s", code, out)
		}
	})
	t.Run("an event of another upgrade is not this one's", func(t *testing.T) {
		srv := upgradeAPI(t, http.StatusAccepted, deploy.EventSupervisorUpgradeFailed, `{"old_pid": 99, "reason": "old news"}`)
		var out, errOut bytes.Buffer
		code := upgradeCommand(context.Background(), api.NewClient(strings.TrimPrefix(srv.URL, "http://")),
			upgradeOptions{wait: true, poll: time.Millisecond, timeout: 100 * time.Millisecond}, &out, &errOut)
		if code != ExitFailed || !strings.Contains(errOut.String(), "no outcome of the upgrade of pid 100 within 100ms") {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	})
	t.Run("no wait", func(t *testing.T) {
		srv := upgradeAPI(t, http.StatusAccepted, "", "")
		code, out, _ := run(srv, upgradeOptions{})
		if code != ExitOK || !strings.Contains(out, "upgrading bluegreen (pid 100)") {
			t.Fatalf("exit %d: %s", code, out)
		}
	})
	t.Run("one in progress", func(t *testing.T) {
		srv := upgradeAPI(t, http.StatusConflict, "", "")
		code, _, errOut := run(srv, upgradeOptions{wait: true})
		if code != ExitFailed || !strings.Contains(errOut, "already in progress") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
	t.Run("wait: a refused read of the events is final, an unavailable one is retried", func(t *testing.T) {
		for _, tt := range []struct {
			status int
			code   int
			want   string
		}{
			{http.StatusForbidden, ExitFailed, "error: not this API's Host\n"},
			{http.StatusServiceUnavailable, ExitFailed, "no outcome of the upgrade of pid 100 within 100ms"},
		} {
			var reads atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("POST /api/upgrade", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				json.NewEncoder(w).Encode(deploy.UpgradeStatus{Status: deploy.UpgradeStarted, OldPID: 100, EventID: 5})
			})
			mux.HandleFunc("GET /api/events", func(w http.ResponseWriter, r *http.Request) {
				reads.Add(1)
				w.WriteHeader(tt.status)
				json.NewEncoder(w).Encode(api.ErrorBody{Error: api.ErrorDetail{Code: "forbidden", Message: "not this API's Host"}})
			})
			srv := httptest.NewServer(mux)
			var out, errOut bytes.Buffer
			code := upgradeCommand(context.Background(), api.NewClient(srv.URL),
				upgradeOptions{wait: true, poll: time.Millisecond, timeout: 100 * time.Millisecond}, &out, &errOut)
			srv.Close()
			if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("%d: exit %d: %q", tt.status, code, errOut.String())
			}
			if n := reads.Load(); (tt.status < 500) != (n == 1) {
				t.Fatalf("%d: %d reads of the events", tt.status, n)
			}
		}
	})
	t.Run("wait: Ctrl-C says the upgrade goes on", func(t *testing.T) {
		srv := upgradeAPI(t, http.StatusAccepted, "", "")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var out, errOut syncBuffer
		go func() { // the outcome never comes: cancel once it follows the upgrade
			for ctx.Err() == nil && !strings.Contains(out.String(), "upgrading") {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		code := upgradeCommand(ctx, api.NewClient(srv.URL), upgradeOptions{wait: true, poll: time.Millisecond, timeout: time.Minute}, &out, &errOut)
		if code != ExitFailed || !strings.Contains(errOut.String(), "stopped waiting: the upgrade of pid 100 goes on") {
			t.Fatalf("exit %d: %q", code, errOut.String())
		}
	})
	t.Run("through ctl", func(t *testing.T) {
		srv := upgradeAPI(t, http.StatusAccepted, "", "")
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), []string{"ctl", "--api", strings.TrimPrefix(srv.URL, "http://"), "upgrade", "--json"}, &out, &errOut); code != ExitOK ||
			!strings.Contains(out.String(), `"old_pid": 100`) {
			t.Fatalf("ctl upgrade --json: %d %s %s", code, out.String(), errOut.String())
		}
		if code := Run(context.Background(), []string{"ctl", "upgrade", "now"}, &out, &errOut); code != ExitUsage {
			t.Fatalf("ctl upgrade with an argument: %d", code)
		}
		if code := Run(context.Background(), []string{"ctl", "upgrade", "--timeout", "soon"}, &out, &errOut); code != ExitUsage {
			t.Fatalf("ctl upgrade --timeout soon: %d", code)
		}
	})
}
