package proxy

import (
	"time"
)

// Traffic control (docs/traffic.md, "Pause, maintenance, resume"): an app
// serves, holds every new request (paused) or answers every new request
// with a maintenance page. The mode sits behind an atomic pointer that the
// request path loads once per request; the owning app actor is its only
// writer (Pause, Maintenance, Resume). Held requests cost no goroutine:
// their connections wait in the idle poller with the request's head
// (hold.go).

// Mode is the traffic mode of an app, spelled as on the wire.
type Mode string

// Traffic modes.
const (
	ModeServing     Mode = "serving"
	ModePaused      Mode = "paused"
	ModeMaintenance Mode = "maintenance"
)

// Traffic is the traffic mode of a proxy and what it holds now.
type Traffic struct {
	Mode       Mode
	MaxWait    time.Duration // a pause's max_wait (ModePaused)
	Message    string        // a maintenance's message (ModeMaintenance)
	RetryAfter time.Duration // a maintenance's retry_after (ModeMaintenance)
	Held       int           // requests held now: by the pause, and by the outage hold
}

// MaintenancePage is what a maintenance answers: 503 with Retry-After
// (RetryAfter, rounded up to whole seconds) and, when the request's Accept
// names text/html, Page (the built-in page when nil) with every
// "{{message}}" replaced by Message, HTML-escaped; otherwise JSON
// {"error": {"code": "maintenance", "message": Message}}.
type MaintenancePage struct {
	Message    string
	RetryAfter time.Duration
	Page       []byte // proxy.maintenance_page's bytes; nil: the built-in page
}

// mode is one traffic mode as the request path reads it; immutable once
// stored.
type mode struct {
	Traffic                    // Held unused
	maint   *maintenanceAnswer // ModeMaintenance: the answers, rendered once
}

var serving = &mode{Traffic: Traffic{Mode: ModeServing}}

// Pause makes the proxy hold every new request, on new and on open
// keep-alive connections (WebSocket handshakes too), until Resume or
// Maintenance; a request held longer than maxWait (0: DefaultMaxWait) gets
// 503 with Retry-After: 5, and one beyond Settings.MaxHeldRequests gets it
// at once. Requests in flight go on; open WebSockets stay. A Pause of a
// paused proxy changes maxWait, for the requests already held too (from
// when each came). It may be called before Start. Only the owning app
// actor calls it.
func (p *Proxy) Pause(maxWait time.Duration) {
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	p.setMode(&mode{Traffic: Traffic{Mode: ModePaused, MaxWait: maxWait}})
	p.holds.paused(maxWait)
	p.log.Info("traffic paused", "max_wait", maxWait.String())
}

// Maintenance makes the proxy answer every new request with the
// maintenance answer of m (see MaintenancePage), and gives it to the
// requests a pause holds now; it returns how many those were. Requests in
// flight go on; open WebSockets stay. It may be called before Start. Only
// the owning app actor calls it.
func (p *Proxy) Maintenance(m MaintenancePage) int {
	if m.RetryAfter <= 0 {
		m.RetryAfter = DefaultRetryAfter
	}
	md := &mode{Traffic: Traffic{Mode: ModeMaintenance, Message: m.Message, RetryAfter: m.RetryAfter},
		maint: renderMaintenance(m)}
	p.setMode(md)
	n := p.holds.releasePaused(releaseMaintenance)
	p.log.Info("traffic in maintenance", "retry_after", m.RetryAfter.String(), "held_answered", n)
	return n
}

// Resume ends a pause or a maintenance: new requests are served again, and
// the requests a pause held go to the color active now, in the order they
// came. It returns how many requests were held and are now sent. Only the
// owning app actor calls it.
func (p *Proxy) Resume() int {
	p.setMode(serving)
	n := p.holds.releasePaused(releaseSend)
	p.log.Info("traffic resumed", "held", n)
	return n
}

// Traffic returns the traffic mode and the number of requests held now.
func (p *Proxy) Traffic() Traffic {
	t := p.mode.Load().Traffic
	t.Held = p.Held()
	return t
}

// Held returns how many requests are held now, by a pause and by the
// outage hold (the gauge bluegreen_proxy_held_requests). It takes no lock.
func (p *Proxy) Held() int { return int(p.holds.n.Load()) }

// setMode stores the mode the request path reads.
func (p *Proxy) setMode(m *mode) {
	p.mu.Lock() // the owner's writes are serialized; readers never lock
	defer p.mu.Unlock()
	p.mode.Store(m)
}

// ContainerDown tells the proxy that color's container is not running (it
// exited, and Docker or the owner is starting it again). With
// Settings.OutageHold set, requests for that color wait (up to OutageHold)
// instead of being sent, until ContainerHealthy. Docker's port proxy may
// accept connections while the container's app does not listen yet: only
// a passed health check says it is back. Only the owning app actor calls
// it.
func (p *Proxy) ContainerDown(color string) {
	if i := colorIndex(color); i >= 0 {
		p.down[i].Store(true)
		p.closeIdleOf(color)
	}
}

// closeIdleOf closes the idle upstream connections of color's active
// route: they lead to a container that is gone, and a request released by
// the outage hold must not meet them (more than a few stale ones in a row
// end in a 502).
func (p *Proxy) closeIdleOf(color string) {
	if t := p.active.Load(); t != nil && t.color == color {
		t.pool.closeIdle()
	}
}

// ContainerHealthy tells the proxy that color's container passed a health
// check that began at checked: requests the outage hold keeps for it go
// now, but for those whose connection to it was lost after the check
// began (it passed before the container died: docs/proxy.md, "Retries").
// The owner calls it after every passed check of the active color (it
// costs two atomic stores and a load when nothing is held), and at once
// when a restarted container passes its first.
func (p *Proxy) ContainerHealthy(color string, checked time.Time) {
	i := colorIndex(color)
	if i < 0 {
		return
	}
	if p.down[i].Swap(false) {
		p.closeIdleOf(color) // put back by requests that ended as it died
	}
	// Both before outageN is read: a hold that missed this release sees
	// them (holdSet.insert).
	p.holds.passed[i].Store(checked.UnixNano())
	p.healthy[i].Add(1)
	if p.holds.outageN.Load() > 0 {
		p.holds.releasePassed(color, checked)
	}
}

// healthyGen counts color's passed health checks (ContainerHealthy).
func (p *Proxy) healthyGen(color string) uint64 {
	if i := colorIndex(color); i >= 0 {
		return p.healthy[i].Load()
	}
	return 0
}

// isDown reports whether the owner said color's container is down.
func (p *Proxy) isDown(color string) bool {
	i := colorIndex(color)
	return i >= 0 && p.down[i].Load()
}

func colorIndex(color string) int {
	switch color {
	case ColorBlue:
		return 0
	case ColorGreen:
		return 1
	}
	return -1
}
