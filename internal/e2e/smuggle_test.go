package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// The body invariant against the real Docker daemon (issue 15): a POST
// whose body is a request, sent while the proxy cannot reach the active
// container (docker kill, Docker's socket cut) or while no color is
// active, gets exactly one answer, and the request in its body reaches no
// container. Each probe is one connection: the POST, then a GET behind it.

// smuggledBody is the body of every probe's POST.
const smuggledBody = "GET /echo?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n"

// probe sends a POST /upload with smuggledBody as its body (chunked or with a
// Content-Length) and GET /probe-n behind it on one connection, half-closes
// it and returns the statuses of the answers until the proxy closed. A
// body read as a request would add an answer; so the answers must be one
// for the POST, then one for the GET unless the first said Connection:
// close.
func probe(a *app, n int, chunked bool) ([]int, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", a.proxy), 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	post := fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(smuggledBody), smuggledBody)
	if chunked {
		post = fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(smuggledBody), smuggledBody)
	}
	if _, err := fmt.Fprintf(c, "%sGET /probe-%d HTTP/1.1\r\nHost: x\r\n\r\n", post, n); err != nil {
		return nil, err
	}
	c.(*net.TCPConn).CloseWrite()
	br := bufio.NewReader(c)
	var codes []int
	closed := false
	for {
		if _, err := br.Peek(1); err != nil {
			break // the proxy closed (EOF, or a reset after its answers)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return codes, fmt.Errorf("answer %d: %w", len(codes)+1, err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return codes, fmt.Errorf("answer %d's body: %w", len(codes)+1, err)
		}
		codes = append(codes, resp.StatusCode)
		closed = closed || resp.Close
	}
	switch {
	case len(codes) == 0:
		return nil, fmt.Errorf("no answer")
	case slices.Contains(codes, http.StatusBadRequest) || len(codes) > 2 || len(codes) == 1 && !closed:
		return codes, fmt.Errorf("answers %v (close %v): the body was read as a request", codes, closed)
	}
	return codes, nil
}

// prober sends probes one after another, alternating the body's framing,
// until halted, and counts the answers.
type prober struct {
	mu     sync.Mutex
	n      int
	codes  map[int]int // status of the POST's answer → probes
	errs   []string
	stop   chan struct{}
	done   chan struct{}
	stopMu sync.Once
}

func startProber(a *app) *prober {
	p := &prober{codes: map[int]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			codes, err := probe(a, i, i%2 == 1)
			p.mu.Lock()
			p.n++
			if len(codes) > 0 {
				p.codes[codes[0]]++
			}
			if err != nil && len(p.errs) < 10 {
				p.errs = append(p.errs, fmt.Sprintf("probe %d (chunked %v): %v", i, i%2 == 1, err))
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// halt stops the prober and fails t when a probe went wrong or none got
// want as its first answer.
func (p *prober) halt(t *testing.T, what string, want int) {
	t.Helper()
	p.stopMu.Do(func() { close(p.stop) })
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Logf("%s: %d probes, first answers by status %v", what, p.n, p.codes)
	if len(p.errs) > 0 {
		t.Fatalf("%s: %q", what, p.errs)
	}
	if p.codes[want] == 0 {
		t.Fatalf("%s: no probe got %d: the test did not reach its case", what, want)
	}
}

// dockerCLI runs the docker CLI against the real daemon, whatever
// DOCKER_HOST the test set for serve.
func dockerCLI(args ...string) ([]byte, error) {
	cmd := exec.Command("docker", args...)
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "DOCKER_HOST=") }),
		"DOCKER_HOST="+realDockerHost)
	return cmd.CombinedOutput()
}

// realDockerHost is the daemon's address before any test changed DOCKER_HOST.
var realDockerHost = func() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
}()

// noSmuggledRequest fails t when a container of a logged the request of
// the probes' bodies (the test app logs every request).
func noSmuggledRequest(t *testing.T, a *app) {
	t.Helper()
	for _, color := range []string{"blue", "green"} {
		out, err := dockerCLI("logs", a.name+"-"+color)
		if err != nil {
			continue // no such container
		}
		if strings.Contains(string(out), "smuggled=1") {
			t.Fatalf("%s-%s served the request of a body:\n%s", a.name, color, out)
		}
		if !strings.Contains(string(out), "POST /upload") {
			t.Logf("%s-%s saw no probe", a.name, color)
		}
	}
}

