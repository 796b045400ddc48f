package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluegreen/bluegreen/dashboard"
	"github.com/coder/websocket"
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

// Timings of the events WebSocket.
const (
	streamPingInterval = 15 * time.Second
	streamWriteTimeout = 10 * time.Second
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
	s.mux.HandleFunc("GET /api/deployments/{id}", s.handleDeployment)
	s.mux.HandleFunc("GET /api/events", s.handleEvents)
	s.mux.HandleFunc("GET /api/events/stream", s.handleEventStream)
	s.mux.HandleFunc("POST /api/reload", s.handleReload)
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

func (s *server) handleDeploy(w http.ResponseWriter, r *http.Request) {
	var req DeployRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.TriggerSource == "" {
		req.TriggerSource = TriggerAPI
	}
	switch req.TriggerSource {
	case TriggerS3dock, TriggerManual, TriggerAPI:
	default:
		s.writeError(w, r, Errorf(http.StatusBadRequest, "invalid",
			"trigger_source %q is not one of s3dock, manual, api", req.TriggerSource))
		return
	}
	req.DesiredImage = strings.TrimSpace(req.DesiredImage)
	wait, err := boolQuery(r, "wait")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.b.Deploy(r.Context(), r.PathValue("name"), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answerDeploy(w, r, resp, wait)
}

func (s *server) handleRollback(w http.ResponseWriter, r *http.Request) {
	wait, err := boolQuery(r, "wait")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.b.Rollback(r.Context(), r.PathValue("name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answerDeploy(w, r, resp, wait)
}

// answerDeploy answers a deploy or rollback: 202 when started or queued, 200
// when unchanged, and with wait the final deployment.
func (s *server) answerDeploy(w http.ResponseWriter, r *http.Request, resp DeployResponse, wait bool) {
	if wait {
		var d Deployment
		var err error
		if resp.Status == DeployUnchanged {
			d, err = s.b.Deployment(r.Context(), resp.DeploymentID)
		} else {
			d, err = s.b.WaitDeployment(r.Context(), resp.DeploymentID)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
		return
	}
	status := http.StatusAccepted
	if resp.Status == DeployUnchanged {
		status = http.StatusOK
	}
	writeJSON(w, status, resp)
}

func (s *server) handleSwitch(w http.ResponseWriter, r *http.Request) {
	var req SwitchRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Color != "blue" && req.Color != "green" {
		s.writeError(w, r, Errorf(http.StatusBadRequest, "invalid",
			"color %q is not blue or green", req.Color))
		return
	}
	st, err := s.b.Switch(r.Context(), r.PathValue("name"), req.Color)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *server) handleApps(w http.ResponseWriter, r *http.Request) {
	apps, err := s.b.Apps(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if apps == nil {
		apps = []AppStatus{}
	}
	writeJSON(w, http.StatusOK, apps)
}

func (s *server) handleApp(w http.ResponseWriter, r *http.Request) {
	st, err := s.b.App(r.Context(), r.PathValue("name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *server) handleHistory(w http.ResponseWriter, r *http.Request) {
	limit, err := intQuery(r, "limit", DefaultHistoryLimit, 1, MaxLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offset, err := intQuery(r, "offset", 0, 0, 1<<31-1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ds, err := s.b.History(r.Context(), r.PathValue("name"), limit, offset)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ds == nil {
		ds = []Deployment{}
	}
	writeJSON(w, http.StatusOK, ds)
}

func (s *server) handleHealth(w http.ResponseWriter, r *http.Request) {
	limit, err := intQuery(r, "limit", DefaultHealthLimit, 1, MaxLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h, err := s.b.Health(r.Context(), r.PathValue("name"), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if h == nil {
		h = map[string]ColorHealth{}
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *server) handleDeployment(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.writeError(w, r, Errorf(http.StatusBadRequest, "invalid",
			"deployment id %q is not a positive integer", r.PathValue("id")))
		return
	}
	d, err := s.b.Deployment(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *server) handleEvents(w http.ResponseWriter, r *http.Request) {
	limit, err := intQuery(r, "limit", DefaultEventsLimit, 1, MaxLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	after, err := intQuery(r, "after_id", 0, 0, 1<<62)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	evs, err := s.b.Events(r.Context(), r.URL.Query().Get("app"), int64(after), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if evs == nil {
		evs = []Event{}
	}
	writeJSON(w, http.StatusOK, evs)
}

// handleEventStream sends each new event as a JSON text message. It
// subscribes before the WebSocket handshake completes, so a client that has
// connected sees every event that happens after its dial returned.
func (s *server) handleEventStream(w http.ResponseWriter, r *http.Request) {
	app := r.URL.Query().Get("app")
	ctx, cancelCtx := context.WithCancel(r.Context())
	defer cancelCtx()
	events, cancel := s.b.Subscribe(ctx)
	defer cancel()

	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		s.log.Warn("events stream accept", "error", err)
		return
	}
	defer conn.CloseNow()
	ctx = conn.CloseRead(ctx)

	ping := time.NewTicker(streamPingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(ctx, streamWriteTimeout)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				s.log.Debug("events stream client gone", "error", err)
				return
			}
		case ev, ok := <-events:
			if !ok {
				conn.Close(websocket.StatusGoingAway, "supervisor stopping")
				return
			}
			if app != "" && ev.App != app {
				continue
			}
			msg, err := json.Marshal(ev)
			if err != nil {
				s.log.Warn("events stream encode", "error", err)
				continue
			}
			wctx, wcancel := context.WithTimeout(ctx, streamWriteTimeout)
			err = conn.Write(wctx, websocket.MessageText, msg)
			wcancel()
			if err != nil {
				s.log.Debug("events stream write", "error", err)
				return
			}
		}
	}
}

func (s *server) handleLogs(w http.ResponseWriter, r *http.Request) {
	tail, err := intQuery(r, "tail", DefaultLogsTail, 0, 1<<31-1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	follow, err := boolQuery(r, "follow")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	fw := &flushWriter{w: w}
	err = s.b.Logs(r.Context(), r.PathValue("name"), tail, follow, fw)
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if err != nil && !fw.started {
		s.writeError(w, r, err)
		return
	}
	if err != nil && r.Context().Err() == nil {
		s.log.Warn("logs stream", "app", r.PathValue("name"), "error", err)
		return
	}
	if !fw.started {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
	}
}

func (s *server) handleReload(w http.ResponseWriter, r *http.Request) {
	res, err := s.b.Reload(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *server) handleOverall(w http.ResponseWriter, r *http.Request) {
	h, err := s.b.Overall(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if h.Status == "unhealthy" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
}

func (s *server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	apps, err := s.b.Apps(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var buf bytes.Buffer
	WriteMetrics(&buf, apps)
	w.Header().Set("Content-Type", MetricsContentType)
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// writeError maps err to a status and writes the JSON error body.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	if r.Context().Err() != nil {
		// The client left (e.g. Ctrl-C during ?wait=true): nobody reads the answer.
		s.log.Debug("api client gone", "method", r.Method, "path", r.URL.Path, "error", err)
		return
	}
	s.log.Warn("api error", "method", r.Method, "path", r.URL.Path, "status", e.Status, "code", e.Code, "error", err)
	writeJSON(w, e.Status, ErrorBody{Error: ErrorDetail{Code: e.Code, Message: e.Message, Details: e.Details}})
}

// toAPIError maps an error from a backend to an *Error with status and code.
func toAPIError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		out := *e
		if out.Status == 0 {
			out.Status = http.StatusInternalServerError
		}
		if out.Code == "" {
			out.Code = codeFor(out.Status)
		}
		if out.Message == "" {
			out.Message = http.StatusText(out.Status)
		}
		return &out
	}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, ErrDockerUnavailable):
		status = http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	}
	return &Error{Status: status, Code: codeFor(status), Message: err.Error()}
}

// codeFor returns the error code the API uses for an HTTP status.
func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusServiceUnavailable:
		return "docker_unavailable"
	case http.StatusGatewayTimeout:
		return "timeout"
	}
	return "internal"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		buf, _ = json.Marshal(ErrorBody{Error: ErrorDetail{Code: "internal", Message: fmt.Sprintf("encode answer: %v", err)}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(buf, '\n'))
}

// decodeBody decodes a JSON body into v; an empty body leaves v as is.
// Unknown fields are refused so a misspelt field never passes silently.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return Errorf(http.StatusBadRequest, "invalid", "read body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, "invalid", "bad JSON body: %v", err)
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, "invalid", "bad JSON body: more than one value")
	}
	return nil
}

func intQuery(r *http.Request, key string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, Errorf(http.StatusBadRequest, "invalid", "%s %q is not an integer in [%d, %d]", key, v, lo, hi)
	}
	return n, nil
}

func boolQuery(r *http.Request, key string) (bool, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, Errorf(http.StatusBadRequest, "invalid", "%s %q is not true or false", key, v)
	}
	return b, nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
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

// flushWriter writes streamed logs, flushing after each write.
type flushWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	started bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started {
		f.started = true
		f.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		f.w.Header().Set("X-Content-Type-Options", "nosniff")
		f.w.WriteHeader(http.StatusOK)
	}
	n, err := f.w.Write(p)
	if err == nil {
		err = http.NewResponseController(f.w).Flush()
	}
	return n, err
}
