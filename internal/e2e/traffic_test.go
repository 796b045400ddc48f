package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bluegreen/bluegreen/deploy"
)

// The traffic control of docs/traffic.md against real containers: a pause
// held across a deployment, maintenance answers, a pause that outlives kill
// -9, and the outage hold of a docker kill under load.

// answer is what a client got for one request.
type answer struct {
	code   int
	header http.Header
	body   string
	err    error
	took   time.Duration
}

// send starts req on a connection of its own and returns where its answer
// comes.
func send(req *http.Request) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		start := time.Now()
		c := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Do(req)
		a := answer{err: err}
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			a.code, a.header, a.body, a.err = resp.StatusCode, resp.Header, strings.TrimSpace(string(b)), rerr
		}
		a.took = time.Since(start)
		ch <- a
	}()
	return ch
}

func newRequest(t *testing.T, method, url string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// held waits until the app's proxy holds n requests.
func (s *serve) held(a *app, n int) {
	s.t.Helper()
	waitFor(s.t, 30*time.Second, fmt.Sprintf("%d requests held", n), func() (bool, string) {
		st, err := s.status(a.name)
		return err == nil && st.Traffic.Held == n, fmt.Sprintf("%+v %v", st.Traffic, err)
	})
}

// unanswered fails when one of the answers came.
func unanswered(t *testing.T, what string, answers []<-chan answer) {
	t.Helper()
	for i, ch := range answers {
		select {
		case a := <-ch:
			t.Fatalf("%s: request %d answered: %d %q %v", what, i, a.code, a.body, a.err)
		default:
		}
	}
}

// lastEventID is the ID of the app's newest event.
func (s *serve) lastEventID(a *app) int64 {
	evs := s.events(a.name, 0)
	return evs[len(evs)-1].ID
}

// TestTraffic_PauseAcrossDeployment: GETs, POSTs and a WebSocket handshake
// held by a pause, a deployment while paused, and a resume: every held
// request is answered by the new color, none failed.
func TestTraffic_PauseAcrossDeployment(t *testing.T) {
	images(t)
	a := newApp(t, imgV1)
	s := newServe(t, "", a)
	s.start()
	s.stable(a, imgV1, 60*time.Second)
	if code, out, errOut := s.ctl("pause", a.name, "--max-wait", "3m"); code != 0 || !strings.Contains(out, "paused") {
		t.Fatalf("ctl pause: %d %q %q", code, out, errOut)
	}

	const gets, posts = 20, 5
	var answers []<-chan answer
	for i := range gets {
		answers = append(answers, send(newRequest(t, http.MethodGet, a.url("/?i="+strconv.Itoa(i)), nil)))
	}
	bodies := make([][]byte, posts)
	for i := range posts {
		bodies[i] = bytes.Repeat([]byte{byte('a' + i)}, 1000+i)
		answers = append(answers, send(newRequest(t, http.MethodPost, a.url("/upload"), bodies[i])))
	}
	ws := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/ws", a.proxy), nil)
		if err == nil {
			defer c.CloseNow()
			err = c.Write(ctx, websocket.MessageText, []byte("held"))
		}
		if err == nil {
			var b []byte
			if _, b, err = c.Read(ctx); err == nil && string(b) != "held" {
				err = fmt.Errorf("echo %q", b)
			}
		}
		ws <- err
	}()
	held := gets + posts + 1
	s.held(a, held)
	unanswered(t, "paused", answers)

	id := s.deploy(a, imgV2)
	if d := s.ended(id, 90*time.Second); d.Status != deploy.StatusCompleted {
		t.Fatalf("a deployment while paused: %+v", d)
	}
	st := s.stable(a, imgV2, 30*time.Second)
	if st.Traffic.Mode != deploy.TrafficPaused || st.Traffic.Held != held {
		t.Fatalf("after the deployment: %+v", st.Traffic)
	}
	unanswered(t, "paused after the deployment", answers)

	after := s.lastEventID(a)
	resumed := time.Now()
	if code, out, errOut := s.ctl("resume", a.name); code != 0 {
		t.Fatalf("ctl resume: %d %q %q", code, out, errOut)
	}
	for i, ch := range answers {
		got := <-ch
		if got.err != nil || got.code != http.StatusOK {
			t.Fatalf("request %d after the resume: %d %q %v", i, got.code, got.body, got.err)
		}
		if i < gets && got.body != "v2" {
			t.Fatalf("GET %d answered by %q, want the new color's v2", i, got.body)
		}
		if i >= gets {
			var up struct{ Bytes int }
			if err := json.Unmarshal([]byte(got.body), &up); err != nil || up.Bytes != len(bodies[i-gets]) {
				t.Fatalf("POST %d: %q (sent %d bytes)", i-gets, got.body, len(bodies[i-gets]))
			}
		}
	}
	if err := <-ws; err != nil {
		t.Fatalf("the held WebSocket: %v", err)
	}
	ev := s.event(a.name, deploy.EventTrafficResumed, after, 10*time.Second)
	var data struct{ Held int }
	dataOf(t, ev, &data)
	if data.Held != held {
		t.Fatalf("traffic.resumed says %d held and sent, want %d", data.Held, held)
	}
	t.Logf("%d requests held across a deployment, all answered by v2 within %s of the resume", held, time.Since(resumed).Round(time.Millisecond))
}

