package actors

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/proxy"
)

// proxyListener is the app's proxy: its listener, where it routes, its
// settings, its traffic mode and which colors it knows to be down. Only its
// methods start, replace, tell and stop the proxy; the app actor says where
// it routes (routeActive), in which mode (setTraffic), which container is
// down or back (containerDown, containerHealthy) and when it drains.
type proxyListener struct {
	env   *env
	proxy *proxy.Proxy                // nil until it first listened
	err   error                       // the proxy cannot listen
	cur   atomic.Pointer[proxy.Proxy] // proxy, for holding (read from the health actors)

	// Proxies a config change replaced, while they drain: they are told
	// what proxy is told (the mode, the route, the containers' health), so
	// that what they hold goes as proxy's would.
	replaced []replacedProxy

	// What the proxy was told, which a proxy that replaces it is told
	// before it listens.
	mode deploy.TrafficState
	down map[deploy.Color]time.Time // when the proxy was told the color is down
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
		Settings:       settingsOf(e.cfg),

		AccessLogSink:   e.deps.accessLog.sink,
		AccessLogFormat: e.deps.accessLog.format,
	}
	err := error(nil)
	if e.deps.listen != nil {
		addr := net.JoinHostPort(o.ListenAddress, strconv.Itoa(o.Port))
		if o.Listener, err = e.deps.listen("tcp", addr); err != nil {
			err = fmt.Errorf("proxy for %s: listen on %s: %w", e.cfg.Name, addr, err)
		}
	}
	p := proxy.New(o)
	l.tell(p) // a paused app holds from the first request
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
		if color, addr, percent := l.proxy.Canary(); percent > 0 {
			p.SetCanary(color, addr, percent) // a canary step goes on
		}
		l.retire(l.proxy)
	}
	l.proxy = p
	l.cur.Store(p)
	e.metrics.SetProxy(p)
	l.err = nil
	return true
}

// replacedProxy is a proxy a config change replaced, until its drain
// ended (done closed).
type replacedProxy struct {
	p    *proxy.Proxy
	done <-chan struct{}
}

// retire drains old, which a new proxy replaced, as a stop of serve does
// (docs/proxy.md, "Drains"): its requests in flight finish up to
// drain_timeout, its WebSockets get 1001 at websocket_drain_timeout, and
// the requests it holds are sent when the app serves again, or get the
// answer of an expired hold at drain_timeout (503 for a pause), never a
// closed connection.
func (l *proxyListener) retire(old *proxy.Proxy) {
	dc := l.env.cfg.Deployment
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), max(dc.DrainTimeout, dc.WebSocketDrainTimeout)+5*time.Second)
		defer cancel()
		_ = old.Shutdown(ctx, dc.DrainTimeout, dc.WebSocketDrainTimeout)
	}()
	l.replaced = append(l.draining(), replacedProxy{p: old, done: done})
}

// draining returns the replaced proxies that still drain, and forgets the
// others.
func (l *proxyListener) draining() []replacedProxy {
	live := l.replaced[:0]
	for _, r := range l.replaced {
		select {
		case <-r.done:
		default:
			live = append(live, r)
		}
	}
	clear(l.replaced[len(live):])
	l.replaced = live
	return live
}

// each calls tell with the proxy and with each replaced one that drains.
func (l *proxyListener) each(tell func(p *proxy.Proxy)) {
	if l.proxy != nil {
		tell(l.proxy)
	}
	for _, r := range l.draining() {
		tell(r.p)
	}
}

// settingsOf is the proxy's part of an app's config (docs/traffic.md,
// "The proxy's settings").
func settingsOf(cfg *config.App) proxy.Settings {
	pc := cfg.Proxy
	return proxy.Settings{OutageHold: pc.OutageHold, ResponseTimeout: pc.ResponseTimeout, MaxRequestBody: pc.MaxRequestBody,
		MaxHeldRequests: pc.MaxHeldRequests, AccessLog: pc.AccessLog, ProxyProtocol: pc.ProxyProtocol}
}

// tell gives p what the proxy before it was told: the traffic mode and
// the colors that are down.
func (l *proxyListener) tell(p *proxy.Proxy) {
	if !l.mode.Serving() {
		l.apply(p, l.mode)
	}
	for color := range l.down {
		p.ContainerDown(string(color))
	}
}

