package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/scrape"
	"github.com/bluegreen/bluegreen/metrics"
)

// fakeBackend is an in-memory Backend for testing the HTTP layer: routing,
// encoding and error mapping. It keeps just enough state to answer consistently.
type fakeBackend struct {
	mu          sync.Mutex
	apps        map[string]*deploy.AppStatus
	deployments map[int64]*deploy.Deployment
	nextID      int64
	lastDeploy  deploy.Request
	lastLimit   int
	lastOffset  int
	err         error // returned by every call when set
	subs        map[int]chan deploy.Event
	nextSub     int
	logLines    []string
	reloadErr   error
	metrics     *metrics.Registry
	lastTraffic deploy.TrafficChange
}

func newFakeBackend() *fakeBackend {
	started := time.Date(2025, 6, 30, 10, 0, 0, 0, time.UTC)
	done := started.Add(14 * time.Second)
	b := &fakeBackend{
		apps: map[string]*deploy.AppStatus{
			"web": {Name: "web", Status: deploy.AppStable, ActiveColor: "blue", CurrentImage: "web:v1", DesiredImage: "web:v1",
				Ports:       deploy.Ports{Proxy: 8000, Blue: 18000, Green: 18001},
				Containers:  deploy.Containers{Blue: &deploy.Container{ID: "abc", Image: "web:v1", State: "running", Health: "healthy"}},
				Stats:       deploy.Stats{Deployments: 3, Completed: 2, RolledBack: 1, SuccessRate: 0.66, AvgDurationMS: 1200, P95DurationMS: 2000},
				Connections: map[deploy.Color]deploy.Connections{"blue": {HTTP: 3, WebSocket: 1}, "green": {}}},
			"api": {Name: "api", Status: deploy.AppDegraded, ActiveColor: "green", CurrentImage: "api:v7",
				Ports: deploy.Ports{Proxy: 8100, Blue: 18100, Green: 18101}},
		},
		deployments: map[int64]*deploy.Deployment{
			1: {DeploymentID: 1, App: "web", ToImage: "web:v1", Color: "blue", TriggerSource: deploy.TriggerConfig,
				Status: deploy.StatusCompleted, StartedAt: started, CompletedAt: &done, DurationMS: 14000,
				Phases: []deploy.Phase{{Name: string(deploy.StatusPulling), StartedAt: started, DurationMS: 1000}}},
		},
		nextID:   2,
		subs:     map[int]chan deploy.Event{},
		logLines: []string{"line one", "line two"},
		metrics:  fakeMetrics(),
	}
	return b
}

func (b *fakeBackend) app(name string) (*deploy.AppStatus, error) {
	if b.err != nil {
		return nil, b.err
	}
	a, ok := b.apps[name]
	if !ok {
		return nil, deploy.Errorf(deploy.ENOTFOUND, "app %q: not found", name)
	}
	return a, nil
}

func (b *fakeBackend) Deploy(ctx context.Context, app string, req deploy.Request) (deploy.Response, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, err := b.app(app)
	if err != nil {
		return deploy.Response{}, err
	}
	b.lastDeploy = req
	if req.DesiredImage == a.CurrentImage {
		return deploy.Response{DeploymentID: 1, Status: deploy.AnswerUnchanged}, nil
	}
	if req.DesiredImage == "" {
		req.DesiredImage = a.CurrentImage
	}
	id := b.nextID
	b.nextID++
	b.deployments[id] = &deploy.Deployment{DeploymentID: id, App: app, FromImage: a.CurrentImage, ToImage: req.DesiredImage,
		Color: "green", TriggerSource: req.TriggerSource, Status: deploy.StatusPulling, StartedAt: time.Now()}
	return deploy.Response{DeploymentID: id, Status: deploy.AnswerStarted}, nil
}

