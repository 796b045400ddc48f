package actors

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/bluegreen/bluegreen/proxy"
)

// startProxy binds the app's proxy listener (or takes over the one an old
// process handed over on an upgrade: deps.listen). A failed bind leaves the
// app failed with the reason; the reconcile tick tries again.
func (a *appActor) startProxy() {
	o := proxy.Options{
		App:            a.cfg.Name,
		ListenAddress:  a.cfg.Proxy.ListenAddress,
		Port:           a.cfg.Ports.Proxy,
		TrustedProxies: a.cfg.Proxy.TrustedProxies,
		Logger:         a.deps.log,
		Stats:          a.metrics.Requests(), // the app's counters, kept across proxies
	}
	err := error(nil)
	if a.deps.listen != nil {
		addr := net.JoinHostPort(o.ListenAddress, strconv.Itoa(o.Port))
		if o.Listener, err = a.deps.listen("tcp", addr); err != nil {
			err = fmt.Errorf("proxy for %s: listen on %s: %w", a.cfg.Name, addr, err)
		}
	}
	p := proxy.New(o)
	if err == nil {
		err = p.Start()
	}
	if err != nil {
		if a.proxyErr == nil || a.proxyErr.Error() != err.Error() {
			a.log.Error("proxy listener", keyErr, err)
		}
		a.proxyErr = fmt.Errorf("proxy cannot listen: %w", err)
		a.refreshStatus()
		return
	}
	if a.proxy != nil { // replaced after a config change: keep routing the same way
		color, addr := a.proxy.Active()
		p.SetTarget(color, addr)
		old, drain := a.proxy, a.cfg.Deployment.DrainTimeout
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			_ = old.Stop(ctx)
		}()
	}
	a.proxy = p
	a.metrics.SetProxy(p)
	a.proxyErr = nil
	a.routeActive()
	a.refreshStatus()
}
