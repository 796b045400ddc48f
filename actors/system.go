// Package actors is bluegreen's supervisor: a root actor (hollywood) spawns
// one actor per app; each app actor alone owns its blue and green slots, its
// health-check child actors and its proxy listener, and runs its deployments.
// A bridge actor turns management API calls into messages. System ties them
// together and serves the management API (api.Backend).
//
// The app actor is split by concept: app.go (the actor and its Receive),
// adopt.go (adoption at start and the reconcile of each tick), request.go
// (deploy, rollback and switch requests), run.go (a deployment as a state
// machine: its phases and the one method that moves them), phases.go (the
// work of each phase), status.go (the app's status, derived), monitor.go
// (health actors and their results), container.go and listener.go.
package actors

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/metrics"
	"github.com/bluegreen/bluegreen/store"
)

// DefaultRequestTimeout bounds how long an API call waits for an actor's answer.
const DefaultRequestTimeout = 15 * time.Second

// Options configure a System.
type Options struct {
	Load              func() ([]*config.App, error) // reads the app configs (serve: config.LoadDir)
	Store             *store.Store
	Runtime           Runtime
	Logger            *slog.Logger
	ReconcileInterval time.Duration     // default DefaultReconcileInterval
	RequestTimeout    time.Duration     // default DefaultRequestTimeout
	Metrics           *metrics.Registry // where the apps count (GET /metrics); nil: a new one

	timers timers // tests: the app actors' clocks
}

// System is the running supervisor.
type System struct {
	eng     *actor.Engine
	root    *actor.PID
	bridge  *actor.PID
	store   *store.Store
	rt      Runtime
	hub     *hub
	rec     *recorder
	log     *slog.Logger
	timeout time.Duration
	metrics *metrics.Registry

	stopOnce sync.Once
}

// Start loads the configs and starts the supervisor, which adopts running
// containers and deploys apps that have no state yet. Invalid configs are an
// error (config.Errors) and nothing starts.
func Start(o Options) (*System, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	cfgs, err := o.Load()
	if err != nil {
		return nil, err
	}
	eng, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		return nil, fmt.Errorf("start actor engine: %w", err)
	}
	h := newHub()
	rec := &recorder{store: o.Store, hub: h, log: o.Logger, metrics: o.Metrics}
	d := deps{store: o.Store, rt: o.Runtime, rec: rec, log: o.Logger, reconcile: o.ReconcileInterval, timers: o.timers.withDefaults(), metrics: o.Metrics}
	s := &System{eng: eng, store: o.Store, rt: o.Runtime, hub: h, rec: rec, log: o.Logger, timeout: o.RequestTimeout, metrics: o.Metrics}
	names := make([]string, 0, len(cfgs))
	for _, c := range cfgs {
		names = append(names, c.Name)
	}
	rec.event("", 0, deploy.EventSupervisorStarted, fmt.Sprintf("supervisor started with %d app(s)", len(cfgs)),
		map[string]any{"apps": names})
	s.root = eng.Spawn(newSupervisor(cfgs, o.Load, d), "supervisor", actor.WithID("root"),
		actor.WithMiddleware(recoverMiddleware("supervisor")))
	s.bridge = eng.Spawn(newBridge(s.root), "bridge", actor.WithID("api"),
		actor.WithMiddleware(recoverMiddleware("bridge")))
	eng.Send(s.root, setBridge{pid: s.bridge})
	// The supervisor answers after it told the bridge where the apps are, so
	// API calls made once Start returns find them.
	if _, err := eng.Request(s.root, ListApps{}, o.RequestTimeout).Result(); err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	return s, nil
}

// Stop stops every actor (apps stop their proxies; containers keep running)
// and waits until they are gone or ctx ends. Safe to call twice.
func (s *System) Stop(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		<-s.eng.PoisonCtx(ctx, s.bridge).Done()
		<-s.eng.PoisonCtx(ctx, s.root).Done()
		if ctx.Err() != nil {
			err = fmt.Errorf("stop supervisor: %w", ctx.Err())
		}
		s.rec.event("", 0, deploy.EventSupervisorStopped, "supervisor stopped", nil)
	})
	return err
}

// ask sends msg through the bridge and waits for the answer.
func (s *System) ask(msg any) (any, error) {
	v, err := s.eng.Request(s.bridge, msg, s.timeout).Result()
	if err != nil {
		return nil, deploy.Errorf(deploy.ETIMEOUT, "the supervisor did not answer within %s: try again", s.timeout)
	}
	return v, nil
}

// pingDocker fails with EUNAVAILABLE when Docker is unreachable.
func (s *System) pingDocker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.rt.Ping(ctx); err != nil {
		return deploy.Errorf(deploy.EUNAVAILABLE, "%s", err.Error())
	}
	return nil
}

// Deploy implements api.Backend.
func (s *System) Deploy(ctx context.Context, app string, req deploy.Request) (deploy.Response, error) {
	if err := req.Normalize(); err != nil {
		return deploy.Response{}, err
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

// Switch implements api.Backend: it waits for the switch to end.
func (s *System) Switch(ctx context.Context, app string, color deploy.Color) (deploy.AppStatus, error) {
	if err := s.pingDocker(ctx); err != nil {
		return deploy.AppStatus{}, err
	}
	resp, err := s.askDeploy(Switch{App: app, Color: color})
	if err != nil {
		return deploy.AppStatus{}, err
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
