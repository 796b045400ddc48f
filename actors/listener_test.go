package actors

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestListener(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	p := newPartEnv(t, cfg)
	cs := newAppContainers(p.env)
	p.runContainer(&cs, deploy.Blue, "web:v1", 1, true)
	l := &proxyListener{env: p.env}
	if l.listening() || l.drainer(deploy.Blue) != nil {
		t.Fatal("listening before start")
	}
	l.route(deploy.Blue, cfg.Ports.Blue) // before it listens: nothing
	if !l.start() || !l.listening() || l.failure() != nil {
		t.Fatalf("start: %v", l.failure())
	}
	defer l.close(false)
	l.route(deploy.Blue, cfg.Ports.Blue)
	url := fmt.Sprintf("http://127.0.0.1:%d/", cfg.Ports.Proxy)
	if got, err := body(http.DefaultClient, url); err != nil || got != "web:v1" {
		t.Fatalf("the proxy answered %q, %v", got, err)
	}
	if conns := l.connections(); len(conns) != 2 {
		t.Fatalf("connections %+v: want both colors", conns)
	}
	if res := l.drainer(deploy.Green)(); res.HTTPCut != 0 {
		t.Fatalf("draining an idle color cut %d requests", res.HTTPCut)
	}

	// A config change moves it: the new proxy routes as the old one did.
	moved := *cfg
	moved.Ports.Proxy = unitApp(t, "web:v1").Ports.Proxy // a free port
	p.env.cfg = &moved
	if !l.start() {
		t.Fatalf("start again: %v", l.failure())
	}
	url = fmt.Sprintf("http://127.0.0.1:%d/", moved.Ports.Proxy)
	if got, err := body(http.DefaultClient, url); err != nil || got != "web:v1" {
		t.Fatalf("the moved proxy answered %q, %v", got, err)
	}

	// A port another holds: the app fails with the reason, the proxy that
	// listens stays.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := moved
	busy.Ports.Proxy = taken.Addr().(*net.TCPAddr).Port
	p.env.cfg = &busy
	if l.start() || l.failure() == nil || !strings.Contains(l.failure().Error(), "proxy cannot listen") || !l.listening() {
		t.Fatalf("start on a taken port: %v", l.failure())
	}
}

// A config change that replaces the proxy drains the old one as a stop of
// serve does: a request it holds (a pause) is sent once the app resumes, or
// gets 503 at drain_timeout, never a connection closed without an answer.
func TestListener_replacedDrains(t *testing.T) {
	for _, resume := range []bool{true, false} {
		name := map[bool]string{true: "resumed: sent", false: "still paused: 503 at drain_timeout"}[resume]
		t.Run(name, func(t *testing.T) {
			cfg := unitApp(t, "web:v1")
			cfg.Deployment.DrainTimeout = 300 * time.Millisecond
			p := newPartEnv(t, cfg)
			cs := newAppContainers(p.env)
			p.runContainer(&cs, deploy.Blue, "web:v1", 1, true)
			l := &proxyListener{env: p.env}
			if !l.start() {
				t.Fatal(l.failure())
			}
			defer l.close(false)
			l.route(deploy.Blue, cfg.Ports.Blue)
			l.setTraffic(deploy.TrafficChange{Mode: deploy.TrafficPaused, MaxWait: time.Minute}.State(time.Now()))
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.Ports.Proxy))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			old := l.proxy
			eventually(t, 5*time.Second, func() bool { return old.Held() == 1 }, func() string { return "the request held" })

			moved := *cfg
			moved.Ports.Proxy = unitApp(t, "web:v1").Ports.Proxy // a free port
			p.env.cfg = &moved
			if !l.start() || l.proxy == old {
				t.Fatalf("start again: %v", l.failure())
			}
			start := time.Now()
			if resume {
				if n := l.setTraffic(deploy.Resume().State(time.Now())); n != 1 {
					t.Fatalf("the resume sent %d held requests, want the old proxy's 1", n)
				}
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer to the held request: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resume && (resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "web:v1"):
				t.Fatalf("resumed: %d %q", resp.StatusCode, b)
			case !resume && (resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || time.Since(start) > 3*time.Second):
				t.Fatalf("paused: %d %q after %s", resp.StatusCode, b, time.Since(start))
			}
		})
	}
}