// afterRecovery probes a few times once the app is stable: the POST and
// the GET behind it are both served.
func afterRecovery(t *testing.T, a *app) {
	t.Helper()
	for i := range 4 {
		codes, err := probe(a, 1000+i, i%2 == 1)
		if err != nil || !slices.Equal(codes, []int{200, 200}) {
			t.Fatalf("probe after recovery: %v, %v; want [200 200]", codes, err)
		}
	}
}

// TestSmuggle_AfterDockerKill probes from the moment the active container
// is killed until the app is stable again: the connects refused meanwhile
// get 502 and the body is never a request.
func TestSmuggle_AfterDockerKill(t *testing.T) {
	images(t)
	a := newApp(t, imgV1)
	a.proxyExtra = "outage_hold: 0s" // the 502 path: with the outage hold the probes wait instead (docs/traffic.md)
	s := newServe(t, "", a)
	s.start()
	st := s.stable(a, imgV1, 60*time.Second)
	last := s.events(a.name, 0)
	after := last[len(last)-1].ID

	p := startProber(a)
	if out, err := dockerCLI("kill", a.name+"-"+string(st.ActiveColor)); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	s.event(a.name, deploy.EventContainerStarted, after, 20*time.Second)
	s.stable(a, imgV1, 30*time.Second)
	p.halt(t, "docker kill", http.StatusBadGateway)
	afterRecovery(t, a)
	noSmuggledRequest(t, a)
}

// TestSmuggle_DockerSocketCut cuts serve's Docker socket (a relay in front
// of the daemon): the app keeps serving, and the probes' bodies reach the
// container as data; then the active container is killed behind serve's
// back, so that the proxy's connects are refused until Docker answers
// again and serve starts the container again.
func TestSmuggle_DockerSocketCut(t *testing.T) {
	images(t)
	a := newApp(t, imgV1)
	a.proxyExtra = "outage_hold: 0s" // the refused connects' 502: with the outage hold they wait instead (docs/traffic.md)
	s := newServe(t, "", a)
	relay := newDockerRelay(t)
	t.Setenv("DOCKER_HOST", relay.host())
	s.start()
	st := s.stable(a, imgV1, 60*time.Second)

	relay.cut()
	waitFor(t, 15*time.Second, "degraded: Docker unreachable", func() (bool, string) {
		st, err := s.status(a.name)
		return err == nil && st.Status == deploy.AppDegraded, fmt.Sprint(st.Status, st.Error, err)
	})
	p := startProber(a)
	waitFor(t, 10*time.Second, "probes", func() (bool, string) { p.mu.Lock(); defer p.mu.Unlock(); return p.n > 20, "" })
	p.halt(t, "Docker's socket cut", http.StatusOK)

	p = startProber(a)
	if out, err := dockerCLI("kill", a.name+"-"+string(st.ActiveColor)); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	waitFor(t, 10*time.Second, "refused connects", func() (bool, string) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.codes[http.StatusBadGateway] > 20, fmt.Sprint(p.codes)
	})
	if err := relay.restore(); err != nil {
		t.Fatal(err)
	}
	s.stable(a, imgV1, 30*time.Second)
	p.halt(t, "Docker's socket cut, the container killed", http.StatusBadGateway)
	afterRecovery(t, a)
	noSmuggledRequest(t, a)
}

// TestSmuggle_NoActiveColor probes an app whose first deployment never
// gets healthy: no color is active, every POST gets 503, and the body is
// read and thrown away (the GET behind it gets its own 503).
func TestSmuggle_NoActiveColor(t *testing.T) {
	images(t)
	a := newApp(t, imgSick)
	a.healthTimeout = "10s"
	s := newServe(t, "", a)
	s.start()
	waitFor(t, 30*time.Second, "the proxy answering", func() (bool, string) {
		code, _, err := get(a.url("/"))
		return err == nil && code == http.StatusServiceUnavailable, fmt.Sprint(code, err)
	})
	p := startProber(a)
	waitFor(t, 10*time.Second, "probes", func() (bool, string) { p.mu.Lock(); defer p.mu.Unlock(); return p.n > 20, "" })
	p.halt(t, "no active color", http.StatusServiceUnavailable)
	for i := range 4 {
		codes, err := probe(a, 2000+i, i%2 == 1)
		if err != nil || !slices.Equal(codes, []int{503, 503}) {
			t.Fatalf("probe: %v, %v; want [503 503]: the body read and thrown away, the GET answered", codes, err)
		}
	}
	noSmuggledRequest(t, a)
}
