package api

import (
	"context"
	"net/http"

	"github.com/bluegreen/bluegreen/deploy"
)

// Upgrader is what a Backend offers when its process can upgrade itself
// (docs/upgrades.md, "Step by step"): `bluegreen serve` starts the binary at its path and hands
// it its sockets. Upgrade answers at once; the outcome is the event
// supervisor.upgraded or supervisor.upgrade_failed, recorded after the event
// the answer names. A second upgrade while one runs is ECONFLICT.
type Upgrader interface {
	Upgrade(ctx context.Context) (deploy.UpgradeStatus, error)
}

// handleUpgrade serves POST /api/upgrade: 202 {"status": "upgrading",
// "old_pid": N, "event_id": M}.
func (s *server) handleUpgrade(w http.ResponseWriter, r *http.Request) {
	u, ok := s.b.(Upgrader)
	if !ok {
		s.writeError(w, r, Errorf(http.StatusNotImplemented, "not_implemented", "this server cannot upgrade itself"))
		return
	}
	res, err := u.Upgrade(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, res)
}

// Upgrade asks serve to upgrade itself onto the binary at its path.
func (c *Client) Upgrade(ctx context.Context) (deploy.UpgradeStatus, error) {
	var res deploy.UpgradeStatus
	err := c.do(ctx, http.MethodPost, "/api/upgrade", nil, nil, &res)
	return res, err
}