func (b *fakeBackend) Rollback(ctx context.Context, app string) (deploy.Response, error) {
	b.mu.Lock()
	if a, err := b.app(app); err == nil && a.Deployment != nil && verifying(a.Deployment.Status) {
		id := a.Deployment.DeploymentID
		b.mu.Unlock()
		return deploy.Response{DeploymentID: id, Status: deploy.AnswerRollingBack}, nil
	}
	b.mu.Unlock()
	return b.Deploy(ctx, app, deploy.Request{DesiredImage: "web:v0", TriggerSource: deploy.TriggerManual})
}

// Promote moves a deployment in canary or verifying on to draining.
func (b *fakeBackend) Promote(ctx context.Context, app string) (deploy.AppStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, err := b.app(app)
	if err != nil {
		return deploy.AppStatus{}, err
	}
	if a.Deployment == nil || !verifying(a.Deployment.Status) {
		return deploy.AppStatus{}, deploy.Errorf(deploy.ECONFLICT, "%s has no deployment in canary or verifying", app)
	}
	a.Deployment.Status = deploy.StatusDraining
	a.Deployment.Verification.Result = deploy.VerificationPromoted
	a.ActiveColor = a.Deployment.Color
	return *a, nil
}

// verifying reports whether a deployment in st may be promoted.
func verifying(st deploy.Status) bool {
	return st == deploy.StatusCanary || st == deploy.StatusVerifying
}

func (b *fakeBackend) Switch(ctx context.Context, app string, color deploy.Color) (deploy.AppStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, err := b.app(app)
	if err != nil {
		return deploy.AppStatus{}, err
	}
	if color == "green" && a.Containers.Green == nil {
		return deploy.AppStatus{}, deploy.Errorf(deploy.ECONFLICT, "switch %s to green: no green container", app)
	}
	a.ActiveColor = color
	return *a, nil
}

func (b *fakeBackend) Apps(ctx context.Context) ([]deploy.AppStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	out := []deploy.AppStatus{*b.apps["api"], *b.apps["web"]}
	return out, nil
}

func (b *fakeBackend) App(ctx context.Context, name string) (deploy.AppStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, err := b.app(name)
	if err != nil {
		return deploy.AppStatus{}, err
	}
	return *a, nil
}

func (b *fakeBackend) History(ctx context.Context, app string, limit, offset int) ([]deploy.Deployment, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.app(app); err != nil {
		return nil, err
	}
	b.lastLimit, b.lastOffset = limit, offset
	var out []deploy.Deployment
	for id := b.nextID - 1; id > 0; id-- {
		if d, ok := b.deployments[id]; ok && d.App == app {
			out = append(out, *d)
		}
	}
	return out, nil
}

func (b *fakeBackend) Deployment(ctx context.Context, id int64) (deploy.Deployment, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.deployments[id]
	if !ok {
		return deploy.Deployment{}, Errorf(http.StatusNotFound, "not_found", "no deployment %d", id)
	}
	return *d, nil
}

func (b *fakeBackend) WaitDeployment(ctx context.Context, id int64) (deploy.Deployment, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.deployments[id]
	if !ok {
		return deploy.Deployment{}, deploy.Errorf(deploy.ENOTFOUND, "deployment %d: not found", id)
	}
	// The fake's deployments finish as soon as someone waits for them.
	now := time.Now()
	d.Status, d.CompletedAt, d.DurationMS = deploy.StatusCompleted, &now, now.Sub(d.StartedAt).Milliseconds()
	return *d, nil
}

func (b *fakeBackend) Health(ctx context.Context, app string, limit int) (map[deploy.Color]deploy.ColorHealth, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.app(app); err != nil {
		return nil, err
	}
	b.lastLimit = limit
	at := time.Date(2025, 6, 30, 10, 0, 0, 0, time.UTC)
	return map[deploy.Color]deploy.ColorHealth{
		"blue":  {Healthy: true, LastCheck: &at, Checks: []deploy.HealthCheck{{At: at, Success: true, StatusCode: 200, ResponseTimeMS: 1.5}}},
		"green": {},
	}, nil
}

