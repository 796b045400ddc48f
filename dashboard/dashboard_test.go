package dashboard_test

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/dashboard"
	"github.com/bluegreen/bluegreen/deploy"
)

// maxPageBytes is the page's budget: the page and all its assets.
const maxPageBytes = 150 << 10

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.Host = "127.0.0.1:7070"
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assetURLs returns the /ui/ URLs the page links to.
func assetURLs(t *testing.T, page string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?:href|src)="(/ui/[^"]+)"`).FindAllStringSubmatch(page, -1)
	var out []string
	for _, x := range m {
		out = append(out, x[1])
	}
	if len(out) != 3 {
		t.Fatalf("page links %d assets, want icon, style and script: %q", len(out), out)
	}
	return out
}

func TestHandler_ServesPageAndAssets(t *testing.T) {
	h := api.NewServer(&recordingBackend{t: t}, nil)
	resp := get(t, h, http.MethodGet, "/", nil)
	page := body(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(page, "<title>bluegreen</title>") || strings.Contains(page, "{{v}}") {
		t.Fatalf("GET /: unexpected page:\n%s", page)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("page Cache-Control = %q, want no-cache (a new binary serves a new page)", cc)
	}
	if regexp.MustCompile(`(?i)(https?:)?//[a-z0-9]`).MatchString(strings.ReplaceAll(page, "http://www.w3.org/2000/svg", "")) {
		t.Errorf("page names an external URL:\n%s", page)
	}
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
	total := len(page)
	for _, u := range assetURLs(t, page) {
		resp := get(t, h, http.MethodGet, u, nil)
		b := body(t, resp)
		total += len(b)
		unversioned, _, _ := strings.Cut(u, "?")
		ext := path.Ext(unversioned)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != types[ext] {
			t.Errorf("GET %s: %d %q, want 200 %q", u, resp.StatusCode, resp.Header.Get("Content-Type"), types[ext])
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q: a versioned asset is immutable", u, cc)
		}
		if resp.Header.Get("ETag") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", u, resp.Header)
		}
		// Without the current version it must be revalidated.
		if cc := get(t, h, http.MethodGet, unversioned, nil).Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", unversioned, cc)
		}
		if cc := get(t, h, http.MethodGet, unversioned+"?v=old", nil).Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s?v=old: Cache-Control %q, want no-cache", unversioned, cc)
		}
	}
	if total != dashboard.Size() {
		t.Errorf("served %d bytes, Size says %d", total, dashboard.Size())
	}
	if total > maxPageBytes {
		t.Errorf("page and assets are %d bytes, over the %d budget", total, maxPageBytes)
	}
	t.Logf("page and assets: %.1f KiB", float64(total)/1024)
}

func TestHandler_SecurityHeaders(t *testing.T) {
	h := api.NewServer(&recordingBackend{t: t}, nil)
	for _, u := range []string{"/", "/ui/app.js", "/ui/app.css"} {
		resp := get(t, h, http.MethodGet, u, map[string]string{"Host": "localhost:7070"})
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'",
			"connect-src 'self' ws://localhost:7070 wss://localhost:7070", "frame-ancestors 'none'", "form-action 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", u, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") || strings.Contains(csp, "http:") {
			t.Errorf("GET %s: CSP %q allows more than the page's own origin", u, csp)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			"Referrer-Policy": "no-referrer", "Cross-Origin-Opener-Policy": "same-origin"} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", u, k, got, v)
			}
		}
	}
	// A Host that could not be written into the policy safely is left out.
	resp := get(t, dashboard.Handler(), http.MethodGet, "/", map[string]string{"Host": "a b;script-src *"})
	if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "a b") || strings.Count(csp, "script-src") != 1 {
		t.Errorf("CSP with a hostile Host: %q", csp)
	}
}

