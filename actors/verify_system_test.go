package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
	"github.com/bluegreen/bluegreen/proxy"
)

// The real-Docker tests of verification on live traffic
// (docs/verification.md), under load from keep-alive clients.

// imgBad answers 30% of GET / with 500 while its /health passes: a release
// that only real traffic catches.
var (
	badOnce sync.Once
	imgBad  = "bluegreen-test-actors:bad"
)

func buildBadImage(t *testing.T) {
	t.Helper()
	buildImages(t)
	badOnce.Do(func() { testimage.Build(t, imgBad, map[string]string{"VERSION": "bad", "FAIL_RATE": "30"}) })
}

// answer is one answer a client of an answerLog got.
type answer struct {
	at      time.Time // when it came
	status  int       // 0: the request failed
	version string    // X-App-Version: the version that answered
	err     string
}

// answerLog sends GET / through the proxy from keep-alive clients until
// stopped, and keeps every answer. A client may keep cookies (jar).
type answerLog struct {
	mu      sync.Mutex
	answers []answer
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startAnswerLog(url string, clients int, jars bool) *answerLog {
	r := &answerLog{stop: make(chan struct{})}
	for range clients {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			if jars {
				c.Jar = newJar()
			}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-r.stop:
					return
				default:
				}
				r.record(c.Get(url))
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	return r
}

func (r *answerLog) record(resp *http.Response, err error) {
	a := answer{at: time.Now()}
	if err != nil {
		a.err = err.Error()
	} else {
		_, rerr := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		a.status, a.version = resp.StatusCode, resp.Header.Get("X-App-Version")
		if rerr != nil {
			a.status, a.err = 0, rerr.Error()
		}
	}
	r.mu.Lock()
	r.answers = append(r.answers, a)
	r.mu.Unlock()
}

// halt stops the clients and returns every answer, in the order they came.
func (r *answerLog) halt() []answer {
	close(r.stop)
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	slices.SortFunc(r.answers, func(a, b answer) int { return a.at.Compare(b.at) })
	return slices.Clone(r.answers)
}

// newJar is a cookie jar for one client.
func newJar() http.CookieJar {
	j, _ := cookiejar.New(nil) // never fails without options
	return j
}

// TestSystem_VerifyRollsBackABadRelease deploys, under load, an image whose
// GET / answers 500 for 30% of requests while its /health passes: the
// verification window catches it and all traffic goes back to v1. No
// request fails but the bad version's own 500s.
func TestSystem_VerifyRollsBackABadRelease(t *testing.T) {
	buildBadImage(t)
	app := newTestApp(t, imgV1)
	app.verify = "verify: {window: 30s, max_error_rate: 1%, min_requests: 20}"
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)

	rec := startAnswerLog(app.url("/"), 4, false)
	d := h.deploy(app.name, imgBad, deploy.TriggerAPI)
	eventually(t, 10*time.Second, func() bool { // the load goes on after the switch back
		st := h.status(app.name)
		return st.Status == deploy.AppStable && st.CurrentImage == imgV1
	}, func() string { return "stable on v1" })
	time.Sleep(500 * time.Millisecond) // answers after the switch back, on v1
	answers := rec.halt()

	if d.Status != deploy.StatusRolledBack || !strings.HasPrefix(d.Error, "verification failed at 100%: 5xx ") ||
		!strings.HasSuffix(d.Error, "(max 1%)") {
		t.Fatalf("deployment %s: %q", d.Status, d.Error)
	}
	if v := d.Verification; v == nil || v.Result != deploy.VerificationFailed || v.Requests < 20 || v.ErrorRate < 0.2 {
		t.Fatalf("verification %+v", d.Verification)
	}
	st := h.waitStable(app.name, imgV1, 10*time.Second)
	if st.ActiveColor != deploy.Blue || st.Containers.Green != nil {
		t.Fatalf("after the rollback: active %s, green %+v", st.ActiveColor, st.Containers.Green)
	}

	var first500, lastBad time.Time
	bad, failed, afterBack := 0, 0, 0
	for _, a := range answers {
		switch {
		case a.version == "bad":
			bad++
			lastBad = a.at
			if a.status == http.StatusInternalServerError && first500.IsZero() {
				first500 = a.at
			}
		case a.status != http.StatusOK:
			failed++
			t.Errorf("a request failed outside the bad version's own 500s: %+v", a)
		}
	}
	for _, a := range answers {
		if a.at.After(lastBad) && a.status == http.StatusOK && a.version == "v1" {
			afterBack++
		}
	}
	if first500.IsZero() || afterBack == 0 {
		t.Fatalf("no 500 from the bad version, or no answer of v1 after it: %d answers", len(answers))
	}
	t.Logf("%d answers; %d reached the bad version (%d in its window); first 500 to the switch back %s; %d failed otherwise; %d answers of v1 after",
		len(answers), bad, d.Verification.Requests, lastBad.Sub(first500).Round(time.Millisecond), failed, afterBack)
}

