package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// TestTraffic_DockerKillOutageHold kills the active container with docker
// kill under GET and POST load, with the outage hold off (as before it
// existed) and on (docs/traffic.md, "Outage hold"). With it on, no GET
// fails: one in flight when the container died is held and sent again
// once it is back (docs/proxy.md, "Retries"), and every later one waits.
// A POST in flight when it died was sent already and is never sent twice:
// it may fail; so may one sent in the few milliseconds between the death
// and Docker's kill event, to a port that no longer answers. No request
// that began once bluegreen knew fails. The test reports the failed
// requests, when they began, and the longest wait.
func TestTraffic_DockerKillOutageHold(t *testing.T) {
	images(t)
	for _, tc := range []struct {
		name, hold string
		held       bool
	}{
		{"outage_hold 0 (off, as before)", "0s", false},
		{"outage_hold 10s (the default)", "10s", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := killUnderLoad(t, tc.hold)
			t.Logf("docker kill under load, %s: %s", tc.name, m)
			if tc.held {
				if m.failedAfter(m.held) > 0 || m.getFails > 0 {
					t.Fatalf("a GET failed, or a request that began once the outage hold was on: %s", m)
				}
				if n := m.postsInFlight(); n != m.postFail {
					t.Fatalf("%d POSTs failed, only %d of them were in flight when the container died or sent before the hold began: %s", m.postFail, n, m)
				}
			}
			if !tc.held && m.failedAfter(m.died) == 0 {
				t.Fatalf("no request failed with the outage hold off: the test did not reach its case: %s", m)
			}
		})
	}
}

// holdBegan reads in serve's log when the proxy of app was first told,
// after after, that its active container is down: from then on the outage
// hold keeps its requests. Between the container's death and then (the
// latency of Docker's kill event, a few milliseconds) a request meets the
// dead port: bluegreen cannot know yet.
func (s *serve) holdBegan(app string, after time.Time) (time.Time, bool) {
	b, err := os.ReadFile(filepath.Join(s.dir, "serve.log"))
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "requests to the active container wait for it") ||
			!(strings.Contains(line, " app="+app+" ") || strings.Contains(line, `"app":"`+app+`"`)) {
			continue
		}
		m := logTime.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1]+m[2])
		if err == nil && at.After(after) {
			return at.Add(time.Millisecond), true // the log says milliseconds: the instant is within the next one
		}
	}
	return time.Time{}, false
}

// logTime finds the time of a log line, text or JSON.
var logTime = regexp.MustCompile(`^time=(\S+)|"time":"([^"]+)"`)

// outageLoad is what the clients of killUnderLoad saw.
type outageLoad struct {
	mu                 sync.Mutex
	gets, posts        int
	getFails, postFail int
	longest            time.Duration // the longest request, from its start to its answer
	longestAt          string
	errs               []string
	failed             []failedReq
	kill               time.Time // when docker kill was run
	died               time.Time // when the container died, as Docker recorded it
	held               time.Time // when the proxy was told it is down: the outage hold began
}

// failedReq is a failed request of killUnderLoad: whether a POST, when it
// began and when it failed.
type failedReq struct {
	post       bool
	start, end time.Time
}

func (m *outageLoad) record(post bool, start time.Time, err error) {
	end := time.Now()
	took := end.Sub(start)
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
	m.failed = append(m.failed, failedReq{post: post, start: start, end: end})
	if len(m.errs) < 8 {
		method := map[bool]string{true: "POST", false: "GET"}[post]
		m.errs = append(m.errs, start.Format("15:04:05.000")+"+"+took.Round(time.Millisecond).String()+" "+method+" "+err.Error())
	}
}

// failedAfter counts the failed requests that began after t.
func (m *outageLoad) failedAfter(t time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, f := range m.failed {
		if f.start.After(t) {
			n++
		}
	}
	return n
}

// postsInFlight counts the failed POSTs that were sent when bluegreen
// could not know yet: begun before the outage hold began, and failed
// after docker kill was run (Docker's time of the death comes a few
// milliseconds after the kill event).
func (m *outageLoad) postsInFlight() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, f := range m.failed {
		if f.post && !f.start.After(m.held) && f.end.After(m.kill) {
			n++
		}
	}
	return n
}

// postsBegunDead counts the failed POSTs that began after the container
// died (before the hold began: sent to a port that no longer answered).
func (m *outageLoad) postsBegunDead() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, f := range m.failed {
		if f.post && f.start.After(m.died) {
			n++
		}
	}
	return n
}

