package actors

import (
	"context"

	"github.com/bluegreen/bluegreen/deploy"
)

// Promote asks an app to skip what is left of its deployment's canary steps
// and verification window (docs/verification.md): all traffic goes to the
// new color and the deployment goes on to draining. StatusReply answers it.
type Promote struct{ App string }

func (m Promote) appName() string { return m.App }

// Promote skips the remaining canary steps and verification window of
// app's deployment and returns the app's status after it; ECONFLICT when no
// deployment of app is in canary or verifying.
func (s *System) Promote(ctx context.Context, app string) (deploy.AppStatus, error) {
	if s.paused.Load() {
		return deploy.AppStatus{}, errBusy
	}
	v, err := s.ask(Promote{App: app})
	if err != nil {
		return deploy.AppStatus{}, err
	}
	r := v.(StatusReply)
	return r.Status, r.Err
}

// onPromote answers a promote: the app's status once the deployment in
// canary or verifying moved all traffic to its color and went on, or
// ECONFLICT.
func (a *appActor) onPromote() StatusReply {
	if !a.deployments.running().promote() {
		return StatusReply{Err: deploy.Errorf(deploy.ECONFLICT,
			"no deployment of %s is in canary or verifying: there is nothing to promote", a.cfg.Name)}
	}
	return StatusReply{Status: a.status()}
}
