// Package proxy is the per-app HTTP/WebSocket reverse proxy of bluegreen. It
// routes every request to the active color's container, switches atomically,
// and drains the old color: in-flight requests finish there, WebSockets keep
// flowing until they close or a cutoff closes them with 1001 (going away).
//
// The owning app actor is the only writer of the routing state
// (SetTarget, Drain, Stop); the request path reads it from an atomic pointer.
package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Colors the proxy reports connections for.
const (
	ColorBlue  = "blue"
	ColorGreen = "green"
)

// Options configure a Proxy.
type Options struct {
	App            string         // the app's name, used in logs and error bodies
	ListenAddress  string         // "0.0.0.0", "127.0.0.1", "::1"...
	Port           int            // 0 = any free port (tests)
	TrustedProxies []netip.Prefix // peers whose X-Forwarded-* headers are kept
	Logger         *slog.Logger   // nil = slog.Default()
	Stats          *Stats         // counts the answers sent (stats.go); nil = counters of its own
	// Listener, when set, is served instead of binding ListenAddress:Port:
	// a socket taken over from the process that served it before (an
	// upgrade). Stop and Shutdown close it.
	Listener net.Listener

	// Settings are those a config reload may change (Configure).
	Settings

	// AccessLogSink takes the access log's records when
	// Settings.AccessLog is on; nil: no access log. One sink is usually
	// shared by every app of the process.
	AccessLogSink Sink
	// AccessLogFormat is the records' encoding (LogText or LogJSON).
	AccessLogFormat LogFormat
}

// Connections counts the open client connections of one color: HTTP ones
// (with a request in flight there, and for the active color the idle
// keep-alive ones too, since their next request goes there) and WebSockets.
type Connections struct{ HTTP, WebSocket int64 }

// Proxy is one app's reverse proxy. Create it with New, then Start it.
type Proxy struct {
	opts    Options
	log     *slog.Logger
	trusted []netip.Prefix
	tmo     timeouts // client-side timeouts; tests shorten them before Start
	stats   *Stats   // answers sent, per color

	active  atomic.Pointer[target]      // nil: no active color (503)
	canary  atomic.Pointer[canaryRoute] // a canary step's split of the clients (canary.go); nil: none
	set     atomic.Pointer[Settings]
	mode    atomic.Pointer[mode] // the traffic mode (traffic.go)
	down    [2]atomic.Bool       // by colorIndex: the owner said the container is down
	healthy [2]atomic.Uint64     // by colorIndex: passed health checks the owner reported
	holds   holdSet              // the requests held now (hold.go)

	mu      sync.Mutex // guards targets, ln, stopped
	targets []*target  // every routing that may still have traffic
	ln      net.Listener
	port    []string // the listening port, as a shared header value
	stopped bool

	stopping atomic.Bool               // set by Stop: connections end after their request
	connMu   sync.Mutex                // guards conns
	conns    map[*clientConn]time.Time // each with when it was accepted
	open     atomic.Int64              // len(conns), for Connections

	noActiveWarn *warnLimiter // requests refused with no color active (warn.go)
	logs         *logBuffer   // the access log's records on their way to Options.AccessLogSink; nil: none

	stopOnce sync.Once
	stopErr  error
	stopDone chan struct{}
}

// New returns a proxy for o; it does not listen until Start.
func New(o Options) *Proxy {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	stats := o.Stats
	if stats == nil {
		stats = NewStats()
	}
	p := &Proxy{
		opts:     o,
		log:      log.With("app", o.App),
		trusted:  slices.Clone(o.TrustedProxies),
		tmo:      defaultTimeouts,
		stats:    stats,
		stopDone: make(chan struct{}),
	}
	p.noActiveWarn = newWarnLimiter(p.log, "no active color")
	if o.AccessLogSink != nil {
		p.logs = newLogBuffer(o.AccessLogSink)
	}
	p.Configure(o.Settings)
	p.mode.Store(serving)
	p.holds.init(func(cc *clientConn, outcome int) { cc.resumeHeld(outcome) },
		func() int { return p.settings().MaxHeldRequests })
	return p
}

// Start binds the listener (or takes Options.Listener) and serves in the
// background. A failed bind is returned as an error that names the address.
func (p *Proxy) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return fmt.Errorf("proxy for %s: already stopped", p.opts.App)
	}
	if p.ln != nil {
		return fmt.Errorf("proxy for %s: already started on %s", p.opts.App, p.ln.Addr())
	}
	ln := p.opts.Listener
	if ln == nil {
		addr := net.JoinHostPort(p.opts.ListenAddress, strconv.Itoa(p.opts.Port))
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("proxy for %s: listen on %s: %w", p.opts.App, addr, err)
		}
	}
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("proxy for %s: listener on %s is not TCP", p.opts.App, ln.Addr())
	}
	p.ln = ln
	p.port = []string{strconv.Itoa(tcp.Port)}
	p.conns = map[*clientConn]time.Time{}
	go p.accept(ln)
	p.log.Info("proxy listening", "addr", ln.Addr().String())
	return nil
}

// Addr returns the listening address, or nil before Start.
func (p *Proxy) Addr() net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return nil
	}
	return p.ln.Addr()
}

// accept serves every connection of ln on its own goroutine until ln is
// closed.
func (p *Proxy) accept(ln net.Listener) {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if p.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.log.Error("accept failed", "addr", ln.Addr().String(), "err", err, "retry_in", backoff.String())
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		p.serveConn(newRawConn(nc))
	}
}