// configure gives the proxy the settings of the app's config, which
// changed (a reload); a maintenance takes the page of the new config.
func (l *proxyListener) configure(old *config.App) {
	if l.proxy == nil {
		return
	}
	cfg := l.env.cfg
	l.proxy.Configure(settingsOf(cfg))
	if l.mode.Mode == deploy.TrafficMaintenance && !bytes.Equal(old.Proxy.MaintenanceHTML, cfg.Proxy.MaintenanceHTML) {
		l.apply(l.proxy, l.mode)
	}
}

// setTraffic puts the proxy in the traffic mode t. It returns how many
// held requests a resume sent, or a maintenance answered.
func (l *proxyListener) setTraffic(t deploy.TrafficState) int {
	l.mode = t
	n := 0
	l.each(func(p *proxy.Proxy) { n += l.apply(p, t) })
	return n
}

// apply puts p in the traffic mode t.
func (l *proxyListener) apply(p *proxy.Proxy, t deploy.TrafficState) int {
	switch t.Mode {
	case deploy.TrafficPaused:
		p.Pause(t.MaxWait)
		return 0
	case deploy.TrafficMaintenance:
		return p.Maintenance(proxy.MaintenancePage{Message: t.Message, RetryAfter: t.RetryAfter, Page: l.env.cfg.Proxy.MaintenanceHTML})
	}
	if p.Traffic().Mode == proxy.ModeServing {
		return 0
	}
	return p.Resume()
}

// containerDown tells the proxy that color's container is not running: with
// proxy.outage_hold, its requests wait for it (docs/traffic.md, "Outage
// hold"). A color already down is left as it is.
func (l *proxyListener) containerDown(color deploy.Color) {
	if _, down := l.down[color]; down {
		return
	}
	if l.down == nil {
		l.down = map[deploy.Color]time.Time{}
	}
	l.down[color] = time.Now()
	l.each(func(p *proxy.Proxy) { p.ContainerDown(string(color)) })
	l.env.log.Info("requests to the active container wait for it", keyColor, color, "outage_hold", l.env.cfg.Proxy.OutageHold.String())
}

// containerHealthy tells the proxy that color's container passed a health
// check that began at checked: the requests held for it go now. It costs
// the proxy an atomic load when nothing is held. A check that began before
// the container was known to be down says nothing of it now (it passed
// before the container died, and its answer came after): it is ignored.
func (l *proxyListener) containerHealthy(color deploy.Color, checked time.Time) {
	if since, down := l.down[color]; down {
		if checked.Before(since) {
			return
		}
		delete(l.down, color)
		l.env.log.Info("the active container is back: held requests go", keyColor, color)
	}
	l.each(func(p *proxy.Proxy) { p.ContainerHealthy(string(color), checked) })
}

// holding reports whether the proxy holds requests now; safe from any
// goroutine (the health actors ask it after each pass).
func (l *proxyListener) holding() bool {
	p := l.cur.Load()
	return p != nil && p.Held() > 0
}

// held is how many requests the proxy holds now.
func (l *proxyListener) held() int {
	if l.proxy == nil {
		return 0
	}
	return l.proxy.Held()
}

// listening reports whether the proxy listens.
func (l *proxyListener) listening() bool { return l.proxy != nil }

// failure is why the proxy cannot listen; nil when it can.
func (l *proxyListener) failure() error { return l.err }

// route points the proxy at color's container on port (a no-op before it
// listened).
func (l *proxyListener) route(color deploy.Color, port int) {
	// The proxy names colors by their strings; it knows no other vocabulary.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l.each(func(p *proxy.Proxy) { p.SetTarget(string(color), addr) })
}

// canary routes percent of the clients to color's container on port, the
// others to the active color (a canary step, docs/verification.md);
// percent 0 ends the split. A no-op before the proxy listened.
func (l *proxyListener) canary(color deploy.Color, port, percent int) {
	if percent <= 0 {
		l.each(func(p *proxy.Proxy) { p.SetCanary("", "", 0) })
		return
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l.each(func(p *proxy.Proxy) { p.SetCanary(string(color), addr, percent) })
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
	p, dc, replaced := l.proxy, l.env.cfg.Deployment, l.draining()
	go func() {
		defer close(ch)
		if p != nil {
			_ = p.Shutdown(ctx, dc.DrainTimeout, dc.WebSocketDrainTimeout)
		}
		for _, r := range replaced { // draining already, within the same bounds
			select {
			case <-r.done:
			case <-ctx.Done():
				return
			}
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
