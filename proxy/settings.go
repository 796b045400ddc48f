package proxy

import (
	"io"
	"time"
)

// Defaults of the settings of docs/traffic.md. The config layer applies
// them; a zero Settings field means what its comment says, which is not
// always the default.
const (
	// DefaultOutageHold is how long a request waits for the active
	// color's container to come back (proxy.outage_hold).
	DefaultOutageHold = 10 * time.Second
	// DefaultResponseTimeout bounds the wait for an answer's head once the
	// request was sent (proxy.response_timeout).
	DefaultResponseTimeout = 60 * time.Second
	// DefaultMaxHeldRequests is how many requests a paused app holds at
	// most (proxy.max_held_requests).
	DefaultMaxHeldRequests = 10000
	// DefaultMaxWait is how long a paused app holds a request (a pause's
	// max_wait).
	DefaultMaxWait = 30 * time.Second
	// DefaultRetryAfter is the Retry-After of a maintenance answer (a
	// maintenance's retry_after).
	DefaultRetryAfter = 60 * time.Second
	// PauseRetryAfter is the Retry-After, in seconds, of the 503 a
	// request gets when it was held longer than max_wait, or when too
	// many are held.
	PauseRetryAfter = 5
)

// Settings are the proxy settings that a config reload may change while
// the proxy runs (docs/traffic.md, "The proxy's settings"). New takes them
// from Options; Configure replaces them, for the requests (and, for
// ProxyProtocol, the connections) that begin after the call.
type Settings struct {
	// OutageHold: a request of which nothing reached the container waits
	// up to this long when the active color's container is down
	// (ContainerDown) or refuses the connection, or when the connection of
	// a GET, HEAD or OPTIONS without a body is lost before its answer
	// began, and goes once the owner says it passed a health check
	// (ContainerHealthy); then 502. 0: off, 502 at once.
	OutageHold time.Duration
	// ResponseTimeout bounds the time from the whole request sent to the
	// first byte of the answer's head: then 504 (or the connection closed
	// when an answer was begun) and that upstream connection closed. It
	// bounds neither an answer's body nor a WebSocket after its handshake.
	// 0: no bound.
	ResponseTimeout time.Duration
	// MaxRequestBody is the largest request body in bytes: a larger
	// Content-Length gets 413 before anything is sent; a chunked body that
	// grows past it is cut (413 when no answer was begun, and the
	// connection closed). 0: no limit.
	MaxRequestBody int64
	// MaxHeldRequests bounds the requests held at once (a pause, the
	// outage hold); more get 503 (a pause) or 502 (an outage) at once.
	// 0: DefaultMaxHeldRequests.
	MaxHeldRequests int
	// AccessLog writes one record per finished request to
	// Options.AccessLogSink (when it is set).
	AccessLog bool
	// ProxyProtocol: every connection must begin with a PROXY protocol
	// header (v1 or v2) and come from a peer in Options.TrustedProxies;
	// others are closed without an answer. The header's source address
	// is the client's.
	ProxyProtocol bool
}

// Sink takes the access log's records. Each Write is one whole record,
// ending in a newline; Write is called from many connections at once, must
// not block (drop the record instead: a slow log must never stall a
// request) and must not keep p once it returns. internal/logsink's Sink is
// one; so is any io.Writer that meets these rules.
type Sink interface {
	Write(p []byte) (n int, err error)
}

var _ Sink = io.Discard

// LogFormat is the encoding of access log records.
type LogFormat uint8

// Formats of access log records, as serve's other lines (--log-format).
const (
	// LogText is log/slog's text format: time=... level=INFO msg=request app=...
	LogText LogFormat = iota
	// LogJSON is log/slog's JSON format: {"time":...,"level":"INFO","msg":"request","app":...}
	LogJSON
)

// settings returns the settings in force now.
func (p *Proxy) settings() *Settings { return p.set.Load() }

// Configure replaces the settings (see Settings): requests that begin
// after the call use them; requests held already keep their deadlines.
// Only the owning app actor calls it.
func (p *Proxy) Configure(s Settings) {
	if s.MaxHeldRequests <= 0 {
		s.MaxHeldRequests = DefaultMaxHeldRequests
	}
	p.set.Store(&s)
}
