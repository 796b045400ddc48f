package actors

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/proxy"
)

// proxyListener is the app's proxy: its listener and where it routes. Only its
// methods start, replace and stop the proxy; the app actor says where it
// routes (routeActive) and when it drains.
type proxyListener struct {
	env   *env
	proxy *proxy.Proxy // nil until it first listened
	err   error        // the proxy cannot listen
}

// start binds the app's proxy listener (or takes over the one an old
// process handed over on an upgrade: deps.listen). A proxy started again
// after a config change routes as the one it replaces, which drains. A
// failed bind leaves the app failed with the reason (failure); the
// reconcile tick tries again. It reports whether the proxy listens anew.
func (l *proxyListener) start() bool {
	e := l.env
	o := proxy.Options{
		App:            e.cfg.Name,
		ListenAddress:  e.cfg.Proxy.ListenAddress,
		Port:           e.cfg.Ports.Proxy,
		TrustedProxies: e.cfg.Proxy.TrustedProxies,
		Logger:         e.deps.log,
		Stats:          e.metrics.Requests(), // the app's counters, kept across proxies
	}
	err := error(nil)
	if e.deps.listen != nil {
		addr := net.JoinHostPort(o.ListenAddress, strconv.Itoa(o.Port))
		if o.Listener, err = e.deps.listen("tcp", addr); err != nil {
			err = fmt.Errorf("proxy for %s: listen on %s: %w", e.cfg.Name, addr, err)
		}
	}
	p := proxy.New(o)
	if err == nil {
		err = p.Start()
	}
	if err != nil {
		if l.err == nil || l.err.Error() != err.Error() {
			e.log.Error("proxy listener", keyErr, err)
		}
		l.err = fmt.Errorf("proxy cannot listen: %w", err)
		return false
	}
	if l.proxy != nil { // replaced after a config change: keep routing the same way
		color, addr := l.proxy.Active()
		p.SetTarget(color, addr)
		old, drain := l.proxy, e.cfg.Deployment.DrainTimeout
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			_ = old.Stop(ctx)
		}()
	}
	l.proxy = p
	e.metrics.SetProxy(p)
	l.err = nil
	return true
}

// listening reports whether the proxy listens.
func (l *proxyListener) listening() bool { return l.proxy != nil }

// failure is why the proxy cannot listen; nil when it can.
func (l *proxyListener) failure() error { return l.err }

// route points the proxy at color's container on port (a no-op before it
// listened).
func (l *proxyListener) route(color deploy.Color, port int) {
	if l.proxy == nil {
		return
	}
	// The proxy names colors by their strings; it knows no other vocabulary.
	l.proxy.SetTarget(string(color), net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
}

// drainer returns what lets color's requests finish and closes its
// WebSockets, bounded by the app's timeouts; nil before the proxy listened.
func (l *proxyListener) drainer(color deploy.Color) func() proxy.DrainResult {
	p, dc := l.proxy, l.env.cfg.Deployment
	if p == nil {
		return nil
	}
	return func() proxy.DrainResult {
		return p.Drain(context.Background(), string(color), dc.DrainTimeout, dc.WebSocketDrainTimeout)
	}
}

// connections counts the proxy's open connections per color.
func (l *proxyListener) connections() map[deploy.Color]deploy.Connections {
	out := map[deploy.Color]deploy.Connections{deploy.Blue: {}, deploy.Green: {}}
	if l.proxy != nil {
		for color, n := range l.proxy.Connections() {
			out[deploy.Color(color)] = deploy.Connections{HTTP: n.HTTP, WebSocket: n.WebSocket}
		}
	}
	return out
}

// shutdown drains the proxy in the background (the stop of serve): in
// flight requests up to drain_timeout, WebSockets until
// websocket_drain_timeout, then a 1001 close; ctx cuts it short. done is
// closed once it ended.
func (l *proxyListener) shutdown(ctx context.Context) (done <-chan struct{}) {
	ch := make(chan struct{})
	p, dc := l.proxy, l.env.cfg.Deployment
	go func() {
		defer close(ch)
		if p != nil {
			_ = p.Shutdown(ctx, dc.DrainTimeout, dc.WebSocketDrainTimeout)
		}
	}()
	return ch
}

// close stops the proxy of an actor that stops alone: an app removed from
// the configs (retired) lets its requests finish as on a stop; one
// replaced after a failure frees the port for the next actor soon.
func (l *proxyListener) close(retired bool) {
	if l.proxy == nil {
		return
	}
	if retired {
		dc := l.env.cfg.Deployment
		ctx, cancel := context.WithTimeout(context.Background(), max(dc.DrainTimeout, dc.WebSocketDrainTimeout)+5*time.Second)
		defer cancel()
		_ = l.proxy.Shutdown(ctx, dc.DrainTimeout, dc.WebSocketDrainTimeout)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.proxy.Stop(ctx)
}
