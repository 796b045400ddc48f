package actors

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

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
