package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// SetTraffic records the change in the app's status, as the supervisor
// would; a change the API let through unchecked is refused.
func (b *fakeBackend) SetTraffic(ctx context.Context, app string, change deploy.TrafficChange) (deploy.AppStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, err := b.app(app)
	if err != nil {
		return deploy.AppStatus{}, err
	}
	if err := change.Check(); err != nil {
		return deploy.AppStatus{}, err
	}
	b.lastTraffic = change
	a.Traffic = change.State(time.Date(2025, 6, 30, 10, 5, 0, 0, time.UTC)).Status(0)
	return *a, nil
}

func TestServer_Traffic(t *testing.T) {
	b := newFakeBackend()
	post := func(route, body string) *httptest.ResponseRecorder {
		t.Helper()
		return serve(t, b, jsonRequest("POST", "/api/apps/web/"+route, body))
	}
	ok := func(rec *httptest.ResponseRecorder) deploy.Traffic {
		t.Helper()
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		st := decode[deploy.AppStatus](t, rec)
		if st.Name != "web" {
			t.Fatalf("answer is not web's status: %s", rec.Body)
		}
		return st.Traffic
	}

	t.Run("pause with the default max_wait", func(t *testing.T) {
		tr := ok(post("pause", ""))
		if tr.Mode != deploy.TrafficPaused || tr.MaxWaitMS != 30000 || tr.Since == nil {
			t.Fatalf("traffic %+v", tr)
		}
	})
	t.Run("a pause again updates max_wait", func(t *testing.T) {
		tr := ok(post("pause", `{"max_wait": "2m"}`))
		if tr.Mode != deploy.TrafficPaused || tr.MaxWaitMS != 120000 {
			t.Fatalf("traffic %+v", tr)
		}
	})
	t.Run("maintenance", func(t *testing.T) {
		tr := ok(post("maintenance", `{"message": "back at 10:00", "retry_after": "90s"}`))
		if tr.Mode != deploy.TrafficMaintenance || tr.Message != "back at 10:00" || tr.RetryAfterMS != 90000 || tr.MaxWaitMS != 0 {
			t.Fatalf("traffic %+v", tr)
		}
		tr = ok(post("maintenance", `{}`))
		if tr.Message != deploy.DefaultMaintenanceMessage || tr.RetryAfterMS != 60000 {
			t.Fatalf("maintenance with the defaults: %+v", tr)
		}
	})
	t.Run("resume", func(t *testing.T) {
		for _, body := range []string{"", "{}", " \n"} {
			tr := ok(post("resume", body))
			if tr.Mode != deploy.TrafficServing || tr.Message != "" || tr.MaxWaitMS != 0 {
				t.Fatalf("traffic %+v", tr)
			}
		}
	})
	t.Run("the JSON of a status", func(t *testing.T) {
		rec := post("pause", `{"max_wait": "45s"}`)
		for _, want := range []string{`"traffic":{"mode":"paused","since":"2025-06-30T10:05:00Z","held":0,"max_wait_ms":45000,"message":""`} {
			if !strings.Contains(rec.Body.String(), want) {
				t.Fatalf("body %s lacks %s", rec.Body, want)
			}
		}
	})
}

