package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/bluegreen/bluegreen/deploy"
)

// Timings of the events WebSocket.
const (
	streamPingInterval = 15 * time.Second
	streamWriteTimeout = 10 * time.Second
)

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
		evs = []deploy.Event{}
	}
	writeJSON(w, http.StatusOK, evs)
}

// refused holds back an error answer written to it (status 400 and up)
// and passes everything else on, the hijacking of a WebSocket handshake
// included.
type refused struct {
	http.ResponseWriter
	status int
	body   strings.Builder
}

func (r *refused) WriteHeader(code int) {
	if code >= http.StatusBadRequest {
		r.status = code
		return
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *refused) Write(p []byte) (int, error) {
	if r.status != 0 {
		if r.body.Len() < 512 {
			r.body.Write(p)
		}
		return len(p), nil
	}
	return r.ResponseWriter.Write(p)
}

// Unwrap lets the WebSocket library reach the Hijacker.
func (r *refused) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// handleEventStream sends each new event as a JSON text message. It
// subscribes before the WebSocket handshake completes, so a client that has
// connected sees every event that happens after its dial returned.
func (s *server) handleEventStream(w http.ResponseWriter, r *http.Request) {
	app := r.URL.Query().Get("app")
	ctx, cancelCtx := context.WithCancel(r.Context())
	defer cancelCtx()
	events, cancel := s.b.Subscribe(ctx)
	defer cancel()

	refusal := &refused{ResponseWriter: w}
	conn, err := websocket.Accept(refusal, r, nil)
	if err != nil {
		if refusal.status == 0 { // hijacked, then failed: no answer to give
			s.log.Warn("events stream accept", "error", err)
			return
		}
		// Not a WebSocket handshake (or from a foreign origin): the
		// library's refusal, as the API's JSON error.
		s.writeError(w, r, Errorf(refusal.status, codeFor(refusal.status), "%s is a WebSocket: open it with a WebSocket client (%s)",
			r.URL.Path, strings.TrimSpace(refusal.body.String())))
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
