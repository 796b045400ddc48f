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
	t.Run("api errors carry the server's message", func(t *testing.T) {
		srv := httptest.NewServer(NewServer(newFakeBackend(), nil))
		t.Cleanup(srv.Close)
		c := NewClient(strings.TrimPrefix(srv.URL, "http://"))
		_, err := c.App(t.Context(), "nope")
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Code != "not_found" || !strings.Contains(ae.Message, `"nope"`) {
			t.Fatalf("error %#v", err)
		}
		_, err = c.Switch(t.Context(), "web", "green")
		if !errors.As(err, &ae) || ae.Status != http.StatusConflict || !strings.Contains(err.Error(), "no green container") {
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