func (b *fakeBackend) Events(ctx context.Context, app string, afterID int64, limit int) ([]deploy.Event, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	b.lastLimit = limit
	var out []deploy.Event
	for i := afterID + 1; i <= 3 && len(out) < limit; i++ {
		out = append(out, deploy.Event{ID: i, App: "web", Type: deploy.EventConfigLoaded, Message: fmt.Sprintf("event %d", i)})
	}
	return out, nil
}

func (b *fakeBackend) Subscribe(ctx context.Context) (<-chan deploy.Event, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan deploy.Event, 16)
	id := b.nextSub
	b.nextSub++
	b.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			delete(b.subs, id)
		})
	}
}

// publish sends ev to every subscriber.
func (b *fakeBackend) publish(ev deploy.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		ch <- ev
	}
}

// subscribers returns how many subscriptions are open.
func (b *fakeBackend) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

func (b *fakeBackend) Reload(ctx context.Context) (deploy.ReloadResult, error) {
	if b.reloadErr != nil {
		return deploy.ReloadResult{}, b.reloadErr
	}
	return deploy.ReloadResult{Added: []string{"new"}, Unchanged: []string{"web"}}, nil
}

func (b *fakeBackend) Logs(ctx context.Context, app string, tail int, follow bool, w io.Writer) error {
	b.mu.Lock()
	_, err := b.app(app)
	lines := b.logLines
	b.mu.Unlock()
	if err != nil {
		return err
	}
	if tail > 0 && tail < len(lines) {
		lines = lines[len(lines)-tail:]
	}
	for _, l := range lines {
		if _, err := io.WriteString(w, l+"\n"); err != nil {
			return err
		}
	}
	if follow {
		<-ctx.Done()
	}
	return nil
}

func (b *fakeBackend) Overall(ctx context.Context) (deploy.Overall, error) {
	return deploy.Overall{Status: "healthy", Apps: map[string]deploy.State{"web": deploy.AppStable, "api": deploy.AppDegraded}}, nil
}

var _ Backend = (*fakeBackend)(nil)

// serve runs req against a new server over b and returns the recorded answer.
func serve(t *testing.T, b Backend, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	NewServer(b, nil).ServeHTTP(rec, req)
	return rec
}

func jsonRequest(method, target, body string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	req.Host = "127.0.0.1:7070"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, rec.Body.String(), err)
	}
	return v
}

