package actors

import (
	"context"
	"fmt"
	"io"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
)

// The System's commands: what the management API asks to change, each
// passed to the app actor it concerns (or the supervisor) through the
// bridge. The reads are in queries.go.

// Deploy implements api.Backend.
func (s *System) Deploy(ctx context.Context, app string, req deploy.Request) (deploy.Response, error) {
	if err := req.Normalize(); err != nil {
		return deploy.Response{}, err
	}
	if s.paused.Load() {
		return deploy.Response{}, errBusy
	}
	if req.DesiredImage != "" {
		if err := config.CheckImage(req.DesiredImage); err != nil {
			return deploy.Response{}, deploy.Errorf(deploy.EINVALID, "desired_image: %v", err)
		}
	}
	if err := s.pingDocker(ctx); err != nil {
		return deploy.Response{}, err
	}
	return s.askDeploy(Deploy{App: app, Image: req.DesiredImage, Trigger: req.TriggerSource})
}

// Rollback implements api.Backend.
func (s *System) Rollback(ctx context.Context, app string) (deploy.Response, error) {
	if s.paused.Load() {
		return deploy.Response{}, errBusy
	}
	if err := s.pingDocker(ctx); err != nil {
		return deploy.Response{}, err
	}
	return s.askDeploy(Rollback{App: app, Trigger: deploy.TriggerManual})
}

func (s *System) askDeploy(msg any) (deploy.Response, error) {
	v, err := s.ask(msg)
	if err != nil {
		return deploy.Response{}, err
	}
	r := v.(DeployReply)
	return r.Response, r.Err
}

// Switch implements api.Backend: it waits for the switch to end. A switch
// to the active color changes nothing: the app's status.
func (s *System) Switch(ctx context.Context, app string, color deploy.Color) (deploy.AppStatus, error) {
	if s.paused.Load() {
		return deploy.AppStatus{}, errBusy
	}
	if err := s.pingDocker(ctx); err != nil {
		return deploy.AppStatus{}, err
	}
	resp, err := s.askDeploy(Switch{App: app, Color: color})
	if err != nil {
		return deploy.AppStatus{}, err
	}
	if resp.Status == deploy.AnswerUnchanged {
		return s.App(ctx, app)
	}
	d, err := s.WaitDeployment(ctx, resp.DeploymentID)
	if err != nil {
		return deploy.AppStatus{}, err
	}
	if d.Status != deploy.StatusCompleted {
		return deploy.AppStatus{}, deploy.Errorf(deploy.ECONFLICT, "switch to %s %s: %s", color, d.Status, d.Error)
	}
	return s.App(ctx, app)
}

// Reload implements api.Backend.
func (s *System) Reload(ctx context.Context) (deploy.ReloadResult, error) {
	if s.paused.Load() {
		return deploy.ReloadResult{}, errBusy
	}
	v, err := s.ask(Reload{})
	if err != nil {
		return deploy.ReloadResult{}, err
	}
	r := v.(ReloadReply)
	return r.Result, r.Err
}

// Logs implements api.Backend.
func (s *System) Logs(ctx context.Context, app string, tail int, follow bool, w io.Writer) error {
	v, err := s.ask(GetActiveContainer{App: app})
	if err != nil {
		return err
	}
	r := v.(ContainerReply)
	if r.Err != nil {
		return r.Err
	}
	if err := s.rt.StreamLogs(ctx, r.ID, tail, follow, w); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of %s: %w", app, err)
	}
	return nil
}
