package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bluegreen/bluegreen/deploy"
)

// TestDockerKill_ActiveContainer kills the active container with docker
// kill (which Docker's restart policy does not answer): container.exited
// comes from Docker's event stream within a second with exit_code and
// oom_killed, the app turns degraded, bluegreen starts the container again
// and the app is stable once it passed its health checks. It prints the
// detection time and the outage window as clients saw it. Then a container
// that crashes by itself and that Docker restarts: the exit is in the audit
// trail and the app recovers without bluegreen starting it.
func TestDockerKill_ActiveContainer(t *testing.T) {
	images(t)
	a := newApp(t, imgV1)
	s := newServe(t, "", a)
	s.start()
	st := s.stable(a, imgV1, 60*time.Second)
	active := a.name + "-" + string(st.ActiveColor)
	last := s.events(a.name, 0)
	after := last[len(last)-1].ID

	// A client asking every 10ms notes when answers fail.
	var mu sync.Mutex
	var firstFail, lastFail time.Time
	failures := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			code, _, err := get(a.url("/"))
			if err != nil || code != http.StatusOK {
				now := time.Now()
				mu.Lock()
				if firstFail.IsZero() {
					firstFail = now
				}
				lastFail, failures = now, failures+1
				mu.Unlock()
			}
		}
	}()
	killed := time.Now()
	if out, err := exec.Command("docker", "kill", active).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	ev := s.event(a.name, deploy.EventContainerExited, after, 5*time.Second)
	detected := ev.At.Sub(killed) // from the start of docker kill (its CLI takes part of it)
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.FinishedAt}}", active).CombinedOutput()
	if err != nil {
		t.Fatalf("docker inspect: %v %s", err, out)
	}
	exitedAt, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	sinceExit := ev.At.Sub(exitedAt) // from the exit as Docker recorded it
	var d struct {
		ExitCode  *int  `json:"exit_code"`
		OOMKilled *bool `json:"oom_killed"`
	}
	dataOf(t, ev, &d)
	if d.ExitCode == nil || *d.ExitCode != 137 || d.OOMKilled == nil || *d.OOMKilled {
		t.Fatalf("container.exited %s", ev.Data)
	}
	waitFor(t, 5*time.Second, "degraded", func() (bool, string) {
		st, err := s.status(a.name)
		return err == nil && st.Status == deploy.AppDegraded, fmt.Sprint(st.Status, err)
	})
	s.event(a.name, deploy.EventContainerRestarting, after, 10*time.Second)
	s.event(a.name, deploy.EventContainerStarted, after, 10*time.Second)
	s.stable(a, imgV1, 20*time.Second)
	close(stop)
	<-done
	mu.Lock()
	outage := lastFail.Sub(firstFail)
	mu.Unlock()
	t.Logf("docker kill: container.exited %s after the exit as Docker recorded it, %s after docker kill began (target < 1s); "+
		"outage window %s, %d failed polls of 10ms (target < 3s)",
		sinceExit.Round(time.Millisecond), detected.Round(time.Millisecond), outage.Round(time.Millisecond), failures)
	// The detection time is a target measured and reported (here and by
	// cmd/upgradebench), not a wall-clock assertion a loaded machine breaks.
	if c := containers(t, a.name)[active]; c[0] != st.Containers.Of(st.ActiveColor).ID {
		t.Fatalf("the container was recreated: %v", c)
	}

	t.Run("a crash that Docker's restart policy answers", func(t *testing.T) {
		b := newApp(t, imgV1)
		s2 := newServe(t, "", b)
		s2.start()
		s2.stable(b, imgV1, 60*time.Second)
		id := s2.deploy(b, imgCrashes) // healthy, then exits 1 after 4s, again and again
		if d := s2.ended(id, 60*time.Second); d.Status != deploy.StatusCompleted {
			t.Fatalf("deployment %+v", d)
		}
		ev := s2.event(b.name, deploy.EventContainerExited, 0, 15*time.Second)
		var d struct {
			ExitCode int `json:"exit_code"`
		}
		dataOf(t, ev, &d)
		started := s2.event(b.name, deploy.EventContainerStarted, ev.ID, 10*time.Second)
		var by struct {
			By string `json:"by"`
		}
		dataOf(t, started, &by)
		if d.ExitCode != 1 || by.By != "docker" {
			t.Fatalf("exit %s, then %s", ev.Data, started.Data)
		}
		t.Logf("a crash restarted by Docker: %q, then %q", ev.Message, started.Message)
	})
}

// TestSIGTERM_InFlightRequestCompletes stops serve while a 3s request is in
// flight: it completes, a WebSocket gets 1001 at websocket_drain_timeout,
// serve exits 0 after recording supervisor.stopped, and the container runs on.
func TestSIGTERM_InFlightRequestCompletes(t *testing.T) {
	images(t)
	a := newApp(t, imgV1)
	a.drain, a.websocketDrain = "10s", "1s"
	s := newServe(t, "", a)
	s.start()
	s.stable(a, imgV1, 60*time.Second)
	ws := openSocket(t, a)

	type answer struct {
		code int
		body string
		err  error
		at   time.Time
	}
	res := make(chan answer, 1)
	go func() {
		c := &http.Client{Timeout: 30 * time.Second}
		resp, err := c.Get(a.url("/slow?d=3s"))
		if err != nil {
			res <- answer{err: err, at: time.Now()}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- answer{code: resp.StatusCode, body: strings.TrimSpace(string(b)), err: err, at: time.Now()}
	}()
	waitFor(t, 5*time.Second, "the request in flight", func() (bool, string) {
		st, err := s.status(a.name)
		return err == nil && st.Connections[st.ActiveColor].HTTP == 1, fmt.Sprint(st.Connections, err)
	})
	sent := time.Now()
	s.signal(syscall.SIGTERM)
	status, closedAt := ws.closedWith(t, 10*time.Second)
	if status != websocket.StatusGoingAway {
		t.Fatalf("WebSocket ended with %v", ws.err)
	}
	r := <-res
	if r.err != nil || r.code != 200 || r.body != "v1" {
		t.Fatalf("the request in flight: %+v", r)
	}
	code, ok := s.exited(20 * time.Second)
	if !ok || code != 0 {
		t.Fatalf("serve: exit %d, exited %v", code, ok)
	}
	t.Logf("SIGTERM: the 3s request completed %s after the signal, the WebSocket got 1001 after %s, serve exited after %s",
		r.at.Sub(sent).Round(time.Millisecond), closedAt.Sub(sent).Round(time.Millisecond), time.Since(sent).Round(time.Millisecond))
	if c := containers(t, a.name)[a.name+"-blue"]; c[1] != "running" {
		t.Fatalf("the container after the stop: %v", c)
	}
	if _, _, err := get(a.url("/")); err == nil {
		t.Fatal("the proxy still answers after serve exited")
	}
	// supervisor.stopped is the last event (a new serve reads it).
	s.start()
	s.stable(a, imgV1, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, err := s.client.Events(ctx, "", 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	for _, e := range evs {
		stopped = stopped || e.Type == deploy.EventSupervisorStopped
	}
	if !stopped {
		t.Fatal("no supervisor.stopped event")
	}
}
