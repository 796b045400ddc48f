package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
	"github.com/bluegreen/bluegreen/store"
)

// TestCrash_Kill9InEachPhase kills serve with SIGKILL while a deployment of
// v2 over v1 is in each phase, then starts it again: the proxy answers
// within a second of the start, on the version that served at the crash; no
// container is recreated; never more than one container per color; a
// deployment that had not switched ends interrupted with its candidate
// removed, one that had switched keeps v2, its old color is stopped and it
// ends completed.
//
// The switching phase lasts a few store writes, too short to hit with a
// signal: it is reproduced by a crash in draining whose store is rewritten
// to what a crash right after the durable switch leaves (the deployment
// still switching, the app's active color already the new one).
func TestCrash_Kill9InEachPhase(t *testing.T) {
	images(t)
	reg := newHeldRegistry(t)
	for _, phase := range []string{"pulling", "starting", "health_checking", "switching", "draining", "stopping"} {
		t.Run(phase, func(t *testing.T) { crashIn(t, reg, phase) })
	}
}

func crashIn(t *testing.T, reg *heldRegistry, phase string) {
	a := newApp(t, imgV1)
	target := imgV2
	switched := phase == "switching" || phase == "draining" || phase == "stopping"
	var release func()
	switch phase {
	case "pulling":
		a.image, target = reg.push(t, imgV1, a.name+":v1"), reg.push(t, imgV2, a.name+":v2")
		a.pullPolicy = "always"
	case "health_checking":
		target = imgSick
		a.healthTimeout = "60s"
	case "switching", "draining":
		a.drain = "60s"
	case "stopping":
		a.drain, a.stopWait = "1s", "30s"
	}
	s := newServe(t, "", a)
	s.start()
	st := s.stable(a, a.image, 60*time.Second)
	oldColor, newColor := st.ActiveColor, st.ActiveColor.Other()
	oldID := st.Containers.Of(oldColor).ID

	// What holds the deployment in the phase.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := func(url string) {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	switch phase {
	case "pulling":
		release = reg.hold(a.name + ":v2")
		defer release()
	case "switching", "draining":
		slow(a.url("/slow?d=60s")) // in flight on the old color: the drain waits for it
	case "stopping":
		slow(fmt.Sprintf("http://127.0.0.1:%d/slow?d=60s", a.blue)) // docker stop waits for it
	}
	if phase == "switching" || phase == "draining" {
		waitFor(t, 10*time.Second, "the slow request in flight", func() (bool, string) {
			st, err := s.status(a.name)
			return err == nil && st.Connections[oldColor].HTTP == 1, fmt.Sprint(st.Connections, err)
		})
	}
	id := s.deploy(a, target)
	want := phase
	if phase == "switching" {
		want = "draining"
	}
	var candidate string
	var d deploy.Deployment
	waitFor(t, 60*time.Second, "deployment "+fmt.Sprint(id)+" in "+want, func() (bool, string) {
		var err error
		d, err = s.deployment(id)
		if n := len(d.Phases); err == nil && n > 0 {
			return d.Phases[n-1].Name == want, d.Phases[n-1].Name
		}
		return false, fmt.Sprint(err)
	})
	if switched {
		if st, err := s.status(a.name); err == nil && st.Containers.Of(newColor) != nil {
			candidate = st.Containers.Of(newColor).ID
		}
	}
	s.kill9()
	cancel() // the requests holding the phase end with the process (or now)

	// What the crash left in the store.
	db := filepath.Join(s.dir, "bluegreen.db")
	crashed := readDeployment(t, db, id)
	if phase == "switching" {
		crashed.Status = deploy.StatusSwitching
		i := slices.IndexFunc(crashed.Phases, func(p deploy.Phase) bool { return p.Name == "draining" })
		crashed.Phases = crashed.Phases[:i]
		writeDeployment(t, db, crashed)
	}
	at := crashed.Phases[len(crashed.Phases)-1].Name
	if at != want && phase != "switching" {
		t.Fatalf("the kill landed in %s, not %s", at, want)
	}

	started := s.start()
	wantBody := "v1"
	if switched {
		wantBody = "v2"
	}
	var first time.Duration
	waitFor(t, 10*time.Second, "the first answer after the restart", func() (bool, string) {
		code, body, err := get(a.url("/"))
		if err == nil && code == 200 {
			first = time.Since(started)
			if body != wantBody {
				t.Fatalf("after the restart the proxy answered %q, want %q (the version serving at the crash)", body, wantBody)
			}
			return true, ""
		}
		return false, fmt.Sprint(code, err)
	})
	if release != nil {
		release()
	}
	t.Logf("kill -9 in %s: restart to first answer %s (%s)", phase, first.Round(time.Millisecond), wantBody)
	// Restart to first answer is a target measured and reported (here and by
	// cmd/upgradebench), not a wall-clock assertion a loaded machine breaks.

	end := s.ended(id, 60*time.Second)
	cs := containers(t, a.name)
	perColor := map[string]int{}
	for name := range cs {
		perColor[name[strings.LastIndex(name, "-")+1:]]++
	}
	for color, n := range perColor {
		if n > 1 {
			t.Fatalf("%d %s containers: %v", n, color, cs)
		}
	}
	if switched {
		if end.Status != deploy.StatusCompleted {
			t.Fatalf("a deployment that had switched ended %s: %+v", end.Status, end)
		}
		if c := cs[a.name+"-"+string(newColor)]; c[0] != candidate || c[1] != "running" {
			t.Fatalf("the new color's container %v, was %s: recreated or stopped", c, candidate)
		}
		waitFor(t, 40*time.Second, "the old color stopped", func() (bool, string) {
			c := containers(t, a.name)[a.name+"-"+string(oldColor)]
			return c[1] == "exited", c[1]
		})
		s.stable(a, target, 20*time.Second)
		return
	}
	if end.Status != deploy.StatusInterrupted {
		t.Fatalf("a deployment that had not switched ended %s: %+v", end.Status, end)
	}
	if c := cs[a.name+"-"+string(oldColor)]; c[0] != oldID || c[1] != "running" {
		t.Fatalf("the active container %v, was %s running: recreated or stopped", c, oldID)
	}
	waitFor(t, 20*time.Second, "the interrupted deployment's candidate removed", func() (bool, string) {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=bluegreen.app="+a.name,
			"--filter", fmt.Sprintf("label=bluegreen.deployment=%d", id)).CombinedOutput()
		return strings.TrimSpace(string(out)) == "", string(out)
	})
}

