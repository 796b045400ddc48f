package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// TestTraffic_DockerKillOutageHold kills the active container with docker
// kill under GET and POST load, with the outage hold off (as before it
// existed) and on (docs/traffic.md, "Outage hold"): with it, no request
// fails; the clients wait. It reports, for each, the failed requests and the
// longest wait.
func TestTraffic_DockerKillOutageHold(t *testing.T) {
	images(t)
	for _, tc := range []struct {
		name, hold string
		noFailure  bool
	}{
		{"outage_hold 0 (off, as before)", "0s", false},
		{"outage_hold 10s (the default)", "10s", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := killUnderLoad(t, tc.hold)
			t.Logf("docker kill under load, %s: %s", tc.name, m)
			if tc.noFailure && m.failed() > 0 {
				t.Fatalf("requests failed with the outage hold on: %s", m)
			}
		})
	}
}

// outageLoad is what the clients of killUnderLoad saw.
type outageLoad struct {
	mu                 sync.Mutex
	gets, posts        int
	getFails, postFail int
	longest            time.Duration // the longest request, from its start to its answer
	longestAt          string
	errs               []string
}

func (m *outageLoad) record(post bool, took time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if post {
		m.posts++
	} else {
		m.gets++
	}
	if took > m.longest {
		m.longest, m.longestAt = took, map[bool]string{true: "POST", false: "GET"}[post]
	}
	if err == nil {
		return
	}
	if post {
		m.postFail++
	} else {
		m.getFails++
	}
	if len(m.errs) < 8 {
		m.errs = append(m.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
	}
}

func (m *outageLoad) failed() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.getFails + m.postFail
}

func (m *outageLoad) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("%d GET (%d failed), %d POST (%d failed), longest wait %s (%s); %q",
		m.gets, m.getFails, m.posts, m.postFail, m.longest.Round(time.Millisecond), m.longestAt, m.errs)
}

// killUnderLoad runs an app with proxy.outage_hold hold, puts 4 GET and 2
// POST clients on it (keep-alive, a request every 5 ms each), kills the
// active container, and keeps the load on until the app is stable again and
// a second more.
func killUnderLoad(t *testing.T, hold string) *outageLoad {
	a := newApp(t, imgV1)
	a.proxyExtra = "outage_hold: " + hold
	s := newServe(t, "", a)
	s.start()
	st := s.stable(a, imgV1, 60*time.Second)
	active := a.name + "-" + string(st.ActiveColor)
	after := s.lastEventID(a)

	m := &outageLoad{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := func(post bool) {
		defer wg.Done()
		c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		defer c.CloseIdleConnections()
		body := bytes.Repeat([]byte("p"), 2048)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			var resp *http.Response
			var err error
			start := time.Now()
			if post {
				resp, err = c.Post(a.url("/upload"), "application/octet-stream", bytes.NewReader(body))
			} else {
				resp, err = c.Get(a.url("/"))
			}
			if err == nil {
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err = rerr; err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
				}
			}
			m.record(post, time.Since(start), err)
		}
	}
	for i := range 6 {
		wg.Add(1)
		go client(i >= 4)
	}
	time.Sleep(time.Second) // load before the kill
	if out, err := exec.Command("docker", "kill", active).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	s.event(a.name, deploy.EventContainerExited, after, 10*time.Second)
	s.event(a.name, deploy.EventContainerStarted, after, 30*time.Second)
	s.stable(a, imgV1, 30*time.Second)
	time.Sleep(time.Second) // load after it is back
	close(stop)
	wg.Wait()
	return m
}
