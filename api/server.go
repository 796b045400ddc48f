// Package api is bluegreen's management API over HTTP (CONTRACT §5): the
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

// NewServer returns the management API handler (CONTRACT §5) over b.
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
	b   Backend
	log *slog.Logger
	mux *http.ServeMux
}

func (s *server) routes() {
	s.mux.HandleFunc("POST /api/apps/{name}/deploy", s.handleDeploy)
	s.mux.HandleFunc("POST /api/apps/{name}/rollback", s.handleRollback)
	s.mux.HandleFunc("POST /api/apps/{name}/switch", s.handleSwitch)
	s.mux.HandleFunc("GET /api/apps", s.handleApps)
	s.mux.HandleFunc("GET /api/apps/{name}/status", s.handleApp)
	s.mux.HandleFunc("GET /api/apps/{name}/history", s.handleHistory)
	s.mux.HandleFunc("GET /api/apps/{name}/health", s.handleHealth)
	s.mux.HandleFunc("GET /api/apps/{name}/logs", s.handleLogs)
	s.mux.HandleFunc("GET /api/apps/{name}/images", s.handleImages)
	s.mux.HandleFunc("GET /api/deployments/{id}", s.handleDeployment)
	s.mux.HandleFunc("GET /api/events", s.handleEvents)
	s.mux.HandleFunc("GET /api/events/stream", s.handleEventStream)
	s.mux.HandleFunc("POST /api/reload", s.handleReload)
	s.mux.HandleFunc("POST /api/upgrade", s.handleUpgrade)
	s.mux.HandleFunc("GET /health", s.handleOverall)
	s.mux.HandleFunc("GET /metrics", s.handleMetrics)
	s.mux.Handle("GET /{$}", dashboard.Handler())                   // the dashboard page (CONTRACT §6.4)
	s.mux.Handle("GET "+dashboard.AssetPrefix, dashboard.Handler()) // its script, style and icon
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
