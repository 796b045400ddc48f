// Package actors is bluegreen's supervisor: a root actor (hollywood) spawns
// one actor per app; each app actor alone owns its blue and green slots, its
// health-check child actors and its proxy listener, and runs its deployments.
// A bridge actor turns management API calls into messages. System ties them
// together and implements api.Backend.
package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/config"
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
	ReconcileInterval time.Duration // default DefaultReconcileInterval
	RequestTimeout    time.Duration // default DefaultRequestTimeout
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

	stopOnce sync.Once
}

var _ api.Backend = (*System)(nil)

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
	cfgs, err := o.Load()
	if err != nil {
		return nil, err
	}
	eng, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		return nil, fmt.Errorf("start actor engine: %w", err)
	}
	h := newHub()
	rec := &recorder{store: o.Store, hub: h, log: o.Logger}
	d := deps{store: o.Store, rt: o.Runtime, rec: rec, log: o.Logger, reconcile: o.ReconcileInterval}
	s := &System{eng: eng, store: o.Store, rt: o.Runtime, hub: h, rec: rec, log: o.Logger, timeout: o.RequestTimeout}
	names := make([]string, 0, len(cfgs))
	for _, c := range cfgs {
		names = append(names, c.Name)
	}
	rec.event("", 0, api.EventSupervisorStarted, fmt.Sprintf("supervisor started with %d app(s)", len(cfgs)),
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
		s.rec.event("", 0, api.EventSupervisorStopped, "supervisor stopped", nil)
	})
	return err
}

// ask sends msg through the bridge and waits for the answer.
func (s *System) ask(msg any) (any, error) {
	v, err := s.eng.Request(s.bridge, msg, s.timeout).Result()
	if err != nil {
		return nil, api.Errorf(503, "timeout", "the supervisor did not answer within %s: try again", s.timeout)
	}
	return v, nil
}

// pingDocker fails with a 503 API error when Docker is unreachable.
func (s *System) pingDocker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.rt.Ping(ctx); err != nil {
		return &api.Error{Status: 503, Code: "docker_unavailable", Message: err.Error()}
	}
	return nil
}

// Deploy implements api.Backend.
func (s *System) Deploy(ctx context.Context, app string, req api.DeployRequest) (api.DeployResponse, error) {
	if req.DesiredImage != "" {
		if err := config.CheckImage(req.DesiredImage); err != nil {
			return api.DeployResponse{}, api.Errorf(400, "invalid", "desired_image: %v", err)
		}
	}
	if err := s.pingDocker(ctx); err != nil {
		return api.DeployResponse{}, err
	}
	return s.askDeploy(Deploy{App: app, Image: req.DesiredImage, Trigger: req.TriggerSource})
}

// Rollback implements api.Backend.
func (s *System) Rollback(ctx context.Context, app string) (api.DeployResponse, error) {
	if err := s.pingDocker(ctx); err != nil {
		return api.DeployResponse{}, err
	}
	return s.askDeploy(Rollback{App: app})
}

func (s *System) askDeploy(msg any) (api.DeployResponse, error) {
	v, err := s.ask(msg)
	if err != nil {
		return api.DeployResponse{}, err
	}
	r := v.(DeployReply)
	return r.Response, r.Err
}

// Switch implements api.Backend: it waits for the switch to end.
func (s *System) Switch(ctx context.Context, app, color string) (api.AppStatus, error) {
	if err := s.pingDocker(ctx); err != nil {
		return api.AppStatus{}, err
	}
	resp, err := s.askDeploy(Switch{App: app, Color: color})
	if err != nil {
		return api.AppStatus{}, err
	}
	d, err := s.WaitDeployment(ctx, resp.DeploymentID)
	if err != nil {
		return api.AppStatus{}, err
	}
	if d.Status != api.StatusCompleted {
		return api.AppStatus{}, api.Errorf(409, "conflict", "switch to %s %s: %s", color, d.Status, d.Error)
	}
	return s.App(ctx, app)
}

// App implements api.Backend.
func (s *System) App(ctx context.Context, name string) (api.AppStatus, error) {
	v, err := s.ask(GetStatus{App: name})
	if err != nil {
		return api.AppStatus{}, err
	}
	r := v.(StatusReply)
	if r.Err != nil {
		return api.AppStatus{}, r.Err
	}
	st := r.Status
	if st.Stats, err = s.store.Stats(ctx, name); err != nil {
		return api.AppStatus{}, fmt.Errorf("read stats of %s: %w", name, err)
	}
	last, err := s.store.DeploymentsByStatus(ctx, name, finalStatuses, 1)
	if err != nil {
		return api.AppStatus{}, fmt.Errorf("read last deployment of %s: %w", name, err)
	}
	if len(last) > 0 {
		st.LastDeployment = &last[0]
	}
	return st, nil
}

