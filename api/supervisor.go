package api

import (
	"bytes"
	"net/http"

	"github.com/bluegreen/bluegreen/deploy"
)

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
	if h.Status == deploy.OverallUnhealthy {
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
