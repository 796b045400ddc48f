// Package config reads and validates the app configs of bluegreen: one YAML
// file per app in the apps folder (docs/config.md).
//
// Reading an app goes defaults → strict decode (unknown keys are errors) →
// normalize → validate. Every problem of every file is collected as an *Error
// with the file, line, column and field path, so a user sees all of them at
// once.
package config

import (
	"net/netip"
	"time"
)

// Defaults of the optional settings (docs/config.md).
const (
	DefaultMethod             = "GET"
	DefaultTimeout            = 5 * time.Second
	DefaultInterval           = 1 * time.Second
	DefaultHealthyThreshold   = 2
	DefaultUnhealthyThreshold = 3
	DefaultRestartPolicy      = "unless-stopped"
	DefaultPullPolicy         = PullIfNotPresent
	DefaultDrainTimeout       = 30 * time.Second
	DefaultStartupTimeout     = 60 * time.Second
	DefaultHealthCheckTimeout = 120 * time.Second
	DefaultStopTimeout        = 10 * time.Second
	DefaultListenAddress      = "0.0.0.0"
	DefaultKeepImages         = 5
	// Defaults of the proxy's settings (docs/traffic.md, "The proxy's
	// settings"); max_request_body has none (0: no limit), nor
	// maintenance_page (the built-in page).
	DefaultOutageHold      = 10 * time.Second
	DefaultResponseTimeout = 60 * time.Second
	DefaultMaxHeldRequests = 10000
	DefaultAccessLog       = true
	DefaultProxyProtocol   = false
)

// Bounds of the proxy's settings.
const (
	// MaxOutageHold bounds proxy.outage_hold: a client waits that long at
	// most for a container that Docker or bluegreen restarts.
	MaxOutageHold = 10 * time.Minute
	// MaxResponseTimeout bounds proxy.response_timeout.
	MaxResponseTimeout = 24 * time.Hour
	// MaxHeldRequests bounds proxy.max_held_requests: each held request
	// keeps its connection and its head (a few KiB).
	MaxHeldRequests = 1000000
	// MaxMaintenancePage bounds the size of proxy.maintenance_page's file.
	MaxMaintenancePage = 1 << 20
)

// MaxKeepImages bounds docker.keep_images; 0 (keep every image) is the way
// to turn retention off.
const MaxKeepImages = 10000

// Pull policies (docker.pull_policy).
const (
	// PullIfNotPresent uses an image already in the local Docker as is and
	// pulls a missing one.
	PullIfNotPresent = "if-not-present"
	// PullAlways pulls the image before every deployment.
	PullAlways = "always"
	// PullNever never pulls: a missing image fails the deployment.
	PullNever = "never"
)

// MinMemoryLimit is Docker's smallest accepted memory limit (6 MiB).
const MinMemoryLimit = 6 << 20

// App is the config of one app, read from one file of the apps folder.
type App struct {
	Name        string
	Image       string
	Ports       Ports
	Proxy       Proxy
	HealthCheck HealthCheck
	Docker      Docker
	Deployment  Deployment
	File        string // the file it was read from
}

// Ports are the host ports of an app: the proxy's public port and the ports
// the blue and green containers are published on (on 127.0.0.1).
type Ports struct{ Proxy, Blue, Green int }

// Proxy configures the app's reverse proxy.
type Proxy struct {
	ListenAddress  string         // default "0.0.0.0"; an IP address or "localhost"
	TrustedProxies []netip.Prefix // IPs become /32 or /128 prefixes

	// OutageHold is how long a request waits for the active container to
	// come back (it is not running, or refuses the connection) before it
	// gets 502; 0 turns the hold off.
	OutageHold time.Duration
	// ResponseTimeout bounds the wait for an answer's head once the
	// request was sent (504 after it).
	ResponseTimeout time.Duration
	// MaxRequestBody is the largest request body in bytes (413 beyond);
	// 0: no limit.
	MaxRequestBody int64
	// MaxHeldRequests bounds the requests held at once (a pause, the
	// outage hold).
	MaxHeldRequests int
	// MaintenancePage is the file of proxy.maintenance_page, as written
	// ("" for the built-in page); a relative path is relative to the
	// config file's folder.
	MaintenancePage string
	// MaintenanceHTML is that file's content, read when the config was
	// loaded; nil for the built-in page.
	MaintenanceHTML []byte
	// AccessLog writes one record per finished request.
	AccessLog bool
	// ProxyProtocol makes every connection begin with a PROXY protocol
	// header, from a peer in TrustedProxies only.
	ProxyProtocol bool
}

