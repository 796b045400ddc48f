package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Health modes of GET /health.
const (
	healthOK   = "ok"
	healthFail = "fail"
	healthHang = "hang"
)

// Limits that keep a misbehaving test from exhausting the machine.
const (
	maxSlow         = 5 * time.Minute
	maxSSEEvents    = 10000
	maxDownload     = 1 << 30
	maxWSMessage    = 16 << 20
	defaultSlow     = time.Second
	defaultSSEN     = 5
	defaultInterval = 100 * time.Millisecond
)

// app holds the run-time state of the test app.
type app struct {
	version string
	health  atomic.Value // string: healthOK, healthFail or healthHang
	logger  *log.Logger

	quitOnce sync.Once
	quit     chan struct{} // closed at shutdown: releases hanging handlers

	// failRate is the percent (0-100) of GET / answers that are 500, spread
	// evenly: of every 100 in a row, exactly failRate; set before serving.
	failRate uint64
	served   atomic.Uint64 // GET / requests so far
}

// newApp returns the test app. Its routes:
//
//	GET  /                        "<version>\n" and header X-App-Version (any path not below);
//	                              500 for FAIL_RATE percent of them
//	GET  /health                  200 "ok\n", or 500 (fail), or no answer (hang)
//	GET  /slow?d=2s               sleeps d (default 1s), then 200 "<version>\n"
//	GET  /ws                      WebSocket echo of text and binary messages
//	GET  /headers                 JSON {method, host, url, remote_addr, headers}
//	GET  /sse?n=5&interval=100ms  n Server-Sent Events, flushed one by one
//	POST /upload                  JSON {bytes, sha256} of the streamed body
//	GET  /download?bytes=N        N bytes; byte i is byte(i % 251)
//	POST /admin/health?mode=M     switches the health mode to ok, fail or hang
func newApp(version, mode string, logger *log.Logger) *app {
	a := &app{version: version, logger: logger, quit: make(chan struct{})}
	a.health.Store(mode)
	return a
}

// routes returns the app's handler, logging one line per request.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", a.root)
	mux.HandleFunc("GET /health", a.healthCheck)
	mux.HandleFunc("GET /slow", a.slow)
	mux.HandleFunc("GET /ws", a.echo)
	mux.HandleFunc("GET /headers", a.headers)
	mux.HandleFunc("GET /sse", a.sse)
	mux.HandleFunc("POST /upload", a.upload)
	mux.HandleFunc("GET /download", a.download)
	mux.HandleFunc("POST /admin/health", a.setHealth)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.logger.Printf("%s %s %s from %s", a.version, r.Method, r.URL.RequestURI(), r.RemoteAddr)
		w.Header().Set("X-App-Version", a.version)
		mux.ServeHTTP(w, r)
	})
}

// close releases handlers that would otherwise wait forever.
func (a *app) close() {
	a.quitOnce.Do(func() { close(a.quit) })
}

func (a *app) root(w http.ResponseWriter, r *http.Request) {
	if n := a.served.Add(1); n*a.failRate/100 > (n-1)*a.failRate/100 {
		http.Error(w, a.version+" failing as asked", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%s\n", a.version)
}

func (a *app) healthCheck(w http.ResponseWriter, r *http.Request) {
	switch a.health.Load().(string) {
	case healthFail:
		http.Error(w, "unhealthy as asked", http.StatusInternalServerError)
	case healthHang:
		select {
		case <-r.Context().Done():
		case <-a.quit:
		}
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	}
}

func (a *app) slow(w http.ResponseWriter, r *http.Request) {
	d := defaultSlow
	if v := r.URL.Query().Get("d"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d < 0 || d > maxSlow {
			http.Error(w, fmt.Sprintf("d=%q: want a duration up to %s", v, maxSlow), http.StatusBadRequest)
			return
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%s\n", a.version)
}

func (a *app) echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		a.logger.Printf("websocket accept: %v", err)
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(maxWSMessage)
	ctx := r.Context()
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == -1 {
				a.logger.Printf("websocket read: %v", err)
			}
			return
		}
		if err := c.Write(ctx, typ, msg); err != nil {
			a.logger.Printf("websocket write: %v", err)
			return
		}
	}
}

// headersReply is the body of GET /headers.
type headersReply struct {
	Method     string              `json:"method"`
	Host       string              `json:"host"`
	URL        string              `json:"url"`
	RemoteAddr string              `json:"remote_addr"`
	Headers    map[string][]string `json:"headers"`
}

func (a *app) headers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, headersReply{
		Method:     r.Method,
		Host:       r.Host,
		URL:        r.URL.RequestURI(),
		RemoteAddr: r.RemoteAddr,
		Headers:    r.Header,
	})
}

func (a *app) sse(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n := defaultSSEN
	if v := q.Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 || n > maxSSEEvents {
			http.Error(w, fmt.Sprintf("n=%q: want 0..%d", v, maxSSEEvents), http.StatusBadRequest)
			return
		}
	}
	interval := defaultInterval
	if v := q.Get("interval"); v != "" {
		var err error
		if interval, err = time.ParseDuration(v); err != nil || interval < 0 || interval > maxSlow {
			http.Error(w, fmt.Sprintf("interval=%q: want a duration up to %s", v, maxSlow), http.StatusBadRequest)
			return
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for i := range n {
		if i > 0 {
			t := time.NewTimer(interval)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if _, err := fmt.Fprintf(w, "id: %d\ndata: %s %d\n\n", i, a.version, i); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// uploadReply is the body of POST /upload.
type uploadReply struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

func (a *app) upload(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		http.Error(w, fmt.Sprintf("read body: %v", err), http.StatusBadRequest)
		return
	}
	writeJSON(w, uploadReply{Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))})
}

func (a *app) download(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query().Get("bytes")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > maxDownload {
		http.Error(w, fmt.Sprintf("bytes=%q: want 0..%d", v, maxDownload), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	buf := make([]byte, 32*1024)
	var off int64
	for off < n {
		chunk := min(int64(len(buf)), n-off)
		pattern(buf[:chunk], off)
		if _, err := w.Write(buf[:chunk]); err != nil {
			return
		}
		off += chunk
	}
}

func (a *app) setHealth(w http.ResponseWriter, r *http.Request) {
	mode := r.URL.Query().Get("mode")
	if mode != healthOK && mode != healthFail && mode != healthHang {
		http.Error(w, fmt.Sprintf("mode=%q: use ok, fail or hang", mode), http.StatusBadRequest)
		return
	}
	old := a.health.Swap(mode)
	a.logger.Printf("health mode %s -> %s", old, mode)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, mode)
}

// pattern fills b with the download pattern starting at offset off.
func pattern(b []byte, off int64) {
	for i := range b {
		b[i] = byte((off + int64(i)) % 251)
	}
}

func validMode(m string) bool {
	return m == healthOK || m == healthFail || m == healthHang
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