// TestTraffic_Maintenance: the page of proxy.maintenance_page to browsers
// with the message escaped, JSON to others, both 503 with Retry-After; a
// request a pause held gets it too; resume serves again.
func TestTraffic_Maintenance(t *testing.T) {
	images(t)
	page := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(page, []byte("<!doctype html>\n<title>shop</title>\n<p class=msg>{{message}}</p>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := newApp(t, imgV1)
	a.proxyExtra = "maintenance_page: " + page
	s := newServe(t, "", a)
	s.start()
	s.stable(a, imgV1, 60*time.Second)

	// A request held by a pause gets the maintenance answer when it begins.
	if code, _, errOut := s.ctl("pause", a.name); code != 0 {
		t.Fatalf("ctl pause: %s", errOut)
	}
	heldReq := send(newRequest(t, http.MethodGet, a.url("/held"), nil))
	s.held(a, 1)
	msg := `<b>Back</b> at 10:30 & "soon"`
	if code, out, errOut := s.ctl("maintenance", a.name, "--message", msg, "--retry-after", "90s"); code != 0 {
		t.Fatalf("ctl maintenance: %d %q %q", code, out, errOut)
	}
	got := <-heldReq
	if got.err != nil || got.code != http.StatusServiceUnavailable || !strings.Contains(got.body, `"code":"maintenance"`) {
		t.Fatalf("the held request: %d %q %v", got.code, got.body, got.err)
	}

	html := newRequest(t, http.MethodGet, a.url("/"), nil)
	html.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
	got = <-send(html)
	wantPage := "<p class=msg>&lt;b&gt;Back&lt;/b&gt; at 10:30 &amp; &#34;soon&#34;</p>"
	if got.code != http.StatusServiceUnavailable || got.header.Get("Retry-After") != "90" ||
		!strings.HasPrefix(got.header.Get("Content-Type"), "text/html") || !strings.Contains(got.body, wantPage) {
		t.Fatalf("a browser: %d %v %q", got.code, got.header, got.body)
	}
	for _, req := range []*http.Request{newRequest(t, http.MethodGet, a.url("/api/items"), nil), newRequest(t, http.MethodPost, a.url("/upload"), []byte("x"))} {
		req.Header.Set("Accept", "application/json")
		got = <-send(req)
		var e struct {
			Error struct{ Code, Message string }
		}
		if got.code != http.StatusServiceUnavailable || got.header.Get("Retry-After") != "90" || json.Unmarshal([]byte(got.body), &e) != nil ||
			e.Error.Code != "maintenance" || e.Error.Message != msg {
			t.Fatalf("%s %s: %d %v %q", req.Method, req.URL.Path, got.code, got.header, got.body)
		}
	}
	// An answer is counted once it went out: the scrape may come first.
	waitFor(t, 10*time.Second, "the maintenance in the metrics", func() (bool, string) {
		metrics, err := s.client.Metrics(context.Background())
		for _, want := range []string{
			fmt.Sprintf(`bluegreen_app_traffic{app=%q,mode="maintenance"} 1`, a.name),
			fmt.Sprintf(`bluegreen_proxy_requests_total{app=%q,code="503",color="none"} 4`, a.name),
		} {
			if err != nil || !strings.Contains(metrics, want) {
				return false, fmt.Sprintf("no %s (%v)", want, err)
			}
		}
		return true, ""
	})

	if code, _, errOut := s.ctl("resume", a.name); code != 0 {
		t.Fatalf("ctl resume: %s", errOut)
	}
	if code, body, err := get(a.url("/")); err != nil || code != http.StatusOK || body != "v1" {
		t.Fatalf("after the resume: %d %q %v", code, body, err)
	}
}

// TestTraffic_PauseOutlivesKill9: serve killed while requests are held:
// their clients see a closed connection (nothing was sent anywhere); the
// next serve starts paused and holds until resume.
func TestTraffic_PauseOutlivesKill9(t *testing.T) {
	images(t)
	a := newApp(t, imgV1)
	s := newServe(t, "", a)
	s.start()
	s.stable(a, imgV1, 60*time.Second)
	if code, _, errOut := s.ctl("pause", a.name, "--max-wait", "90s"); code != 0 {
		t.Fatalf("ctl pause: %s", errOut)
	}
	var answers []<-chan answer
	for range 5 {
		answers = append(answers, send(newRequest(t, http.MethodGet, a.url("/"), nil)))
	}
	s.held(a, 5)
	s.kill9()
	for i, ch := range answers {
		select {
		case got := <-ch:
			if got.err == nil {
				t.Fatalf("held request %d answered %d %q by a killed serve", i, got.code, got.body)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("held request %d: no closed connection after the kill", i)
		}
	}

	s.start()
	st := s.stable(a, imgV1, 60*time.Second)
	if st.Traffic.Mode != deploy.TrafficPaused || st.Traffic.MaxWaitMS != 90000 || st.Traffic.Since == nil {
		t.Fatalf("after kill -9 and a restart: %+v", st.Traffic)
	}
	later := send(newRequest(t, http.MethodGet, a.url("/"), nil))
	s.held(a, 1)
	unanswered(t, "paused after the restart", []<-chan answer{later})
	if code, _, errOut := s.ctl("resume", a.name); code != 0 {
		t.Fatalf("ctl resume: %s", errOut)
	}
	if got := <-later; got.err != nil || got.code != http.StatusOK || got.body != "v1" {
		t.Fatalf("the request held by the new serve: %d %q %v", got.code, got.body, got.err)
	}
}