// finalStatuses are the statuses that end a deployment.
var finalStatuses = []string{api.StatusCompleted, api.StatusFailed, api.StatusRolledBack,
	api.StatusSuperseded, api.StatusInterrupted}

// Apps implements api.Backend.
func (s *System) Apps(ctx context.Context) ([]api.AppStatus, error) {
	names, err := s.names()
	if err != nil {
		return nil, err
	}
	out := make([]api.AppStatus, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = s.App(ctx, n)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			var ae *api.Error
			if errors.As(err, &ae) && ae.Status == 404 { // removed meanwhile
				out[i].Name = ""
				continue
			}
			return nil, err
		}
	}
	kept := out[:0]
	for _, st := range out {
		if st.Name != "" {
			kept = append(kept, st)
		}
	}
	return kept, nil
}

func (s *System) names() ([]string, error) {
	v, err := s.ask(ListApps{})
	if err != nil {
		return nil, err
	}
	return v.(AppsReply).Names, nil
}

// known fails with a 404 API error when no app has that name.
func (s *System) known(app string) error {
	names, err := s.names()
	if err != nil {
		return err
	}
	i := sort.SearchStrings(names, app)
	if i < len(names) && names[i] == app {
		return nil
	}
	return api.Errorf(404, "not_found", "no app named %q", app)
}

// History implements api.Backend.
func (s *System) History(ctx context.Context, app string, limit, offset int) ([]api.Deployment, error) {
	if err := s.known(app); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 10
	}
	return s.store.ListDeployments(ctx, app, limit, offset)
}

// Deployment implements api.Backend.
func (s *System) Deployment(ctx context.Context, id int64) (api.Deployment, error) {
	d, err := s.store.GetDeployment(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return d, api.Errorf(404, "not_found", "no deployment with id %d", id)
	}
	return d, err
}

// WaitDeployment implements api.Backend.
func (s *System) WaitDeployment(ctx context.Context, id int64) (api.Deployment, error) {
	events, cancel := s.hub.subscribe()
	defer cancel()
	for {
		d, err := s.Deployment(ctx, id)
		if err != nil || d.Done() {
			return d, err
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return d, ctx.Err()
			case e, ok := <-events:
				if !ok { // fell behind: resubscribe and look again
					events, cancel = s.hub.subscribe()
					defer cancel()
					break wait
				}
				if e.DeploymentID != nil && *e.DeploymentID == id && isFinalEvent(e.Type) {
					break wait
				}
			case <-time.After(5 * time.Second): // belt and braces
				break wait
			}
		}
	}
}

func isFinalEvent(typ string) bool {
	for _, st := range finalStatuses {
		if typ == api.FinalEventType(st) {
			return true
		}
	}
	return false
}

// Health implements api.Backend.
func (s *System) Health(ctx context.Context, app string, limit int) (map[string]api.ColorHealth, error) {
	st, err := s.App(ctx, app)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 20
	}
	out := map[string]api.ColorHealth{}
	for color, ct := range map[string]*api.Container{Blue: st.Containers.Blue, Green: st.Containers.Green} {
		checks, err := s.store.HealthChecks(ctx, app, color, limit)
		if err != nil {
			return nil, fmt.Errorf("read health checks of %s: %w", app, err)
		}
		ch := api.ColorHealth{Checks: checks, Healthy: ct != nil && ct.Health == "healthy", Status: "none"}
		if ct != nil {
			ch.Status, ch.Container = ct.Health, ct.State
		}
		if ch.Checks == nil {
			ch.Checks = []api.HealthCheck{}
		}
		if len(checks) > 0 {
			at := checks[0].At
			ch.LastCheck = &at
		}
		for _, c := range checks {
			if c.Success {
				break
			}
			ch.ConsecutiveFailures++
		}
		out[color] = ch
	}
	return out, nil
}

// Events implements api.Backend.
func (s *System) Events(ctx context.Context, app string, afterID int64, limit int) ([]api.Event, error) {
	return s.store.Events(ctx, app, afterID, limit)
}

// Subscribe implements api.Backend.
func (s *System) Subscribe(ctx context.Context) (<-chan api.Event, func()) {
	return s.hub.subscribe()
}

// Reload implements api.Backend.
func (s *System) Reload(ctx context.Context) (api.ReloadResult, error) {
	v, err := s.ask(Reload{})
	if err != nil {
		return api.ReloadResult{}, err
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

// Overall implements api.Backend.
func (s *System) Overall(ctx context.Context) (api.Health, error) {
	apps, err := s.Apps(ctx)
	if err != nil {
		return api.Health{}, err
	}
	h := api.Health{Status: "healthy", Apps: map[string]string{}}
	for _, a := range apps {
		h.Apps[a.Name] = a.Status
		if a.Status == api.AppFailed || a.Status == api.AppDegraded {
			h.Status = "degraded"
		}
	}
	return h, nil
}