func TestHandler_ForeignHost(t *testing.T) {
	b := &recordingBackend{t: t}
	h := api.NewServer(b, nil)
	for _, u := range []string{"/", "/ui/app.js", "/ui/app.css", "/ui/icon.svg"} {
		for _, host := range []string{"evil.example", "evil.example:7070", "192.168.1.10:7070", "127.0.0.1.nip.io"} {
			resp := get(t, h, http.MethodGet, u, map[string]string{"Host": host})
			if b := body(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(b, `"forbidden"`) {
				t.Errorf("GET %s with Host %s: %d %s, want 403", u, host, resp.StatusCode, b)
			}
		}
	}
	for _, host := range []string{"127.0.0.1:7070", "localhost:7070", "[::1]:7070", "localhost"} {
		if resp := get(t, h, http.MethodGet, "/", map[string]string{"Host": host}); resp.StatusCode != http.StatusOK {
			t.Errorf("GET / with Host %s: %d, want 200", host, resp.StatusCode)
		}
	}
}

func TestHandler_GETChangesNothing(t *testing.T) {
	b := &recordingBackend{t: t}
	h := api.NewServer(b, nil)
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		for _, u := range []string{"/", "/?deploy=1", "/ui/app.js", "/ui/app.css", "/ui/icon.svg", "/ui/nope.js", "/ui/", "/index.html"} {
			get(t, h, m, u, nil)
		}
	}
	if calls := b.calls(); len(calls) != 0 {
		t.Fatalf("serving the page called the backend: %v", calls)
	}
	// The page and its assets take no other method.
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, u := range []string{"/", "/ui/app.js"} {
			if resp := get(t, h, m, u, map[string]string{"Content-Type": "application/json"}); resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d, want 405", m, u, resp.StatusCode)
			}
		}
	}
	if resp := get(t, dashboard.Handler(), http.MethodPost, "/", nil); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / to the bare handler: %d %v", resp.StatusCode, resp.Header)
	}
	if calls := b.calls(); len(calls) != 0 {
		t.Fatalf("other methods on the page called the backend: %v", calls)
	}
	// Unknown assets and paths are 404, not the page.
	for _, u := range []string{"/ui/nope.js", "/ui/", "/ui/assets/app.js", "/ui/app.js/", "/index.html", "/assets/app.js"} {
		if resp := get(t, h, http.MethodGet, u, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", u, resp.StatusCode)
		}
	}
	if resp := get(t, h, http.MethodGet, "/ui/../go.mod", nil); resp.StatusCode == http.StatusOK {
		t.Errorf("GET /ui/../go.mod: 200")
	}
}

// A page on another origin cannot make the operator's browser act: a form or
// fetch POST is refused before it reaches the backend. Non-browser clients
// (ctl, s3dock, curl) and the dashboard itself are unaffected.
func TestHandler_CrossOriginActionsRefused(t *testing.T) {
	b := &recordingBackend{t: t}
	h := api.NewServer(b, nil)
	post := func(path, ctype, bodyText string, hdr map[string]string) *http.Response {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(bodyText))
		req.Host = "127.0.0.1:7070"
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	foreign := []map[string]string{
		{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
		{"Origin": "http://localhost:8000", "Sec-Fetch-Site": "same-site"},
		{"Origin": "https://evil.example"}, // an older browser
	}
	for _, hdr := range foreign {
		for _, tc := range []struct{ path, ctype, body string }{
			{"/api/apps/web/rollback", "application/x-www-form-urlencoded", ""},
			{"/api/apps/web/deploy", "", ""},
			{"/api/apps/web/deploy", "text/plain", `{"desired_image":"evil:1"}`},
			{"/api/apps/web/switch", "application/json", `{"color":"green"}`},
			{"/api/apps/web/pause", "text/plain", `{"max_wait":"10m"}`},
			{"/api/apps/web/maintenance", "application/json", `{"message":"owned"}`},
			{"/api/apps/web/resume", "", ""},
			{"/api/reload", "", ""},
		} {
			if resp := post(tc.path, tc.ctype, tc.body, hdr); resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s (%s) from %v: %d, want 403", tc.path, tc.ctype, hdr, resp.StatusCode)
			}
		}
	}
	if calls := b.calls(); len(calls) != 0 {
		t.Fatalf("cross-origin posts reached the backend: %v", calls)
	}
	// The dashboard's own POST (same origin) and a non-browser client pass.
	own := map[string]string{"Origin": "http://127.0.0.1:7070", "Sec-Fetch-Site": "same-origin"}
	if resp := post("/api/apps/web/rollback", "application/json", "{}", own); resp.StatusCode != http.StatusAccepted {
		t.Errorf("same-origin rollback: %d", resp.StatusCode)
	}
	if resp := post("/api/apps/web/rollback", "", "", nil); resp.StatusCode != http.StatusAccepted {
		t.Errorf("non-browser rollback: %d", resp.StatusCode)
	}
	if got := b.calls(); strings.Join(got, ",") != "Rollback,Rollback" {
		t.Fatalf("backend calls = %v", got)
	}
}

func TestHandler_Gzip(t *testing.T) {
	h := dashboard.Handler()
	plain := body(t, get(t, h, http.MethodGet, "/ui/app.js", nil))
	resp := get(t, h, http.MethodGet, "/ui/app.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip not used: %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || string(unzipped) != plain {
		t.Fatalf("gzip body differs from the plain one (%v)", err)
	}
	etag := resp.Header.Get("ETag")
	if etag == get(t, h, http.MethodGet, "/ui/app.js", nil).Header.Get("ETag") {
		t.Errorf("gzip and plain bodies share the ETag %s", etag)
	}
	if resp := get(t, h, http.MethodGet, "/ui/app.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got gzip")
	}
	// Revalidation answers 304 without a body.
	resp = get(t, h, http.MethodGet, "/ui/app.js", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
}

