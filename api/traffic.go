package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/bluegreen/bluegreen/deploy"
)

// Traffic control (docs/traffic.md, "Pause, maintenance, resume"): each
// route checks its body here and asks the backend for the change; the
// answer is the app's status with its traffic mode.

func (s *server) handlePause(w http.ResponseWriter, r *http.Request) {
	var req deploy.PauseRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	change, err := req.Pause()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.changeTraffic(w, r, change)
}

func (s *server) handleMaintenance(w http.ResponseWriter, r *http.Request) {
	var req deploy.MaintenanceRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	change, err := req.Maintenance()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.changeTraffic(w, r, change)
}

func (s *server) handleResume(w http.ResponseWriter, r *http.Request) {
	var req struct{} // no fields: an empty body or {}
	if err := decodeBody(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.changeTraffic(w, r, deploy.Resume())
}

// changeTraffic asks for change and answers 200 with the app's status.
func (s *server) changeTraffic(w http.ResponseWriter, r *http.Request, change deploy.TrafficChange) {
	st, err := s.b.SetTraffic(r.Context(), r.PathValue("name"), change)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// Pause makes the app's proxy hold every new request until Resume (or the
// request's max_wait).
func (c *Client) Pause(ctx context.Context, app string, req deploy.PauseRequest) (deploy.AppStatus, error) {
	return c.traffic(ctx, app, "/pause", req)
}

// Maintenance makes the app's proxy answer every new request with 503
// and the maintenance page.
func (c *Client) Maintenance(ctx context.Context, app string, req deploy.MaintenanceRequest) (deploy.AppStatus, error) {
	return c.traffic(ctx, app, "/maintenance", req)
}

// Resume ends a pause (the held requests are sent) or a maintenance.
func (c *Client) Resume(ctx context.Context, app string) (deploy.AppStatus, error) {
	return c.traffic(ctx, app, "/resume", nil)
}

func (c *Client) traffic(ctx context.Context, app, route string, body any) (deploy.AppStatus, error) {
	var st deploy.AppStatus
	err := c.do(ctx, http.MethodPost, "/api/apps/"+url.PathEscape(app)+route, nil, body, &st)
	return st, err
}
