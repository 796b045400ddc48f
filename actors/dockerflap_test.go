package actors

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// socketRelay forwards a unix socket to the real Docker socket and can be
// switched off and on, so a test can take "the daemon" away and bring it back.
type socketRelay struct {
	path string
	mu   sync.Mutex
	ln   net.Listener
	open []net.Conn
}

func newSocketRelay(t *testing.T) *socketRelay {
	t.Helper()
	r := &socketRelay{path: filepath.Join(t.TempDir(), "docker.sock")}
	r.on(t)
	t.Cleanup(r.off)
	return r
}

func (r *socketRelay) on(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("unix", r.path)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", "/var/run/docker.sock")
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.open = append(r.open, c, up)
			r.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// off closes the socket and every relayed connection: Docker is "down".
func (r *socketRelay) off() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for _, c := range r.open {
		c.Close()
	}
	r.open = nil
}

// TestSystem_DockerGoesAwayAndComesBack takes the Docker API away from a
// running supervisor: the app keeps serving, turns degraded with the reason,
// deploys answer 503; when Docker answers again the app is stable and deploys.
func TestSystem_DockerGoesAwayAndComesBack(t *testing.T) {
	buildImages(t)
	relay := newSocketRelay(t)
	t.Setenv("DOCKER_HOST", "unix://"+relay.path)
	rt, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	app := newTestApp(t, imgV1)
	h := &harness{t: t, dir: t.TempDir(), db: filepath.Join(t.TempDir(), "bg.db"), rt: rt}
	h.writeApp(app)
	h.start()
	h.waitStable(app.name, imgV1, 60*time.Second)

	relay.off()
	var st deploy.AppStatus
	eventually(t, 15*time.Second, func() bool {
		st = h.status(app.name)
		return st.Status == deploy.AppDegraded && strings.Contains(st.Error, "Docker unreachable")
	}, func() string { return "status " + string(st.Status) + ": " + st.Error })
	if got, err := body(http.DefaultClient, app.url("/")); err != nil || got != "v1" {
		t.Fatalf("with Docker away the app must keep serving: %q, %v", got, err)
	}
	var e api.ErrorBody
	if code := h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: imgV2}, &e); code != http.StatusServiceUnavailable {
		t.Fatalf("deploy with Docker away: %d %+v", code, e)
	}

	relay.on(t)
	h.waitStable(app.name, imgV1, 15*time.Second)
	if d := h.deploy(app.name, imgV2, deploy.TriggerAPI); d.Status != deploy.StatusCompleted {
		t.Fatalf("deploy after Docker came back: %+v", d)
	}
	hist, err := h.sys.History(context.Background(), app.name, 10, 0)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history = %+v, %v: the refused request must leave no deployment", hist, err)
	}
}

// TestSystem_DockerRestartStoppedTheContainers takes the Docker API away
// and stops the active container meanwhile, as a restart of dockerd without
// live-restore does: once Docker answers again the app resyncs by itself
// (no restart of the supervisor) and starts its active container again.
func TestSystem_DockerRestartStoppedTheContainers(t *testing.T) {
	buildImages(t)
	relay := newSocketRelay(t)
	t.Setenv("DOCKER_HOST", "unix://"+relay.path)
	rt, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	app := newTestApp(t, imgV1)
	h := &harness{t: t, dir: t.TempDir(), db: filepath.Join(t.TempDir(), "bg.db"), rt: rt}
	h.writeApp(app)
	h.start()
	st := h.waitStable(app.name, imgV1, 60*time.Second)

	relay.off()
	// Not through the relay: the daemon itself stops it, unseen.
	stop := exec.Command("docker", "stop", "-t", "1", app.name+"-"+string(st.ActiveColor))
	stop.Env = append(os.Environ(), "DOCKER_HOST=unix:///var/run/docker.sock")
	if out, err := stop.CombinedOutput(); err != nil {
		t.Fatalf("docker stop: %v %s", err, out)
	}
	relay.on(t)
	back := time.Now()
	eventually(t, 15*time.Second, func() bool {
		return dockerInspect(t, app.name+"-"+string(st.ActiveColor), "{{.State.Running}}") == "true"
	}, func() string { return "the active container was not started again" })
	resynced := time.Since(back)
	h.waitStable(app.name, imgV1, 15*time.Second)
	t.Logf("the active container ran again %s after Docker answered again (target: within 5s)", resynced.Round(time.Millisecond))
	if resynced > 5*time.Second {
		t.Errorf("resynced after %s, want within 5s", resynced)
	}
	if got, err := body(http.DefaultClient, app.url("/")); err != nil || got != "v1" {
		t.Fatalf("after the resync the app answered %q, %v", got, err)
	}
}