// TestSystem_CanarySharesByCookie deploys a good image with canary steps
// 10 and 50 under load from 100 keep-alive clients that carry a
// bluegreen_canary cookie, one client per bucket: in each step the share
// of the requests that the new version served is within a few points of
// the step's percent, and the deployment completes.
func TestSystem_CanarySharesByCookie(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	app.verify = "verify: {window: 6s, min_requests: 5}, canary: [10, 50]"
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)

	log := &answerLog{stop: make(chan struct{})}
	for bucket := range 100 {
		log.wg.Add(1)
		go func() {
			defer log.wg.Done()
			jar := newJar()
			u, _ := url.Parse(app.url("/"))
			jar.SetCookies(u, []*http.Cookie{{Name: proxy.CanaryCookie, Value: valueOfBucket(bucket)}})
			c := &http.Client{Timeout: 10 * time.Second, Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-log.stop:
					return
				default:
				}
				log.record(c.Get(app.url("/")))
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	d := h.deploy(app.name, imgV2, deploy.TriggerAPI)
	answers := log.halt()
	if d.Status != deploy.StatusCompleted || d.Verification == nil || d.Verification.Result != deploy.VerificationPassed {
		t.Fatalf("deployment %s %q, verification %+v", d.Status, d.Error, d.Verification)
	}
	if want := []string{"pulling", "starting", "health_checking", "canary", "canary", "switching", "verifying", "draining", "stopping"}; !slices.Equal(phaseNamesOf(d), want) {
		t.Fatalf("phases %v, want %v", phaseNamesOf(d), want)
	}
	// Each step's answers, by the times of its window's events.
	evs, err := h.sys.Events(context.Background(), app.name, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	from := map[int]time.Time{}
	for _, e := range evs {
		var v deploy.Verification
		if e.Type != deploy.EventDeploymentPhase || !e.Of(d.DeploymentID) || json.Unmarshal(e.Data, &v) != nil || v.Result == "" {
			continue
		}
		if v.Result == deploy.VerificationRunning {
			from[v.Step] = e.At
			continue
		}
		n, onNew := 0, 0
		for _, a := range answers {
			if a.at.After(from[v.Step]) && a.at.Before(e.At) {
				n++
				if a.version == "v2" {
					onNew++
				}
				if a.status != http.StatusOK {
					t.Errorf("a request failed in the window at %d%%: %+v", v.Step, a)
				}
			}
		}
		share := 100 * float64(onNew) / float64(max(n, 1))
		t.Logf("window at %d%%: %d requests, %.1f%% served by the new version (%d in its window's numbers)", v.Step, n, share, v.Requests)
		if n < 100 || share < float64(v.Step)-5 || share > float64(v.Step)+5 {
			t.Errorf("window at %d%%: %.1f%% of %d requests on the new version", v.Step, share, n)
		}
	}
	if len(from) != 3 {
		t.Fatalf("windows begun: %v", from)
	}
}

// valueOfBucket is a bluegreen_canary cookie value whose bucket is b.
func valueOfBucket(b int) string {
	for i := 0; ; i++ {
		if v := fmt.Sprintf("%032x", i); proxy.Bucket(v) == b {
			return v
		}
	}
}
