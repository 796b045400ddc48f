package api

import (
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