// serveConn serves the client connection nc on its own goroutine, or
// closes it when the proxy is stopping.
func (p *Proxy) serveConn(nc net.Conn) {
	peer := peerAddr(nc.RemoteAddr().String())
	pp := p.settings().ProxyProtocol
	if pp && !isTrusted(peer, p.trusted) {
		nc.Close() // the PROXY protocol from a peer not trusted: closed without an answer
		return
	}
	// A connection accepted while Stop begins is served too: it was
	// queued on a socket that another process may go on serving.
	cc := p.newClientConn(nc, peer, pp)
	p.connMu.Lock()
	p.conns[cc] = time.Now()
	p.connMu.Unlock()
	p.open.Add(1)
	go cc.serve()
}

func (p *Proxy) dropConn(cc *clientConn) {
	p.connMu.Lock()
	_, ok := p.conns[cc]
	delete(p.conns, cc)
	p.connMu.Unlock()
	if ok {
		p.open.Add(-1)
	}
}

// SetTarget routes every new request to addr (like "127.0.0.1:18000") as
// color; color "" clears the route so requests get 503. A new route ends a
// canary step's split (SetCanary); the same route again changes nothing.
// Requests already running stay where they started; requests the outage
// hold keeps go to the new route. Only the owning app actor calls it.
func (p *Proxy) SetTarget(color, addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.active.Load()
	if old != nil && (old.color != color || old.addr != addr) && p.holds.outageN.Load() > 0 {
		defer p.holds.releaseOutage("") // what waits for the old routing goes to the new one
	}
	if old != nil && old.color == color && old.addr == addr {
		return // a canary step goes on
	}
	c := p.canary.Load()
	p.canary.Store(nil) // every client goes to the one route now
	if color == "" {
		p.active.Store(nil)
		if old != nil {
			p.log.Info("traffic cleared", "from", old.color)
		}
		return
	}
	if i := colorIndex(color); i >= 0 {
		p.down[i].Store(false) // a new route says the container serves
	}
	t := (*target)(nil)
	if c != nil && c.t.color == color && c.t.addr == addr {
		t = c.t // the canary's clients are there already, and its requests in flight count on
	} else {
		t = p.newRoute(color, addr)
	}
	p.active.Store(t)
	from := ""
	if old != nil {
		from = old.color
	}
	p.log.Info("traffic switched", "from", from, "to", color, "addr", addr)
}

// newRoute makes a routing of color to addr, tracked until it drained;
// p.mu is held.
func (p *Proxy) newRoute(color, addr string) *target {
	t := newTarget(color, addr, DefaultMaxIdlePerTarget, p.stats.Color(color))
	t.failedWarn = newWarnLimiter(p.log, "upstream failed", "color", color, "addr", addr)
	t.brokenWarn = newWarnLimiter(p.log, "upstream response broken", "color", color, "addr", addr)
	t.cutWarn = newWarnLimiter(p.log, "request cut", "color", color)
	p.targets = append(p.targets, t)
	return t
}

// Active returns the color and address new requests go to ("" when none).
func (p *Proxy) Active() (color, addr string) {
	if t := p.active.Load(); t != nil {
		return t.color, t.addr
	}
	return "", ""
}

// Connections returns the open client connections per color (see
// Connections); "blue" and "green" are always present. An HTTP connection
// with a request in flight counts for the color serving it; one between
// requests (or before its first) counts for the active color, where its
// next request goes, and for none when no color is active.
func (p *Proxy) Connections() map[string]Connections {
	m := map[string]Connections{ColorBlue: {}, ColorGreen: {}}
	active := p.active.Load()
	busy := int64(0)
	for _, t := range p.allTargets() {
		c := m[t.color]
		n, ws := t.httpN.Load(), t.wsN.Load()
		c.HTTP += n
		c.WebSocket += ws
		busy += n + ws
		m[t.color] = c
	}
	if active != nil {
		// Read apart from the counts above: clamp what a connection
		// that moved meanwhile could make negative.
		if idle := p.open.Load() - busy; idle > 0 {
			c := m[active.color]
			c.HTTP += idle
			m[active.color] = c
		}
	}
	return m
}

// acquire counts cc's new request on the target it goes to and returns
// it: the active one, or during a canary step the canary's when the
// client's bucket is under its percent (canary.go). The re-check after
// counting makes a concurrent switch and drain safe: a drain that saw zero
// requests on the old target cannot miss this one, because the switch
// happened before the drain began and the re-check sees it.
func (p *Proxy) acquire(cc *clientConn) *target {
	for {
		t, c := p.active.Load(), p.canary.Load()
		if c != nil && cc.canaryBucket() < c.percent {
			t = c.t
		}
		if t == nil {
			return nil
		}
		t.httpN.Add(1)
		if p.canary.Load() == c && (c != nil && t == c.t || p.active.Load() == t) {
			return t
		}
		t.doneHTTP()
	}
}

func (p *Proxy) allTargets() []*target {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.targets)
}

// waitEmpty waits up to d for every target to have nothing in flight.
func (p *Proxy) waitEmpty(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		busy := false
		for _, t := range p.allTargets() {
			busy = busy || !t.empty()
		}
		if !busy {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// forget drops a drained target from the list once it is not active.
func (p *Proxy) forget(t *target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.routes(t) {
		return
	}
	p.targets = slices.DeleteFunc(p.targets, func(x *target) bool { return x == t })
}