func TestServer_Routes(t *testing.T) {
	t.Run("deploy started", func(t *testing.T) {
		b := newFakeBackend()
		rec := serve(t, b, jsonRequest("POST", "/api/apps/web/deploy", `{"desired_image":"web:v2","trigger_source":"s3dock"}`))
		if rec.Code != http.StatusAccepted {
			t.Fatalf("status %d, body %s", rec.Code, rec.Body)
		}
		resp := decode[deploy.Response](t, rec)
		if resp.Status != deploy.AnswerStarted || resp.DeploymentID != 2 {
			t.Fatalf("answer %+v", resp)
		}
		if b.lastDeploy.TriggerSource != deploy.TriggerS3dock || b.lastDeploy.DesiredImage != "web:v2" {
			t.Fatalf("backend got %+v", b.lastDeploy)
		}
	})
	t.Run("deploy empty body defaults trigger to api", func(t *testing.T) {
		b := newFakeBackend()
		req := jsonRequest("POST", "/api/apps/web/deploy", "")
		rec := serve(t, b, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("status %d, body %s", rec.Code, rec.Body)
		}
		if b.lastDeploy.TriggerSource != deploy.TriggerAPI || b.lastDeploy.DesiredImage != "" {
			t.Fatalf("backend got %+v", b.lastDeploy)
		}
	})
	t.Run("deploy unchanged is 200", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("POST", "/api/apps/web/deploy", `{"desired_image":"web:v1"}`))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d, body %s", rec.Code, rec.Body)
		}
		if resp := decode[deploy.Response](t, rec); resp.Status != deploy.AnswerUnchanged || resp.DeploymentID != 1 {
			t.Fatalf("answer %+v", resp)
		}
	})
	t.Run("deploy wait answers the final deployment", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("POST", "/api/apps/web/deploy?wait=true", `{"desired_image":"web:v2"}`))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d, body %s", rec.Code, rec.Body)
		}
		d := decode[deploy.Deployment](t, rec)
		if d.Status != deploy.StatusCompleted || d.DeploymentID != 2 || d.ToImage != "web:v2" || d.CompletedAt == nil {
			t.Fatalf("deployment %+v", d)
		}
	})
	t.Run("deploy wait unchanged answers the existing deployment", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("POST", "/api/apps/web/deploy?wait=1", `{"desired_image":"web:v1"}`))
		if d := decode[deploy.Deployment](t, rec); rec.Code != http.StatusOK || d.DeploymentID != 1 {
			t.Fatalf("status %d deployment %+v", rec.Code, d)
		}
	})
	t.Run("rollback", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("POST", "/api/apps/web/rollback", ""))
		if resp := decode[deploy.Response](t, rec); rec.Code != http.StatusAccepted || resp.Status != deploy.AnswerStarted {
			t.Fatalf("status %d answer %+v", rec.Code, resp)
		}
	})
	t.Run("rollback during canary", func(t *testing.T) {
		b := newFakeBackend()
		b.apps["web"].Deployment = &deploy.Deployment{DeploymentID: 7, App: "web", Color: "green", Status: deploy.StatusCanary}
		rec := serve(t, b, jsonRequest("POST", "/api/apps/web/rollback", ""))
		if rec.Code != http.StatusAccepted || strings.TrimSpace(rec.Body.String()) != `{"deployment_id":7,"status":"rolling_back"}` {
			t.Fatalf("status %d answer %s", rec.Code, rec.Body)
		}
	})
	t.Run("promote", func(t *testing.T) {
		b := newFakeBackend()
		b.apps["web"].Deployment = &deploy.Deployment{DeploymentID: 7, App: "web", Color: "green", Status: deploy.StatusVerifying,
			Verification: &deploy.Verification{Step: 100, Result: deploy.VerificationRunning}}
		rec := serve(t, b, jsonRequest("POST", "/api/apps/web/promote", ""))
		st := decode[deploy.AppStatus](t, rec)
		if rec.Code != http.StatusOK || st.Name != "web" || st.ActiveColor != "green" || st.Deployment.Verification.Result != deploy.VerificationPromoted {
			t.Fatalf("status %d answer %+v", rec.Code, st)
		}
	})
	t.Run("promote without a deployment in canary or verifying is 409", func(t *testing.T) {
		b := newFakeBackend()
		b.apps["web"].Deployment = &deploy.Deployment{DeploymentID: 7, App: "web", Color: "green", Status: deploy.StatusHealthChecking}
		for _, app := range []string{"web", "api"} {
			rec := serve(t, b, jsonRequest("POST", "/api/apps/"+app+"/promote", ""))
			if eb := decode[ErrorBody](t, rec); rec.Code != http.StatusConflict || eb.Error.Code != "conflict" {
				t.Fatalf("%s: status %d answer %+v", app, rec.Code, eb)
			}
		}
	})
	t.Run("promote of an unknown app is 404", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("POST", "/api/apps/nope/promote", ""))
		if rec.Code != http.StatusNotFound {
			t.Fatalf("status %d answer %s", rec.Code, rec.Body)
		}
	})
	t.Run("switch", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("POST", "/api/apps/web/switch", `{"color":"blue"}`))
		if st := decode[deploy.AppStatus](t, rec); rec.Code != http.StatusOK || st.ActiveColor != "blue" {
			t.Fatalf("status %d answer %+v", rec.Code, st)
		}
	})
	t.Run("apps", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("GET", "/api/apps", ""))
		apps := decode[[]deploy.AppStatus](t, rec)
		if rec.Code != http.StatusOK || len(apps) != 2 || apps[0].Name != "api" {
			t.Fatalf("status %d apps %+v", rec.Code, apps)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content type %q", ct)
		}
	})
	t.Run("app status", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("GET", "/api/apps/web/status", ""))
		if st := decode[deploy.AppStatus](t, rec); rec.Code != http.StatusOK || st.Ports.Proxy != 8000 {
			t.Fatalf("status %d answer %+v", rec.Code, st)
		}
	})
	t.Run("history passes limit and offset", func(t *testing.T) {
		b := newFakeBackend()
		rec := serve(t, b, jsonRequest("GET", "/api/apps/web/history?limit=5&offset=2", ""))
		ds := decode[[]deploy.Deployment](t, rec)
		if rec.Code != http.StatusOK || len(ds) != 1 || b.lastLimit != 5 || b.lastOffset != 2 {
			t.Fatalf("status %d limit %d offset %d answer %+v", rec.Code, b.lastLimit, b.lastOffset, ds)
		}
	})
	t.Run("history default limit", func(t *testing.T) {
		b := newFakeBackend()
		serve(t, b, jsonRequest("GET", "/api/apps/web/history", ""))
		if b.lastLimit != DefaultHistoryLimit {
			t.Fatalf("limit %d", b.lastLimit)
		}
	})
	t.Run("deployment", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("GET", "/api/deployments/1", ""))
		d := decode[deploy.Deployment](t, rec)
		if rec.Code != http.StatusOK || len(d.Phases) != 1 || d.Phases[0].Name != string(deploy.StatusPulling) {
			t.Fatalf("status %d answer %+v", rec.Code, d)
		}
	})
	t.Run("health", func(t *testing.T) {
		b := newFakeBackend()
		rec := serve(t, b, jsonRequest("GET", "/api/apps/web/health?limit=7", ""))
		h := decode[map[string]deploy.ColorHealth](t, rec)
		if rec.Code != http.StatusOK || !h["blue"].Healthy || b.lastLimit != 7 {
			t.Fatalf("status %d limit %d answer %+v", rec.Code, b.lastLimit, h)
		}
	})
	t.Run("events", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("GET", "/api/events?app=web&after_id=1&limit=10", ""))
		evs := decode[[]deploy.Event](t, rec)
		if rec.Code != http.StatusOK || len(evs) != 2 || evs[0].ID != 2 {
			t.Fatalf("status %d answer %+v", rec.Code, evs)
		}
	})
	t.Run("reload", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("POST", "/api/reload", ""))
		if r := decode[deploy.ReloadResult](t, rec); rec.Code != http.StatusOK || len(r.Added) != 1 {
			t.Fatalf("status %d answer %+v", rec.Code, r)
		}
	})
	t.Run("reload errors carry details", func(t *testing.T) {
		b := newFakeBackend()
		b.reloadErr = &Error{Status: http.StatusBadRequest, Code: "invalid_config", Message: "2 config errors",
			Details: []string{"web.yaml:1:1: name: required", "api.yaml:2:3: ports.proxy: required"}}
		rec := serve(t, b, jsonRequest("POST", "/api/reload", ""))
		eb := decode[ErrorBody](t, rec)
		if rec.Code != http.StatusBadRequest || eb.Error.Code != "invalid_config" || len(eb.Error.Details) != 2 {
			t.Fatalf("status %d answer %+v", rec.Code, eb)
		}
	})
	t.Run("overall health", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("GET", "/health", ""))
		if h := decode[deploy.Overall](t, rec); rec.Code != http.StatusOK || h.Status != "healthy" || h.Apps["web"] != deploy.AppStable {
			t.Fatalf("status %d answer %+v", rec.Code, h)
		}
	})
	t.Run("logs", func(t *testing.T) {
		b := newFakeBackend()
		b.logLines = []string{"a", "b", "c"}
		rec := serve(t, b, jsonRequest("GET", "/api/apps/web/logs?tail=2", ""))
		if rec.Code != http.StatusOK || rec.Body.String() != "b\nc\n" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
			t.Fatalf("status %d type %q body %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	})
	t.Run("logs of an unknown app is a JSON 404", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("GET", "/api/apps/nope/logs", ""))
		if eb := decode[ErrorBody](t, rec); rec.Code != http.StatusNotFound || eb.Error.Code != "not_found" {
			t.Fatalf("status %d answer %+v", rec.Code, eb)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("GET", "/metrics", ""))
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), scrape.TextContentType) {
			t.Fatalf("status %d type %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		if !strings.Contains(rec.Body.String(), `bluegreen_app_status{app="web",status="stable"} 1`) {
			t.Fatalf("metrics lack the web app status:\n%s", rec.Body)
		}
	})
}