func TestServer_Traffic_badInput(t *testing.T) {
	b := newFakeBackend()
	tests := []struct {
		route, body string
		status      int
		want        string
	}{
		{"pause", `{"max_wait": "-5s"}`, 400, "max_wait -5s is out of range: use 1s to 10m"},
		{"pause", `{"max_wait": "0s"}`, 400, "max_wait 0s is out of range: use 1s to 10m"},
		{"pause", `{"max_wait": "500ms"}`, 400, "max_wait 500ms is out of range: use 1s to 10m"},
		{"pause", `{"max_wait": "11m"}`, 400, "max_wait 11m is out of range: use 1s to 10m"},
		{"pause", `{"max_wait": "9999999h"}`, 400, `max_wait "9999999h" is not a duration: use e.g. 30s`},
		{"pause", `{"max_wait": "30"}`, 400, `max_wait "30" is not a duration: use e.g. 30s`},
		{"pause", `{"max_wait": 30}`, 400, "max_wait: want a string, got a number"},
		{"pause", `{"maxwait": "30s"}`, 400, `unknown field "maxwait" (known: max_wait)`},
		{"pause", `{"mode": "closed"}`, 400, `unknown field "mode" (known: max_wait)`},
		{"pause", `[]`, 400, "want an object, got an array"},
		{"pause", `{"max_wait": "30s"`, 400, "not valid JSON: it ends early"},
		{"maintenance", `{"retry_after": "-1s"}`, 400, "retry_after -1s is out of range: use 1s to 24h"},
		{"maintenance", `{"retry_after": "48h"}`, 400, "retry_after 48h is out of range: use 1s to 24h"},
		{"maintenance", `{"message": 5}`, 400, "message: want a string, got a number"},
		{"maintenance", `{"message": "` + strings.Repeat("x", 2000) + `"}`, 400, "message is 2000 bytes: at most 1024"},
		{"maintenance", `{"message": "a\u0000b"}`, 400, "message holds the control character U+0000: use plain text"},
		{"maintenance", `{"msg": "x"}`, 400, `unknown field "msg" (known: message, retry_after)`},
		{"maintenance", `{"max_wait": "30s"}`, 400, `unknown field "max_wait" (known: message, retry_after)`},
		{"resume", `{"now": true}`, 400, `unknown field "now": this route takes no fields (send {} or nothing)`},
		{"resume", `"yes"`, 400, "want an object, got a string"},
	}
	for _, tt := range tests {
		t.Run(tt.route+" "+tt.body, func(t *testing.T) {
			rec := serve(t, b, jsonRequest("POST", "/api/apps/web/"+tt.route, tt.body))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if e := checkErrorShape(t, tt.route, rec); !strings.Contains(e.Message, tt.want) || e.Code != "invalid" {
				t.Fatalf("error %+v, want invalid saying %q", e, tt.want)
			}
		})
	}
	if b.lastTraffic.Mode != "" {
		t.Fatalf("a refused request reached the backend: %+v", b.lastTraffic)
	}

	t.Run("an unknown app", func(t *testing.T) {
		for _, route := range []string{"pause", "maintenance", "resume"} {
			rec := serve(t, b, jsonRequest("POST", "/api/apps/nope/"+route, ""))
			if rec.Code != http.StatusNotFound {
				t.Fatalf("%s: status %d, want 404", route, rec.Code)
			}
			checkErrorShape(t, route, rec)
		}
	})
	t.Run("an unknown mode is no route", func(t *testing.T) {
		for _, route := range []string{"closed", "serving", "paused", "unpause"} {
			rec := serve(t, b, jsonRequest("POST", "/api/apps/web/"+route, ""))
			if rec.Code != http.StatusNotFound {
				t.Fatalf("%s: status %d, want 404", route, rec.Code)
			}
			checkErrorShape(t, route, rec)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		req := jsonRequest("POST", "/api/apps/web/pause", `max_wait=30s`)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := serve(t, b, req)
		if rec.Code != http.StatusUnsupportedMediaType {
			t.Fatalf("status %d, want 415", rec.Code)
		}
		checkErrorShape(t, "a form", rec)
	})
	t.Run("GET is not allowed", func(t *testing.T) {
		rec := serve(t, b, jsonRequest("GET", "/api/apps/web/pause", ""))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
			t.Fatalf("status %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
		}
	})
}

func TestClient_Traffic(t *testing.T) {
	b := newFakeBackend()
	srv := httptest.NewServer(NewServer(b, nil))
	defer srv.Close()
	c := NewClient(strings.TrimPrefix(srv.URL, "http://"))
	ctx := context.Background()

	st, err := c.Pause(ctx, "web", deploy.PauseRequest{MaxWait: "1m"})
	if err != nil || st.Traffic.Mode != deploy.TrafficPaused || st.Traffic.MaxWaitMS != 60000 {
		t.Fatalf("Pause = %+v, %v", st.Traffic, err)
	}
	st, err = c.Maintenance(ctx, "web", deploy.MaintenanceRequest{Message: "soon", RetryAfter: "2m"})
	if err != nil || st.Traffic.Mode != deploy.TrafficMaintenance || st.Traffic.Message != "soon" {
		t.Fatalf("Maintenance = %+v, %v", st.Traffic, err)
	}
	st, err = c.Resume(ctx, "web")
	if err != nil || st.Traffic.Mode != deploy.TrafficServing {
		t.Fatalf("Resume = %+v, %v", st.Traffic, err)
	}
	_, err = c.Pause(ctx, "web", deploy.PauseRequest{MaxWait: "1h"})
	if deploy.ErrorCode(err) != deploy.EINVALID || !strings.Contains(err.Error(), "max_wait 1h is out of range") {
		t.Fatalf("a bad max_wait: %v (%s)", err, deploy.ErrorCode(err))
	}
	if _, err = c.Resume(ctx, "nope"); deploy.ErrorCode(err) != deploy.ENOTFOUND {
		t.Fatalf("an unknown app: %v", err)
	}
}
