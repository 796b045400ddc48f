package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/store"
)

// The System's reads: app status, history, health and events, from the app
// actors and the store.

// App implements api.Backend.
func (s *System) App(ctx context.Context, name string) (deploy.AppStatus, error) {
	v, err := s.ask(GetStatus{App: name})
	if err != nil {
		return deploy.AppStatus{}, err
	}
	r := v.(StatusReply)
	if r.Err != nil {
		return deploy.AppStatus{}, r.Err
	}
	st := r.Status
	if st.Stats, err = s.store.Stats(ctx, name); err != nil {
		return deploy.AppStatus{}, fmt.Errorf("read stats of %s: %w", name, err)
	}
	last, err := s.store.LastFinished(ctx, name)
	if err != nil {
		return deploy.AppStatus{}, fmt.Errorf("read last deployment of %s: %w", name, err)
	}
	if last != nil {
		d := *last // the store's cached copy stays as it is
		d.Phases, d.Logs = slices.Clone(d.Phases), slices.Clone(d.Logs)
		st.LastDeployment = &d
	}
	return st, nil
}

// Apps implements api.Backend.
func (s *System) Apps(ctx context.Context) ([]deploy.AppStatus, error) {
	names, err := s.names()
	if err != nil {
		return nil, err
	}
	out := make([]deploy.AppStatus, len(names))
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
			if deploy.ErrorCode(err) == deploy.ENOTFOUND { // removed meanwhile
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

// known fails with ENOTFOUND when no app has that name.
func (s *System) known(app string) error {
	names, err := s.names()
	if err != nil {
		return err
	}
	i := sort.SearchStrings(names, app)
	if i < len(names) && names[i] == app {
		return nil
	}
	return deploy.Errorf(deploy.ENOTFOUND, "no app named %q", app)
}

// History implements api.Backend.
func (s *System) History(ctx context.Context, app string, limit, offset int) ([]deploy.Deployment, error) {
	if err := s.known(app); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 10
	}
	return s.store.ListDeployments(ctx, app, limit, offset)
}

// Deployment implements api.Backend.
func (s *System) Deployment(ctx context.Context, id int64) (deploy.Deployment, error) {
	d, err := s.store.GetDeployment(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return d, deploy.Errorf(deploy.ENOTFOUND, "no deployment with id %d", id)
	}
	return d, err
}

// WaitDeployment implements api.Backend: it follows the audit events and
// reads the deployment again when one ends it.
func (s *System) WaitDeployment(ctx context.Context, id int64) (deploy.Deployment, error) {
	events, cancel := s.hub.subscribe()
	defer cancel()
	return deploy.Watch{Read: s.Deployment, Events: events, NoStream: waitPoll}.Wait(ctx, id)
}

// waitPoll is how often WaitDeployment reads the deployment after the hub
// dropped its subscription for falling behind.
const waitPoll = 500 * time.Millisecond

// Health implements api.Backend.
func (s *System) Health(ctx context.Context, app string, limit int) (map[deploy.Color]deploy.ColorHealth, error) {
	st, err := s.App(ctx, app)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 20
	}
	out := map[deploy.Color]deploy.ColorHealth{}
	for _, color := range deploy.Colors {
		ct := st.Containers.Of(color)
		ch := deploy.ColorHealth{Checks: []deploy.HealthCheck{}, Status: deploy.NoContainer}
		if ct != nil {
			// The checks of the color's current container only (docs/api.md, "ColorHealth").
			checks, err := s.store.ContainerHealthChecks(ctx, app, color, ct.ID, limit)
			if err != nil {
				return nil, fmt.Errorf("read health checks of %s: %w", app, err)
			}
			ch = colorHealth(checks)
			ch.Healthy, ch.Status, ch.Container = ct.Health == deploy.Healthy, ct.Health, ct.State
		}
		out[color] = ch
	}
	return out, nil
}

// colorHealth sums up a container's checks, newest first: the failures in
// a row since its last pass; a starting check (before its first pass) is
// no failure.
func colorHealth(checks []deploy.HealthCheck) deploy.ColorHealth {
	ch := deploy.ColorHealth{Checks: checks}
	if ch.Checks == nil {
		ch.Checks = []deploy.HealthCheck{}
	}
	if len(checks) > 0 {
		at := checks[0].At
		ch.LastCheck = &at
	}
	for _, c := range checks {
		if c.Success {
			break
		}
		if !c.Starting {
			ch.ConsecutiveFailures++
		}
	}
	return ch
}

// Events implements api.Backend.
func (s *System) Events(ctx context.Context, app string, afterID int64, limit int) ([]deploy.Event, error) {
	return s.store.Events(ctx, app, afterID, limit)
}

// Subscribe implements api.Backend.
func (s *System) Subscribe(ctx context.Context) (<-chan deploy.Event, func()) {
	return s.hub.subscribe()
}

// Overall implements api.Backend: the supervisor's health for people and
// for a load balancer's local agent. It is unhealthy when there are apps but
// none can serve (deploy.AppStatus.CanServe), degraded when any app is
// failed or degraded, and carries the serving process's pid, version and
// start time (docs/api.md, "Supervisor health").
func (s *System) Overall(ctx context.Context) (deploy.Overall, error) {
	apps, err := s.Apps(ctx)
	if err != nil {
		return deploy.Overall{}, err
	}
	h := deploy.Overall{Status: deploy.OverallHealthy, Apps: map[string]deploy.State{},
		PID: s.PID(), Version: s.version, StartedAt: s.started}
	serving := 0
	for _, a := range apps {
		h.Apps[a.Name] = a.Status
		if a.Status == deploy.AppFailed || a.Status == deploy.AppDegraded {
			h.Status = deploy.OverallDegraded
		}
		if a.CanServe() {
			serving++
		}
	}
	if len(apps) > 0 && serving == 0 {
		h.Status = deploy.OverallUnhealthy
	}
	return h, nil
}

// Images implements api.Backend: the app's images that bluegreen keeps,
// those its deployments used that are still present in Docker, newest first.
func (s *System) Images(ctx context.Context, app string) ([]deploy.Image, error) {
	if err := s.known(app); err != nil {
		return nil, err
	}
	images, err := appImages(ctx, s.store, s.rt, app)
	if err != nil {
		return nil, imagesError(app, err)
	}
	inUse, err := s.rt.ImagesInUse(ctx)
	if err != nil {
		return nil, imagesError(app, err)
	}
	out := []deploy.Image{}
	for _, im := range images {
		if !im.present {
			continue
		}
		out = append(out, deploy.Image{Image: im.ref, ID: im.image.ID, SizeBytes: im.image.SizeBytes,
			CreatedAt: im.image.Created, InUse: inUse[im.image.ID], LastDeploymentID: im.lastDeploymentID})
	}
	return out, nil
}