func readDeployment(t *testing.T, db string, id int64) deploy.Deployment {
	t.Helper()
	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := st.GetDeployment(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func writeDeployment(t *testing.T, db string, d deploy.Deployment) {
	t.Helper()
	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.UpdateDeployment(context.Background(), &d); err != nil {
		t.Fatal(err)
	}
}

// heldRegistry is an in-process OCI registry on 127.0.0.1 whose manifests
// of one tag can be held back, to keep a pull going.
type heldRegistry struct {
	addr string
	h    http.Handler

	mu      sync.Mutex
	held    map[string]chan struct{} // "name:tag" → closed on release
	pushOne sync.Mutex
}

func newHeldRegistry(t *testing.T) *heldRegistry {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &heldRegistry{addr: ln.Addr().String(), held: map[string]chan struct{}{},
		h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := &http.Server{Handler: r}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("registry: %v", err)
		}
	}()
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *heldRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	var wait chan struct{}
	for ref, ch := range r.held {
		name, tag, _ := strings.Cut(ref, ":")
		if strings.Contains(req.URL.Path, "/"+name+"/manifests/"+tag) {
			wait = ch
		}
	}
	r.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-req.Context().Done():
			return
		}
	}
	r.h.ServeHTTP(w, req)
}

// push pushes the local image as name (like "app:v1") and returns its
// reference in the registry.
func (r *heldRegistry) push(t *testing.T, local, name string) string {
	t.Helper()
	r.pushOne.Lock()
	defer r.pushOne.Unlock()
	ref := r.addr + "/" + name
	testimage.Push(t, local, ref)
	t.Cleanup(func() { testimage.RemoveImage(t, ref) })
	testimage.RemoveImage(t, ref) // pulled from the registry, not found locally
	return ref
}

// hold makes pulls of name ("app:v2") wait until release.
func (r *heldRegistry) hold(name string) (release func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan struct{})
	r.held[name] = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.held, name)
			r.mu.Unlock()
			close(ch)
		})
	}
}