func TestServer_Errors(t *testing.T) {
	big := `{"desired_image":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	tests := []struct {
		name   string
		req    func() *http.Request
		err    error // backend error, if any
		status int
		code   string
	}{
		{name: "foreign host", status: 403, code: "forbidden", req: func() *http.Request {
			r := jsonRequest("GET", "/api/apps", "")
			r.Host = "evil.example.com"
			return r
		}},
		{name: "foreign host with port", status: 403, code: "forbidden", req: func() *http.Request {
			r := jsonRequest("GET", "/api/apps", "")
			r.Host = "rebind.attacker.test:7070"
			return r
		}},
		{name: "body too large", status: 413, code: "too_large", req: func() *http.Request {
			return jsonRequest("POST", "/api/apps/web/deploy", big)
		}},
		{name: "body not json", status: 415, code: "unsupported_media_type", req: func() *http.Request {
			r := jsonRequest("POST", "/api/apps/web/deploy", `desired_image=web:v2`)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}},
		{name: "body without content type", status: 415, code: "unsupported_media_type", req: func() *http.Request {
			r := jsonRequest("POST", "/api/reload", `{}`)
			r.Header.Del("Content-Type")
			return r
		}},
		{name: "bad json", status: 400, code: "invalid", req: func() *http.Request {
			return jsonRequest("POST", "/api/apps/web/deploy", `{"desired_image":`)
		}},
		{name: "unknown field", status: 400, code: "invalid", req: func() *http.Request {
			return jsonRequest("POST", "/api/apps/web/deploy", `{"image":"web:v2"}`)
		}},
		{name: "unknown trigger source", status: 400, code: "invalid", req: func() *http.Request {
			return jsonRequest("POST", "/api/apps/web/deploy", `{"desired_image":"web:v2","trigger_source":"cron"}`)
		}},
		{name: "bad color", status: 400, code: "invalid", req: func() *http.Request {
			return jsonRequest("POST", "/api/apps/web/switch", `{"color":"red"}`)
		}},
		{name: "bad limit", status: 400, code: "invalid", req: func() *http.Request {
			return jsonRequest("GET", "/api/apps/web/history?limit=-1", "")
		}},
		{name: "bad wait", status: 400, code: "invalid", req: func() *http.Request {
			return jsonRequest("POST", "/api/apps/web/deploy?wait=soon", "")
		}},
		{name: "bad deployment id", status: 400, code: "invalid", req: func() *http.Request {
			return jsonRequest("GET", "/api/deployments/abc", "")
		}},
		{name: "unknown app", status: 404, code: "not_found", req: func() *http.Request {
			return jsonRequest("GET", "/api/apps/nope/status", "")
		}},
		{name: "unknown deployment from *Error", status: 404, code: "not_found", req: func() *http.Request {
			return jsonRequest("GET", "/api/deployments/99", "")
		}},
		{name: "switch conflict", status: 409, code: "conflict", req: func() *http.Request {
			return jsonRequest("POST", "/api/apps/web/switch", `{"color":"green"}`)
		}},
		{name: "docker unavailable", status: 503, code: "docker_unavailable",
			err: fmt.Errorf("list containers: %w", deploy.Errorf(deploy.EDOCKERUNAVAILABLE, "cannot reach Docker")),
			req: func() *http.Request { return jsonRequest("GET", "/api/apps", "") }},
		{name: "invalid code", status: 400, code: "invalid",
			err: fmt.Errorf("deploy: %w", deploy.Errorf(deploy.EINVALID, "bad image")),
			req: func() *http.Request { return jsonRequest("GET", "/api/apps", "") }},
		{name: "anything else", status: 500, code: "internal",
			err: errors.New("disk on fire"),
			req: func() *http.Request { return jsonRequest("GET", "/api/apps", "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBackend()
			b.err = tt.err
			rec := serve(t, b, tt.req())
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			eb := decode[ErrorBody](t, rec)
			if eb.Error.Code != tt.code || eb.Error.Message == "" {
				t.Fatalf("error body %+v, want code %q and a message", eb, tt.code)
			}
		})
	}
	t.Run("loopback hosts are accepted", func(t *testing.T) {
		for _, host := range []string{"127.0.0.1:7070", "localhost:7070", "LOCALHOST", "[::1]:7070", "127.1.2.3", "api.localhost", ""} {
			r := jsonRequest("GET", "/api/apps", "")
			r.Host = host
			if rec := serve(t, newFakeBackend(), r); rec.Code != http.StatusOK {
				t.Errorf("host %q: status %d", host, rec.Code)
			}
		}
	})
	t.Run("not found message names the app", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("GET", "/api/apps/nope/status", ""))
		if eb := decode[ErrorBody](t, rec); !strings.Contains(eb.Error.Message, `"nope"`) {
			t.Fatalf("message %q", eb.Error.Message)
		}
	})
}

func TestServer_EventStream(t *testing.T) {
	b := newFakeBackend()
	srv := httptest.NewServer(NewServer(b, nil))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)

	c := NewClient(strings.TrimPrefix(srv.URL, "http://"))
	events, errc, err := c.StreamEvents(ctx, "web")
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	// The server subscribes before the handshake ends: publishing now is seen.
	if n := b.subscribers(); n != 1 {
		t.Fatalf("subscribers after dial: %d", n)
	}
	id := int64(5)
	b.publish(deploy.Event{ID: 1, App: "api", Type: deploy.EventConfigLoaded})
	b.publish(deploy.Event{ID: 2, App: "web", Type: deploy.EventDeploymentStarted, DeploymentID: &id, Data: json.RawMessage(`{"status":"pulling"}`)})
	select {
	case ev := <-events:
		if ev.ID != 2 || ev.App != "web" || *ev.DeploymentID != 5 || string(ev.Data) != `{"status":"pulling"}` {
			t.Fatalf("event %+v", ev)
		}
	case err := <-errc:
		t.Fatalf("stream ended: %v", err)
	case <-ctx.Done():
		t.Fatal("no event within the deadline")
	}
	cancel()
	// Closing the client ends the server's subscription.
	deadline := time.Now().Add(5 * time.Second)
	for b.subscribers() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("server kept the subscription after the client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServer_LogsFollow(t *testing.T) {
	b := newFakeBackend()
	srv := httptest.NewServer(NewServer(b, nil))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c := NewClient(strings.TrimPrefix(srv.URL, "http://"))
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- c.Logs(ctx, "web", 0, true, pw); pw.Close() }()
	// The lines arrive while the request is still open (flushed, not buffered).
	buf := make([]byte, len("line one\nline two\n"))
	if _, err := io.ReadFull(pr, buf); err != nil {
		t.Fatalf("read followed logs: %v", err)
	}
	if string(buf) != "line one\nline two\n" {
		t.Fatalf("logs %q", buf)
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("logs after cancel: %v", err)
	}
}