func (m *outageLoad) String() string {
	dead, held, begunDead := m.failedAfter(m.died), m.failedAfter(m.held), m.postsBegunDead()
	m.mu.Lock()
	defer m.mu.Unlock()
	hold := "no outage hold"
	if !m.held.IsZero() {
		hold = fmt.Sprintf("the hold began %s after it, %d failed after that", m.held.Sub(m.died).Round(time.Millisecond), held)
	}
	return fmt.Sprintf("%d GET (%d failed), %d POST (%d failed: %d in flight at the death, %d sent after it); %d of the failed began after the container died (%s), %s; longest wait %s (%s); %q",
		m.gets, m.getFails, m.posts, m.postFail, m.postFail-begunDead, begunDead, dead, m.died.Format("15:04:05.000"), hold, m.longest.Round(time.Millisecond), m.longestAt, m.errs)
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
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.client(a, i >= 4, stop)
		}()
	}
	time.Sleep(time.Second) // load before the kill
	m.mu.Lock()
	m.kill = time.Now()
	m.mu.Unlock()
	if out, err := exec.Command("docker", "kill", active).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	s.event(a.name, deploy.EventContainerExited, after, 10*time.Second)
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.FinishedAt}}", active).CombinedOutput()
	if err != nil {
		t.Fatalf("docker inspect: %v %s", err, out)
	}
	died, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.died = died
	m.mu.Unlock()
	if hold != "0s" {
		var held time.Time
		waitFor(t, 10*time.Second, "the outage hold in serve's log", func() (bool, string) {
			var ok bool
			held, ok = s.holdBegan(a.name, died.Add(-time.Second))
			return ok, ""
		})
		m.mu.Lock()
		m.held = held
		m.mu.Unlock()
	}
	s.event(a.name, deploy.EventContainerStarted, after, 30*time.Second)
	s.stable(a, imgV1, 30*time.Second)
	time.Sleep(time.Second) // load after it is back
	close(stop)
	wg.Wait()
	return m
}

// client sends a GET (or a POST of 2 KiB) to a every 5 ms on a keep-alive
// connection, and records each, until stop.
func (m *outageLoad) client(a *app, post bool, stop <-chan struct{}) {
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
		m.record(post, start, err)
	}
}

// TestSoakJudge_InFlightAtDeath: with the outage hold, a docker kill
// excuses the POSTs in flight when the container died, and no other
// request (a GET in flight then is held and sent again).
func TestSoakJudge_InFlightAtDeath(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	k := &soak{
		faults: []injected{{kind: faultDockerKill, at: at(100)}},
		windows: []window{
			{fault: 0, app: 1, excuse: excuseWebSocket | excuseGoingAway, from: at(100), to: at(3000)}, // containerGone()
			{fault: 0, app: 1, excuse: excusePost, from: at(100), to: at(104)},                         // the kill began at 100, the container died at 104
		},
	}
	for _, tc := range []struct {
		name string
		f    failure
		want verdict
	}{
		{"a POST in flight at the death", failure{app: 1, op: opPostLength, from: at(98), to: at(106), class: classOutage}, verdict{0, true}},
		{"a chunked POST sent as the kill began", failure{app: 1, op: opPostChunked, from: at(101), to: at(105), class: classOutage}, verdict{0, true}},
		{"a GET in flight at the death", failure{app: 1, op: opGet, from: at(98), to: at(106), class: classOutage}, verdict{-1, false}},
		{"a GET /headers sent as the kill began", failure{app: 1, op: opHeaders, from: at(101), to: at(105), class: classOutage}, verdict{0, false}},
		{"a POST answered 400 in flight", failure{app: 1, op: opPostLength, from: at(98), to: at(106), class: classWrong}, verdict{-1, false}},
		{"a request begun after the death", failure{app: 1, op: opGet, from: at(105), to: at(2500), class: classOutage}, verdict{0, false}},
		{"a 502 long after", failure{app: 1, op: opPostChunked, from: at(2000), to: at(2001), class: classOutage}, verdict{0, false}},
		{"another app in flight", failure{app: 0, op: opGet, from: at(98), to: at(106), class: classOutage}, verdict{-1, false}},
		{"a WebSocket the container carried", failure{app: 1, op: opWebSocket, from: at(50), to: at(200), class: classOutage}, verdict{0, true}},
	} {
		if got := k.judge(tc.f); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
