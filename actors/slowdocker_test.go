package actors

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// slowDocker is a Docker that works through container creates, starts,
// stops and removals one at a time, each after pace, as a loaded daemon
// does: a unix socket whose HTTP requests are forwarded to the real
// daemon, the container work among them let through one per pace, in the
// order it came. Reads (inspect, list, events, logs) go through at once.
type slowDocker struct {
	path string
	pace time.Duration

	mu      sync.Mutex // held while one piece of container work waits for its pace
	counted sync.Mutex
	work    int // container work let through
	waiting int // container work waiting for its turn
	most    int // the most that waited at once
}

// containerWork matches the Engine API's container creates, starts, stops
// and removals (DELETE), with or without a version prefix.
var containerWork = regexp.MustCompile(`^(/v[0-9.]+)?/containers/(create|[^/]+/(start|stop|restart)|[^/]+)$`)

func newSlowDocker(t *testing.T, pace time.Duration) *slowDocker {
	t.Helper()
	daemon := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		path, ok := strings.CutPrefix(h, "unix://")
		if !ok {
			t.Skipf("the slow Docker relays a unix socket: DOCKER_HOST is %q", h)
		}
		daemon = path
	}
	s := &slowDocker{path: filepath.Join(t.TempDir(), "docker.sock"), pace: pace}
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "docker"})
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", daemon)
		}},
		FlushInterval: -1,                         // the event stream and logs as they come
		ErrorLog:      log.New(io.Discard, "", 0), // a call that bluegreen gave up on is no news
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isContainerWork(r) {
			s.wait(r.Context())
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func isContainerWork(r *http.Request) bool {
	m := containerWork.FindStringSubmatch(r.URL.Path)
	switch {
	case m == nil:
		return false
	case r.Method == http.MethodDelete:
		return m[2] != "create" && m[3] == ""
	}
	return r.Method == http.MethodPost && (m[2] == "create" || m[3] != "")
}

// wait lets one piece of container work through per pace.
func (s *slowDocker) wait(ctx context.Context) {
	s.counted.Lock()
	s.waiting++
	s.most = max(s.most, s.waiting)
	s.counted.Unlock()
	s.mu.Lock()
	select {
	case <-time.After(s.pace):
	case <-ctx.Done():
	}
	s.mu.Unlock()
	s.counted.Lock()
	s.waiting--
	s.work++
	s.counted.Unlock()
}

func (s *slowDocker) host() string { return "unix://" + s.path }

func (s *slowDocker) counts() (work, most int) {
	s.counted.Lock()
	defer s.counted.Unlock()
	return s.work, s.most
}

// TestSystem_SlowDockerFirstStarts starts a dozen apps at once, as after a
// reboot, against a Docker that works through container work one piece at
// a time, 250 ms each, with a startup_timeout of 5 s: all their creates and
// starts take Docker about 9 s. Docker's queue gives each start its time
// from its turn, and a first start that failed all the same is deployed
// again: every app ends stable (docs/faults.md, "A first start that meets a
// slow or absent Docker").
func TestSystem_SlowDockerFirstStarts(t *testing.T) {
	buildImages(t)
	slow := newSlowDocker(t, 250*time.Millisecond)
	t.Setenv("DOCKER_HOST", slow.host())
	rt, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: t.TempDir(), db: filepath.Join(t.TempDir(), "bg.db"), rt: rt}
	var apps []testApp
	for i := range 12 {
		app := newTestApp(t, imgV1)
		app.name = fmt.Sprintf("%s-%02d", app.name, i)
		testimage.Cleanup(t, app.name)
		yaml := strings.Replace(app.yaml(), "startup_timeout: 10s", "startup_timeout: 5s", 1)
		if !strings.Contains(yaml, "startup_timeout: 5s") {
			t.Fatal("the test app's config has no startup_timeout of 10s to shorten")
		}
		if err := os.WriteFile(filepath.Join(h.dir, app.name+".yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		apps = append(apps, app)
	}
	start := time.Now()
	h.start()
	for _, app := range apps {
		h.waitStable(app.name, imgV1, 3*time.Minute)
	}
	stable := time.Since(start)
	failed, retried := 0, 0
	for _, app := range apps {
		hist, err := h.sys.History(context.Background(), app.name, 100, 0)
		if err != nil || len(hist) == 0 || hist[0].Status != deploy.StatusCompleted || hist[0].TriggerSource != deploy.TriggerConfig {
			t.Fatalf("history of %s: %+v, %v", app.name, hist, err)
		}
		for _, d := range hist[1:] {
			if d.Status != deploy.StatusFailed {
				t.Errorf("%s: a deployment before the one that serves %s, not failed: %+v", app.name, d.Status, d)
			}
			failed++
		}
		evs, err := h.sys.Events(context.Background(), app.name, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == deploy.EventDeploymentRetryScheduled {
				retried++
			}
		}
		if got, err := body(http.DefaultClient, app.url("/")); err != nil || got != "v1" {
			t.Errorf("%s answered %q, %v", app.name, got, err)
		}
	}
	if retried != failed {
		t.Errorf("%d first starts failed, %d retries scheduled", failed, retried)
	}
	work, most := slow.counts()
	t.Logf("12 apps stable %s after the start; %d first starts failed and were retried; Docker did %d pieces of container work, at most %d waiting at once",
		stable.Round(100*time.Millisecond), failed, work, most)
}
