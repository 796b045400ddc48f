package api

import (
	"net/http"
	"sync"

	"github.com/bluegreen/bluegreen/deploy"
)

func (s *server) handleApps(w http.ResponseWriter, r *http.Request) {
	apps, err := s.b.Apps(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if apps == nil {
		apps = []deploy.AppStatus{}
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
		ds = []deploy.Deployment{}
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
		h = map[deploy.Color]deploy.ColorHealth{}
	}
	writeJSON(w, http.StatusOK, h)
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