// HealthCheck configures the HTTP health checks of a container.
type HealthCheck struct {
	Path               string // must start with "/"
	Method             string // default GET; upper-cased; GET HEAD POST PUT PATCH DELETE OPTIONS
	Timeout, Interval  time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
	ExpectedStatus     []int // empty = any 2xx; each 100-599
}

// Accepts reports whether a health check answered with the HTTP status code
// passes: one of ExpectedStatus, or any 2xx when ExpectedStatus is empty.
func (h HealthCheck) Accepts(code int) bool {
	if len(h.ExpectedStatus) == 0 {
		return code >= 200 && code <= 299
	}
	for _, c := range h.ExpectedStatus {
		if c == code {
			return true
		}
	}
	return false
}

// Docker holds the container settings of an app.
type Docker struct {
	ExposePort    int
	Environment   []string // "K=V"; a YAML map is turned into K=V sorted by key
	Volumes       []string // "host:container[:opts]"
	MemoryLimit   int64    // bytes, 0 = none
	CPULimit      float64  // CPUs, 0 = none
	RestartPolicy string   // no | always | unless-stopped | on-failure | on-failure:N
	PullPolicy    string   // if-not-present | always | never
	Network       string   // empty = Docker's default
	Command       []string // empty = the image's own
	// KeepImages is how many of the newest distinct images the app's
	// deployments used stay in Docker after a completed deployment; older
	// ones are removed by tag (docs/deployments.md, "Image retention"). 0 keeps every image.
	KeepImages int
}

// Deployment holds the timeouts of a deployment (docs/config.md,
// "deployment"), and how it is verified on live traffic
// (docs/verification.md).
type Deployment struct {
	DrainTimeout, WebSocketDrainTimeout, StartupTimeout, HealthCheckTimeout, StopTimeout time.Duration
	// Verify, when set, watches the new color's real traffic after the
	// switch (and in each canary step) and rolls back on failure; nil: no
	// verification.
	Verify *Verify
	// Canary are the percents of clients routed to the new color, one
	// verify window each, before the switch; strictly increasing, each
	// 1-99. Empty: no canary steps. Only with Verify.
	Canary []int
}

// defaults returns an App with every optional setting at its default.
// WebSocketDrainTimeout is left 0: it follows DrainTimeout once that is known.
func defaults(file string) *App {
	return &App{
		File: file,
		Proxy: Proxy{
			ListenAddress:   DefaultListenAddress,
			OutageHold:      DefaultOutageHold,
			ResponseTimeout: DefaultResponseTimeout,
			MaxHeldRequests: DefaultMaxHeldRequests,
			AccessLog:       DefaultAccessLog,
			ProxyProtocol:   DefaultProxyProtocol,
		},
		HealthCheck: HealthCheck{
			Method:             DefaultMethod,
			Timeout:            DefaultTimeout,
			Interval:           DefaultInterval,
			HealthyThreshold:   DefaultHealthyThreshold,
			UnhealthyThreshold: DefaultUnhealthyThreshold,
		},
		Docker: Docker{
			RestartPolicy: DefaultRestartPolicy,
			PullPolicy:    DefaultPullPolicy,
			KeepImages:    DefaultKeepImages,
		},
		Deployment: Deployment{
			DrainTimeout:       DefaultDrainTimeout,
			StartupTimeout:     DefaultStartupTimeout,
			HealthCheckTimeout: DefaultHealthCheckTimeout,
			StopTimeout:        DefaultStopTimeout,
		},
	}
}
