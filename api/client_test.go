package api

import (
	"errors"
	"github.com/bluegreen/bluegreen/deploy"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestClient_Errors(t *testing.T) {
	t.Run("nothing listens", func(t *testing.T) {
		addr := freeAddr(t)
		_, err := NewClient(addr).Apps(t.Context())
		want := `cannot reach bluegreen at ` + addr + `: is "bluegreen serve" running?`
		if err == nil || err.Error() != want {
			t.Fatalf("error %q, want %q", err, want)
		}
		var ce *ConnError
		if !errors.As(err, &ce) {
			t.Fatalf("error %T is not a *ConnError", err)
		}
	})
	t.Run("nothing listens on the event stream", func(t *testing.T) {
		addr := freeAddr(t)
		_, _, err := NewClient(addr).StreamEvents(t.Context(), "")
		if err == nil || !strings.HasPrefix(err.Error(), "cannot reach bluegreen at "+addr) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("api errors come back as the server's *deploy.Error", func(t *testing.T) {
		b := newFakeBackend()
		srv := httptest.NewServer(NewServer(b, nil))
		t.Cleanup(srv.Close)
		c := NewClient(strings.TrimPrefix(srv.URL, "http://"))
		_, err := c.App(t.Context(), "nope")
		var de *deploy.Error
		if !errors.As(err, &de) || deploy.ErrorCode(err) != deploy.ENOTFOUND || HTTPStatus(err) != http.StatusNotFound ||
			!strings.Contains(de.Message, `"nope"`) || err.Error() != de.Message {
			t.Fatalf("error %#v", err)
		}
		_, err = c.Switch(t.Context(), "web", "green")
		if deploy.ErrorCode(err) != deploy.ECONFLICT || HTTPStatus(err) != http.StatusConflict || !strings.Contains(err.Error(), "no green container") {
			t.Fatalf("error %#v", err)
		}
		b.reloadErr = &deploy.Error{Code: deploy.EINVALIDCONFIG, Message: "2 config errors",
			Details: []string{"web.yaml:1:1: name: required", "api.yaml:2:3: ports.proxy: required"}}
		_, err = c.Reload(t.Context())
		if deploy.ErrorCode(err) != deploy.EINVALIDCONFIG || HTTPStatus(err) != http.StatusBadRequest ||
			err.Error() != "2 config errors" || len(deploy.ErrorDetails(err)) != 2 {
			t.Fatalf("error %#v", err)
		}
	})
	t.Run("answers without an error body", func(t *testing.T) {
		tests := []struct {
			name   string
			status int
			body   string
			code   deploy.Code
			msg    string
		}{
			{"text from a proxy in front", http.StatusBadGateway, "upstream went away\n", deploy.EINTERNAL, "upstream went away"},
			{"empty", http.StatusServiceUnavailable, "", deploy.EDOCKERUNAVAILABLE, "503 Service Unavailable"},
			{"json without a message", http.StatusNotFound, `{"error":{"code":"not_found"}}`, deploy.ENOTFOUND, `{"error":{"code":"not_found"}}`},
			{"a code of the server's own", http.StatusForbidden, `{"error":{"code":"forbidden","message":"no"}}`, "forbidden", "no"},
			{"a message without a code", http.StatusConflict, `{"error":{"message":"busy"}}`, deploy.ECONFLICT, "busy"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(tt.status)
					w.Write([]byte(tt.body))
				}))
				t.Cleanup(srv.Close)
				_, err := NewClient(srv.URL).Apps(t.Context())
				if deploy.ErrorCode(err) != tt.code || HTTPStatus(err) != tt.status || err.Error() != tt.msg {
					t.Fatalf("error %q code %q status %d, want %q %q %d", err, deploy.ErrorCode(err), HTTPStatus(err), tt.msg, tt.code, tt.status)
				}
			})
		}
	})
	t.Run("a refused event stream", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"forbidden","message":"the Host is not this API's"}}`))
		}))
		t.Cleanup(srv.Close)
		_, _, err := NewClient(srv.URL).StreamEvents(t.Context(), "")
		if deploy.ErrorCode(err) != "forbidden" || HTTPStatus(err) != http.StatusForbidden ||
			err.Error() != "open event stream: the Host is not this API's" {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("not reached: no status, no domain error", func(t *testing.T) {
		_, err := NewClient(freeAddr(t)).Apps(t.Context())
		var de *deploy.Error
		if HTTPStatus(err) != 0 || errors.As(err, &de) {
			t.Fatalf("error %#v", err)
		}
	})
}

func TestClient_Routes(t *testing.T) {
	b := newFakeBackend()
	srv := httptest.NewServer(NewServer(b, nil))
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL)
	ctx := t.Context()

	t.Run("deploy", func(t *testing.T) {
		resp, err := c.Deploy(ctx, "web", deploy.Request{DesiredImage: "web:v2", TriggerSource: deploy.TriggerManual})
		if err != nil || resp.Status != deploy.AnswerStarted {
			t.Fatalf("deploy %+v %v", resp, err)
		}
		d, err := c.Deployment(ctx, resp.DeploymentID)
		if err != nil || d.ToImage != "web:v2" || d.TriggerSource != deploy.TriggerManual {
			t.Fatalf("deployment %+v %v", d, err)
		}
	})
	t.Run("deploy wait", func(t *testing.T) {
		d, err := c.DeployWait(ctx, "web", deploy.Request{DesiredImage: "web:v3"})
		if err != nil || d.Status != deploy.StatusCompleted || d.ToImage != "web:v3" {
			t.Fatalf("deployment %+v %v", d, err)
		}
	})
	t.Run("promote", func(t *testing.T) {
		_, err := c.Promote(ctx, "web")
		if deploy.ErrorCode(err) != deploy.ECONFLICT {
			t.Fatalf("promote with nothing to promote: %v", err)
		}
		b.mu.Lock()
		b.apps["web"].Deployment = &deploy.Deployment{DeploymentID: 9, App: "web", Color: "green", Status: deploy.StatusCanary,
			Verification: &deploy.Verification{Step: 10, Result: deploy.VerificationRunning}}
		b.mu.Unlock()
		resp, err := c.Rollback(ctx, "web")
		if err != nil || resp != (deploy.Response{DeploymentID: 9, Status: deploy.AnswerRollingBack}) {
			t.Fatalf("rollback during canary %+v %v", resp, err)
		}
		st, err := c.Promote(ctx, "web")
		if err != nil || st.Deployment.Status != deploy.StatusDraining {
			t.Fatalf("promote %+v %v", st, err)
		}
	})
	t.Run("reads", func(t *testing.T) {
		apps, err := c.Apps(ctx)
		if err != nil || len(apps) != 2 {
			t.Fatalf("apps %v %v", apps, err)
		}
		ds, err := c.History(ctx, "web", 10, 0)
		if err != nil || len(ds) == 0 {
			t.Fatalf("history %v %v", ds, err)
		}
		h, err := c.Health(ctx, "web", 5)
		if err != nil || !h["blue"].Healthy {
			t.Fatalf("health %v %v", h, err)
		}
		evs, err := c.Events(ctx, "web", 0, 2)
		if err != nil || len(evs) != 2 {
			t.Fatalf("events %v %v", evs, err)
		}
		o, err := c.Overall(ctx)
		if err != nil || o.Status != "healthy" {
			t.Fatalf("overall %v %v", o, err)
		}
		m, err := c.Metrics(ctx)
		if err != nil || !strings.Contains(m, "# TYPE bluegreen_app_status gauge") {
			t.Fatalf("metrics %q %v", m, err)
		}
		r, err := c.Reload(ctx)
		if err != nil || len(r.Added) != 1 {
			t.Fatalf("reload %v %v", r, err)
		}
	})
}

func TestClient_UnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	ln, err := Listen("unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewServer(newFakeBackend(), nil), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	c := NewClient("unix:" + path)
	apps, err := c.Apps(t.Context())
	if err != nil || len(apps) != 2 {
		t.Fatalf("apps over unix socket: %v %v", apps, err)
	}
	events, _, err := c.StreamEvents(t.Context(), "")
	if err != nil || events == nil {
		t.Fatalf("event stream over unix socket: %v", err)
	}
}