// The script never turns text into markup: no HTML sinks, no eval.
func TestScript_NoHTMLSinks(t *testing.T) {
	js := body(t, get(t, dashboard.Handler(), http.MethodGet, "/ui/app.js", nil))
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
		"setTimeout('", `setTimeout("`, "createContextualFragment", "DOMParser", ".srcdoc", "javascript:"} {
		if strings.Contains(js, sink) {
			t.Errorf("app.js uses %s", sink)
		}
	}
	page := body(t, get(t, dashboard.Handler(), http.MethodGet, "/", nil))
	if regexp.MustCompile(`<script>|<style>| on[a-z]+=| style=`).MatchString(page) {
		t.Errorf("index.html has inline script, style or handlers (the CSP forbids them)")
	}
}

// recordingBackend is an api.Backend that records every call and answers
// with small fixed values.
type recordingBackend struct {
	t   *testing.T
	mu  sync.Mutex
	log []string
}

func (b *recordingBackend) rec(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.log = append(b.log, name)
}

func (b *recordingBackend) calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.log...)
}

var _ api.Backend = (*recordingBackend)(nil)

func (b *recordingBackend) Deploy(ctx context.Context, app string, req deploy.Request) (deploy.Response, error) {
	b.rec("Deploy")
	return deploy.Response{DeploymentID: 2, Status: deploy.AnswerStarted}, nil
}
func (b *recordingBackend) Rollback(ctx context.Context, app string) (deploy.Response, error) {
	b.rec("Rollback")
	return deploy.Response{DeploymentID: 3, Status: deploy.AnswerStarted}, nil
}
func (b *recordingBackend) Switch(ctx context.Context, app string, color deploy.Color) (deploy.AppStatus, error) {
	b.rec("Switch")
	return deploy.AppStatus{Name: app, ActiveColor: color}, nil
}
func (b *recordingBackend) Promote(ctx context.Context, app string) (deploy.AppStatus, error) {
	b.rec("Promote")
	return deploy.AppStatus{Name: app}, nil
}
func (b *recordingBackend) SetTraffic(ctx context.Context, app string, change deploy.TrafficChange) (deploy.AppStatus, error) {
	b.rec("SetTraffic")
	return deploy.AppStatus{Name: app, Traffic: change.State(time.Now()).Status(0)}, nil
}
func (b *recordingBackend) Apps(ctx context.Context) ([]deploy.AppStatus, error) {
	b.rec("Apps")
	return nil, nil
}
func (b *recordingBackend) App(ctx context.Context, name string) (deploy.AppStatus, error) {
	b.rec("App")
	return deploy.AppStatus{Name: name}, nil
}
func (b *recordingBackend) History(ctx context.Context, app string, limit, offset int) ([]deploy.Deployment, error) {
	b.rec("History")
	return nil, nil
}
func (b *recordingBackend) Deployment(ctx context.Context, id int64) (deploy.Deployment, error) {
	b.rec("Deployment")
	return deploy.Deployment{DeploymentID: id}, nil
}
func (b *recordingBackend) WaitDeployment(ctx context.Context, id int64) (deploy.Deployment, error) {
	b.rec("WaitDeployment")
	return deploy.Deployment{DeploymentID: id}, nil
}
func (b *recordingBackend) Health(ctx context.Context, app string, limit int) (map[deploy.Color]deploy.ColorHealth, error) {
	b.rec("Health")
	return nil, nil
}
func (b *recordingBackend) Events(ctx context.Context, app string, afterID int64, limit int) ([]deploy.Event, error) {
	b.rec("Events")
	return nil, nil
}
func (b *recordingBackend) Subscribe(ctx context.Context) (<-chan deploy.Event, func()) {
	b.rec("Subscribe")
	ch := make(chan deploy.Event)
	return ch, func() {}
}
func (b *recordingBackend) Reload(ctx context.Context) (deploy.ReloadResult, error) {
	b.rec("Reload")
	return deploy.ReloadResult{}, nil
}
func (b *recordingBackend) Logs(ctx context.Context, app string, tail int, follow bool, w io.Writer) error {
	b.rec("Logs")
	return nil
}
func (b *recordingBackend) Overall(ctx context.Context) (deploy.Overall, error) {
	b.rec("Overall")
	return deploy.Overall{Status: "healthy"}, nil
}
func (b *recordingBackend) Images(ctx context.Context, app string) ([]deploy.Image, error) {
	b.rec("Images")
	return nil, nil
}
func (b *recordingBackend) Metrics() prometheus.Gatherer {
	b.rec("Metrics")
	return prometheus.NewRegistry()
}
