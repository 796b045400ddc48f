// Package api is bluegreen's management API over HTTP (docs/api.md): the
// server that serves it over a Backend, the client that `bluegreen ctl`
// uses, the listener rules and the metrics. The shapes it sends are those of
// package deploy; this package alone maps an error's deploy.Code to an HTTP
// status.
package api

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/bluegreen/bluegreen/dashboard"
)

// MaxBodyBytes is the largest request body the server accepts (413 beyond).
const MaxBodyBytes = 1 << 20

// Defaults of the list routes when the query gives no limit.
const (
	DefaultHistoryLimit = 20
	DefaultHealthLimit  = 20
	DefaultEventsLimit  = 100
	DefaultLogsTail     = 100
	MaxLimit            = 10000
)

// crossOrigin refuses state-changing requests that a browser sends from
// another origin (a form or fetch on a foreign page), which the Host check
// alone lets through when that page targets 127.0.0.1 itself.
var crossOrigin = http.NewCrossOriginProtection()

// NewServer returns the management API handler (docs/api.md) over b.
// Requests whose Host is not a loopback name or address are refused with 403.
func NewServer(b Backend, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &server{b: b, log: logger, mux: http.NewServeMux()}
	s.routes()
	return s
}

type server struct {
	b        Backend
	log      *slog.Logger
	mux      *http.ServeMux
	patterns []string // every route, "METHOD /path"
}

func (s *server) routes() {
	s.handle("POST /api/apps/{name}/deploy", s.handleDeploy)
	s.handle("POST /api/apps/{name}/rollback", s.handleRollback)
	s.handle("POST /api/apps/{name}/switch", s.handleSwitch)
	s.handle("POST /api/apps/{name}/promote", s.handlePromote)
	s.handle("POST /api/apps/{name}/pause", s.handlePause)
	s.handle("POST /api/apps/{name}/maintenance", s.handleMaintenance)
	s.handle("POST /api/apps/{name}/resume", s.handleResume)
	s.handle("GET /api/apps", s.handleApps)
	s.handle("GET /api/apps/{name}/status", s.handleApp)
	s.handle("GET /api/apps/{name}/history", s.handleHistory)
	s.handle("GET /api/apps/{name}/health", s.handleHealth)
	s.handle("GET /api/apps/{name}/logs", s.handleLogs)
	s.handle("GET /api/apps/{name}/images", s.handleImages)
	s.handle("GET /api/deployments/{id}", s.handleDeployment)
	s.handle("GET /api/events", s.handleEvents)
	s.handle("GET /api/events/stream", s.handleEventStream)
	s.handle("POST /api/reload", s.handleReload)
	s.handle("POST /api/upgrade", s.handleUpgrade)
	s.handle("GET /health", s.handleOverall)
	s.handle("GET /metrics", s.handleMetrics)
	s.handle("GET /{$}", dashboard.Handler().ServeHTTP)                   // the dashboard page (docs/dashboard.md)
	s.handle("GET "+dashboard.AssetPrefix, dashboard.Handler().ServeHTTP) // its script, style and icon
}

// handle routes pattern to h and remembers the pattern.
func (s *server) handle(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

// ServeHTTP applies the Host, size and content-type rules, then routes.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		s.log.Debug("api request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration_ms", time.Since(start).Milliseconds())
	}()
	if !loopbackHost(r.Host) {
		s.writeError(rec, r, Errorf(http.StatusForbidden, "forbidden",
			"host %q is not a loopback address: the API answers only on localhost", r.Host))
		return
	}
	if err := crossOrigin.Check(r); err != nil {
		s.writeError(rec, r, Errorf(http.StatusForbidden, "forbidden",
			"cross-origin %s refused: actions come only from the dashboard's own page or a non-browser client", r.Method))
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(rec, r)
		return
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			s.writeError(rec, r, Errorf(http.StatusBadRequest, "bad_request", "read body: %v", err))
			return
		}
		if len(body) > MaxBodyBytes {
			s.writeError(rec, r, Errorf(http.StatusRequestEntityTooLarge, "too_large",
				"request body is over %d bytes", MaxBodyBytes))
			return
		}
		if len(bytes.TrimSpace(body)) > 0 && !isJSON(r.Header.Get("Content-Type")) {
			s.writeError(rec, r, Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
				"content type %q is not application/json", r.Header.Get("Content-Type")))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	} else if r.ContentLength > MaxBodyBytes {
		s.writeError(rec, r, Errorf(http.StatusRequestEntityTooLarge, "too_large",
			"request body is over %d bytes", MaxBodyBytes))
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// noRoute answers a request that no route takes: 405 with an Allow header
// for a known path asked with another method, 404 for an unknown path, as
// the JSON error (docs/api.md, "Errors"). A path that is not in its clean
// form is redirected to it, as the mux does.
func (s *server) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	c := &captured{header: http.Header{}}
	h.ServeHTTP(c, r) // the mux's own answer: 404, 405 with Allow, or a redirect
	switch c.status {
	case http.StatusMethodNotAllowed:
		allow := c.header.Get("Allow")
		w.Header().Set("Allow", allow)
		s.writeError(w, r, Errorf(http.StatusMethodNotAllowed, "method_not_allowed",
			"%s is not allowed on %s: use %s", r.Method, r.URL.Path, strings.ReplaceAll(allow, ", ", " or ")))
	case http.StatusNotFound:
		s.writeError(w, r, Errorf(http.StatusNotFound, "not_found",
			"no route %s %s: the routes are in docs/api.md", r.Method, r.URL.Path))
	default:
		h.ServeHTTP(w, r)
	}
}

// captured keeps the status and headers a handler answers with and drops
// its body.
type captured struct {
	header http.Header
	status int
}

func (c *captured) Header() http.Header { return c.header }

func (c *captured) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(p), nil
}

func (c *captured) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

// loopbackHost reports whether a request's Host names a loopback address.
// An empty host (HTTP/1.0, some unix socket clients) is accepted.
func loopbackHost(host string) bool {
	if host == "" {
		return true
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// recorder remembers the status written, for the request log.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController and the WebSocket upgrade reach the
// underlying writer's Flusher and Hijacker.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
