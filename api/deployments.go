package api

import (
	"net/http"
	"strconv"

	"github.com/bluegreen/bluegreen/deploy"
)

func (s *server) handleDeploy(w http.ResponseWriter, r *http.Request) {
	var req deploy.Request
	if err := decodeBody(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := req.Normalize(); err != nil {
		s.writeError(w, r, err)
		return
	}
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
func (s *server) answerDeploy(w http.ResponseWriter, r *http.Request, resp deploy.Response, wait bool) {
	if wait {
		d, err := s.b.WaitDeployment(r.Context(), resp.DeploymentID) // an unchanged one has ended
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
		return
	}
	status := http.StatusAccepted
	if resp.Status == deploy.AnswerUnchanged {
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
	color, err := deploy.ParseColor(req.Color)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.b.Switch(r.Context(), r.PathValue("name"), color)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
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

// SwitchRequest is the body of POST /api/apps/{name}/switch.
type SwitchRequest struct {
	Color string `json:"color"`
}

// handlePromote skips what is left of a deployment's canary steps and
// verification window (docs/verification.md): 200 with the app's status,
// 409 when no deployment is in canary or verifying.
func (s *server) handlePromote(w http.ResponseWriter, r *http.Request) {
	st, err := s.b.Promote(r.Context(), r.PathValue("name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
