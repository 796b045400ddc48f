package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strconv"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/proxy"
	"github.com/bluegreen/bluegreen/store"
)

// Container labels (CONTRACT §3).
const (
	LabelApp        = "bluegreen.app"
	LabelColor      = "bluegreen.color"
	LabelManaged    = "bluegreen.managed"
	LabelDeployment = "bluegreen.deployment"
)

// DefaultReconcileInterval is how often an app actor re-reads its containers
// from Docker when no deployment runs.
const DefaultReconcileInterval = 5 * time.Second

// logLines is how many of a failed container's last log lines a deployment keeps.
const logLines = 50

// deps are the shared resources every app actor uses.
type deps struct {
	store     *store.Store
	rt        Runtime
	rec       *recorder
	log       *slog.Logger
	reconcile time.Duration
}

// slot is one color's container as the app actor knows it.
type slot struct {
	id           string
	image        string
	port         int // published host port
	state        string
	deploymentID int64

	healthy      bool // passed healthy_threshold checks in a row since it last started or failed
	unhealthy    bool // failed unhealthy_threshold checks in a row and not healthy since
	checked      bool // at least one check ran
	failures     int  // consecutive failed checks
	passes       int  // consecutive passed checks
	monitor      *actor.PID
	monitorOfID  string
	monitorOfCfg config.HealthCheck
}

func (s *slot) running() bool { return s != nil && s.state == "running" }

// resetHealth forgets the checks of a container that stopped running.
func (s *slot) resetHealth() {
	s.healthy, s.unhealthy, s.checked, s.passes, s.failures = false, false, false, 0, 0
}

// appActor owns one app: its blue and green slots, its health actors, its
// proxy listener and its deployments. Nothing else touches them.
type appActor struct {
	cfg  *config.App
	deps deps
	log  *slog.Logger

	eng  *actor.Engine
	self *actor.PID

	state    store.AppState
	slots    map[deploy.Color]*slot
	proxy    *proxy.Proxy
	proxyErr error
	dockErr  error
	adopted  bool

	run    *deployRun
	queued *deploy.Deployment
	gen    uint64

	lastDeploymentID int64
	resume           *deploy.Deployment // interrupted by a stop: deployed again after adoption
	interrupted      map[int64]bool     // IDs of deployments found interrupted at start
	retired          bool               // removed from the configs: stopping for good
	reconciling      bool
	repeater         *actor.SendRepeater
}

func newAppActor(cfg *config.App, d deps) actor.Producer {
	return func() actor.Receiver {
		return &appActor{cfg: cfg, deps: d, log: d.log.With(keyApp, cfg.Name)}
	}
}

// Receive handles every message of the app actor.
func (a *appActor) Receive(c *actor.Context) {
	switch msg := c.Message().(type) {
	case actor.Started:
		a.started(c)
	case actor.Stopped:
		a.stopped()
	case adoptResult:
		a.onAdopt(c, msg)
	case reconcileTick:
		a.onReconcileTick(c)
	case reconcileResult:
		a.onReconcile(c, msg)
	case Deploy:
		c.Respond(a.onDeploy(c, msg.Image, msg.Trigger))
	case Rollback:
		c.Respond(a.onRollback(c, msg.Trigger))
	case Switch:
		c.Respond(a.onSwitch(c, msg.Color))
	case GetStatus:
		c.Respond(StatusReply{Status: a.status()})
	case GetActiveContainer:
		c.Respond(a.activeContainer())
	case updateConfig:
		a.onUpdateConfig(c, msg.cfg)
	case retire:
		a.retired = true
	case healthResult:
		a.onHealth(c, msg)
	case pullDone:
		a.onPullDone(c, msg)
	case startDone:
		a.onStartDone(c, msg)
	case containerExited:
		a.onContainerExited(c, msg)
	case healthTimeout:
		a.onHealthTimeout(c, msg)
	case drainDone:
		a.onDrainDone(c, msg)
	case stopDone:
		a.onStopDone(c, msg)
	case rollbackDone:
		a.onRollbackDone(c, msg)
	case opDone:
		a.onOpDone(c, msg)
	case childFailed:
		// A health actor panicked: restart monitoring from scratch.
		a.log.Error("health actor failed", "reason", msg.Reason)
		for _, s := range a.slots {
			if s.monitor != nil && s.monitor.Equals(msg.PID) {
				c.Engine().Poison(s.monitor)
				s.monitor = nil
			}
		}
		a.ensureMonitors(c)
	}
}

func (a *appActor) started(c *actor.Context) {
	a.eng, a.self = c.Engine(), c.PID()
	a.slots = map[deploy.Color]*slot{}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	st, err := a.deps.store.GetApp(ctx, a.cfg.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		st = store.AppState{Name: a.cfg.Name}
	case err != nil:
		a.log.Error("read app state", keyErr, err)
		st = store.AppState{Name: a.cfg.Name}
	}
	a.state = st
	if last, err := a.deps.store.DeploymentsByStatus(ctx, a.cfg.Name, []deploy.Status{deploy.StatusCompleted}, 1); err == nil && len(last) > 0 {
		a.lastDeploymentID = last[0].DeploymentID
	}
	a.resume, a.interrupted = a.markInterrupted(ctx, "the supervisor stopped during this deployment")

	// Serve from the last known state at once; adoption corrects it.
	if a.state.ActiveColor != "" {
		a.slots[a.state.ActiveColor] = &slot{image: a.state.CurrentImage, port: a.colorPort(a.state.ActiveColor), state: "unknown"}
	}
	a.startProxy()
	interval := a.deps.reconcile
	if interval <= 0 {
		interval = DefaultReconcileInterval
	}
	r := c.SendRepeat(c.PID(), reconcileTick{}, interval)
	a.repeater = &r
	a.adopt()
}

// markInterrupted ends every unfinished deployment of this app found in the
// store. It returns the newest of them, to resume (nil when none), and the
// IDs of them all.
func (a *appActor) markInterrupted(ctx context.Context, why string) (*deploy.Deployment, map[int64]bool) {
	deps, err := a.deps.store.DeploymentsByStatus(ctx, a.cfg.Name, deploy.RunningStatuses, 100)
	if err != nil {
		a.log.Error("read unfinished deployments", keyErr, err)
		return nil, nil
	}
	var newest *deploy.Deployment
	ids := map[int64]bool{}
	for _, d := range deps {
		ids[d.DeploymentID] = true
		if newest == nil {
			newest = &d
		}
		now := time.Now().UTC()
		d.Status = deploy.StatusInterrupted
		d.Error = why
		d.CompletedAt = &now
		d.DurationMS = now.Sub(d.StartedAt).Milliseconds()
		if err := a.deps.store.UpdateDeployment(ctx, &d); err != nil {
			a.log.Error("mark deployment interrupted", keyDeploymentID, d.DeploymentID, keyErr, err)
			continue
		}
		a.deps.rec.event(a.cfg.Name, d.DeploymentID, deploy.EventDeploymentInterrupted,
			fmt.Sprintf("deployment %d of %s interrupted: %s", d.DeploymentID, d.ToImage, why),
			map[string]any{"status": d.Status, "error": why})
	}
	return newest, ids
}

func (a *appActor) stopped() {
	if a.repeater != nil {
		a.repeater.Stop()
		a.repeater = nil
	}
	// A running or queued deployment stays as it is in the store: the next
	// start finds it, marks it interrupted and resumes the newest request.
	// An app removed from the configs has no next start: end them now.
	if r := a.run; r != nil {
		r.cancel()
		r.stopTimers()
		a.log.Warn("stopping in the middle of a deployment", keyDeploymentID, r.dep.DeploymentID, keyStatus, r.dep.Status)
	}
	if a.retired {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		a.markInterrupted(ctx, "the app was removed from the configs")
		cancel()
	}
	if a.proxy != nil {
		pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = a.proxy.Stop(pctx)
		pcancel()
	}
}

// startProxy binds the app's proxy listener. A failed bind leaves the app
// failed with the reason; the reconcile tick tries again.
func (a *appActor) startProxy() {
	p := proxy.New(proxy.Options{
		App:            a.cfg.Name,
		ListenAddress:  a.cfg.Proxy.ListenAddress,
		Port:           a.cfg.Ports.Proxy,
		TrustedProxies: a.cfg.Proxy.TrustedProxies,
		Logger:         a.deps.log,
	})
	if err := p.Start(); err != nil {
		if a.proxyErr == nil || a.proxyErr.Error() != err.Error() {
			a.log.Error("proxy listener", keyErr, err)
		}
		a.proxyErr = fmt.Errorf("proxy cannot listen: %w", err)
		a.refreshStatus()
		return
	}
	if a.proxy != nil { // replaced after a config change: keep routing the same way
		color, addr := a.proxy.Active()
		p.SetTarget(color, addr)
		old := a.proxy
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Deployment.DrainTimeout)
			defer cancel()
			_ = old.Stop(ctx)
		}()
	}
	a.proxy = p
	a.proxyErr = nil
	a.routeActive()
	a.refreshStatus()
}

// adopt lists the app's containers in the background (adoptResult).
func (a *appActor) adopt() {
	eng, self, rt, name := a.eng, a.self, a.deps.rt, a.cfg.Name
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cs, err := rt.List(ctx, map[string]string{LabelApp: name})
		eng.Send(self, adoptResult{containers: cs, err: err})
	}()
}

func (a *appActor) onAdopt(c *actor.Context, msg adoptResult) {
	if msg.err != nil {
		if a.dockErr == nil {
			a.log.Error("docker unreachable: serving from the last known state", keyErr, msg.err)
		}
		a.dockErr = msg.err
		// Containers outlive Docker hiccups less often than the daemon: route
		// to the last known active color anyway, retry adoption on the tick.
		a.refreshStatus()
		return
	}
	a.dockErr = nil
	a.adopted = true
	if a.run != nil {
		// A deployment began before adoption answered: it owns its color and
		// its decisions; take only the other color's container.
		for _, ct := range msg.containers {
			if color := deploy.Color(ct.Labels[LabelColor]); color != a.run.color && ct.Name == a.containerName(color) && a.slots[color] == nil {
				a.slots[color] = &slot{id: ct.ID, image: ct.Image, port: ct.HostPort, state: ct.State}
			}
		}
		a.resume = nil
		return
	}
	a.slots = map[deploy.Color]*slot{}
	for _, ct := range msg.containers {
		color := deploy.Color(ct.Labels[LabelColor])
		if !color.Valid() || ct.Name != a.containerName(color) {
			continue
		}
		s := &slot{id: ct.ID, image: ct.Image, port: ct.HostPort, state: ct.State}
		if s.port == 0 {
			s.port = a.colorPort(color)
		}
		if id, err := strconv.ParseInt(ct.Labels[LabelDeployment], 10, 64); err == nil {
			s.deploymentID = id
		}
		a.slots[color] = s
		a.saveContainer(color)
	}
	active := a.state.ActiveColor
	// A candidate of an interrupted deployment never took traffic: remove it.
	if other := active.Other(); active != "" {
		if s := a.slots[other]; s != nil && a.interrupted[s.deploymentID] {
			a.removeSlot(other, "left by an interrupted deployment")
		}
	}
	a.interrupted = nil
	a.log.Info("adopted containers", "count", len(a.slots), "active_color", active, keyImage, a.state.CurrentImage)

	resume := a.resume
	a.resume = nil
	image, trigger := a.cfg.Image, deploy.TriggerConfig // first start: the config's image
	if a.state.CurrentImage != "" {
		image = a.state.CurrentImage
	}
	if resume != nil { // what the operator asked for last
		image, trigger = resume.ToImage, resume.TriggerSource
	}
	switch s := a.slots[active]; {
	case active == "":
		a.startDeployment(c, image, trigger, "")
		return
	case s == nil:
		a.log.Warn("active container is gone: deploying again", keyColor, active, keyImage, image)
		a.startDeployment(c, image, trigger, "")
		return
	case !s.running():
		a.log.Warn("active container is not running: starting it", keyColor, active, "state", s.state)
		a.startContainerOp(active)
	default:
		a.routeActive()
	}
	if resume != nil && image != a.state.CurrentImage {
		a.log.Info("resuming the deployment the stop interrupted", keyImage, image)
		a.startDeployment(c, image, trigger, "")
	}
	a.ensureMonitors(c)
	a.refreshStatus()
}

// routeActive points the proxy at the active color's container.
func (a *appActor) routeActive() {
	if a.proxy == nil {
		return
	}
	color := a.state.ActiveColor
	s := a.slots[color]
	if color == "" || s == nil {
		return
	}
	port := s.port
	if port == 0 {
		port = a.colorPort(color)
	}
	a.proxy.SetTarget(string(color), net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
}

func (a *appActor) onReconcileTick(c *actor.Context) {
	if a.proxy == nil {
		a.startProxy()
	}
	if !a.adopted {
		a.adopt()
		return
	}
	if a.run != nil || a.reconciling {
		return
	}
	a.reconciling = true
	eng, self, rt := a.eng, a.self, a.deps.rt
	names := map[deploy.Color]string{deploy.Blue: a.containerName(deploy.Blue), deploy.Green: a.containerName(deploy.Green)}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res := reconcileResult{containers: map[deploy.Color]*docker.Container{}}
		for color, name := range names {
			ct, err := rt.Inspect(ctx, name)
			switch {
			case errors.Is(err, docker.ErrNotFound):
				res.containers[color] = nil
			case err != nil:
				res.err = err
			default:
				res.containers[color] = &ct
			}
		}
		eng.Send(self, res)
	}()
}

func (a *appActor) onReconcile(c *actor.Context, msg reconcileResult) {
	a.reconciling = false
	if msg.err != nil {
		if a.dockErr == nil {
			a.log.Error("docker unreachable", keyErr, msg.err)
		}
		a.dockErr = msg.err
		a.refreshStatus()
		return
	}
	if a.dockErr != nil {
		a.log.Info("docker reachable again")
		a.dockErr = nil
	}
	if a.run != nil { // a deployment started meanwhile: its view wins
		return
	}
	for _, color := range deploy.Colors {
		ct := msg.containers[color]
		s := a.slots[color]
		switch {
		case ct == nil && s != nil:
			a.log.Warn("container gone", keyColor, color, keyContainer, short(s.id))
			a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerRemoved,
				fmt.Sprintf("%s container %s is gone", color, short(s.id)), map[string]any{"color": color})
			delete(a.slots, color)
			a.deleteContainer(color)
		case ct != nil && (s == nil || s.id != ct.ID):
			ns := &slot{id: ct.ID, image: ct.Image, port: ct.HostPort, state: ct.State}
			if ns.port == 0 {
				ns.port = a.colorPort(color)
			}
			a.slots[color] = ns
			a.saveContainer(color)
			if color == a.state.ActiveColor {
				a.routeActive()
			}
		case ct != nil && s.state != ct.State:
			a.log.Info("container state changed", keyColor, color, keyFrom, s.state, keyTo, ct.State)
			if color == a.state.ActiveColor && ct.State != "running" {
				a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerExited,
					fmt.Sprintf("active %s container %s is %s (exit code %d)", color, short(ct.ID), ct.State, ct.ExitCode),
					map[string]any{"color": color, "state": ct.State, "exit_code": ct.ExitCode})
			}
			s.state = ct.State
			if !s.running() {
				s.resetHealth()
			}
			a.saveContainer(color)
		}
	}
	a.ensureMonitors(c)
	a.refreshStatus()
}

func (a *appActor) onUpdateConfig(c *actor.Context, cfg *config.App) {
	old := a.cfg
	a.cfg = cfg
	a.log.Info("config updated")
	a.deps.rec.event(cfg.Name, 0, deploy.EventConfigReloaded, "config of "+cfg.Name+" changed", nil)
	if old.Ports.Proxy != cfg.Ports.Proxy || old.Proxy.ListenAddress != cfg.Proxy.ListenAddress ||
		!reflect.DeepEqual(old.Proxy.TrustedProxies, cfg.Proxy.TrustedProxies) {
		a.startProxy()
	}
	if !reflect.DeepEqual(old.HealthCheck, cfg.HealthCheck) {
		a.ensureMonitors(c)
	}
}

// ensureMonitors runs a health actor for each color that needs one: the
// active color while it runs, and a deployment's candidate during its gate.
func (a *appActor) ensureMonitors(c *actor.Context) {
	for _, color := range deploy.Colors {
		s := a.slots[color]
		want := s.running() && (color == a.state.ActiveColor ||
			(a.run != nil && a.run.color == color && a.run.gating))
		if s == nil {
			continue
		}
		if s.monitor != nil && (!want || s.monitorOfID != s.id || !reflect.DeepEqual(s.monitorOfCfg, a.cfg.HealthCheck)) {
			c.Engine().Poison(s.monitor)
			s.monitor = nil
		}
		if want && s.monitor == nil {
			s.monitor = c.SpawnChild(newHealthActor(color, s.id, s.port, a.cfg.HealthCheck), "health",
				actor.WithID(string(color)+"-"+strconv.FormatUint(a.nextGen(), 10)),
				actor.WithMiddleware(recoverMiddleware(a.cfg.Name+"/health")))
			s.monitorOfID = s.id
			s.monitorOfCfg = a.cfg.HealthCheck
		}
	}
}

func (a *appActor) nextGen() uint64 {
	a.gen++
	return a.gen
}

func (a *appActor) onHealth(c *actor.Context, msg healthResult) {
	s := a.slots[msg.color]
	if s == nil || s.id != msg.containerID {
		return // a result for a container that is gone
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	if err := a.deps.store.AddHealthCheck(ctx, a.cfg.Name, msg.color, msg.containerID, msg.check); err != nil {
		a.log.Error("record health check", keyErr, err)
	}
	cancel()
	s.checked = true
	if msg.check.Success {
		s.passes++
		s.failures = 0
	} else {
		s.failures++
		s.passes = 0
	}
	if r := a.run; r != nil && r.color == msg.color && r.gating {
		if !msg.check.Success {
			r.lastCheckErr = msg.check.Error
		}
		if s.passes >= a.cfg.HealthCheck.HealthyThreshold {
			s.healthy, s.unhealthy = true, false
			a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventContainerHealthy,
				fmt.Sprintf("%s container passed %d health checks", msg.color, s.passes), map[string]any{"color": msg.color})
			a.switchTraffic(c)
		}
		return
	}
	if msg.color != a.state.ActiveColor {
		return
	}
	switch {
	case !msg.check.Success && s.failures == a.cfg.HealthCheck.UnhealthyThreshold:
		s.healthy, s.unhealthy = false, true
		a.log.Warn("active container unhealthy", keyColor, msg.color, "failures", s.failures, keyErr, msg.check.Error)
		a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerUnhealthy,
			fmt.Sprintf("active %s container failed %d health checks: %s", msg.color, s.failures, msg.check.Error),
			map[string]any{"color": msg.color, "error": msg.check.Error})
	case msg.check.Success && !s.healthy && s.passes >= a.cfg.HealthCheck.HealthyThreshold:
		s.healthy, s.unhealthy = true, false
		a.log.Info("active container healthy", keyColor, msg.color)
		a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerHealthy,
			fmt.Sprintf("active %s container is healthy", msg.color), map[string]any{"color": msg.color})
	}
	a.refreshStatus()
}

// appStatus derives the app's status from what the actor knows.
func (a *appActor) appStatus() (deploy.State, string) {
	active := a.slots[a.state.ActiveColor]
	switch {
	case a.proxyErr != nil:
		return deploy.AppFailed, a.proxyErr.Error()
	case a.run != nil:
		return deploy.AppDeploying, ""
	case a.state.ActiveColor == "":
		if a.dockErr != nil {
			return deploy.AppFailed, "Docker unreachable: " + a.dockErr.Error()
		}
		return deploy.AppFailed, "no container serves this app: deploy an image"
	case a.dockErr != nil:
		return deploy.AppDegraded, "Docker unreachable: " + a.dockErr.Error()
	case active == nil:
		return deploy.AppDegraded, fmt.Sprintf("the active %s container is gone", a.state.ActiveColor)
	case !active.running():
		return deploy.AppDegraded, fmt.Sprintf("the active %s container is %s", a.state.ActiveColor, active.state)
	case active.unhealthy:
		return deploy.AppDegraded, fmt.Sprintf("the active %s container fails its health checks", a.state.ActiveColor)
	}
	return deploy.AppStable, ""
}

// refreshStatus recomputes the app status and persists a change.
func (a *appActor) refreshStatus() {
	if !a.adopted && a.dockErr == nil && a.proxyErr == nil {
		return // nothing known yet: the first adoption decides
	}
	st, why := a.appStatus()
	if st == a.state.Status && why == a.state.Error {
		return
	}
	from := a.state.Status
	a.state.Status, a.state.Error = st, why
	a.saveState()
	if from != st {
		a.log.Info("app state changed", keyFrom, from, keyTo, st, "reason", why)
		a.deps.rec.event(a.cfg.Name, 0, deploy.EventAppState, fmt.Sprintf("%s is %s", a.cfg.Name, st),
			map[string]any{"from": from, "to": st, "reason": why})
	}
}

func (a *appActor) saveState() {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	a.state.Name = a.cfg.Name
	if err := a.deps.store.PutApp(ctx, a.state); err != nil {
		a.log.Error("save app state", keyErr, err)
	}
}

func (a *appActor) saveContainer(color deploy.Color) {
	s := a.slots[color]
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	err := a.deps.store.PutContainer(ctx, store.Container{App: a.cfg.Name, Color: color, ID: s.id,
		Image: s.image, DeploymentID: s.deploymentID, State: s.state})
	if err != nil {
		a.log.Error("save container", keyColor, color, keyErr, err)
	}
}

func (a *appActor) deleteContainer(color deploy.Color) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := a.deps.store.DeleteContainer(ctx, a.cfg.Name, color); err != nil {
		a.log.Error("delete container", keyColor, color, keyErr, err)
	}
}

// status builds the live part of the app's AppStatus.
func (a *appActor) status() deploy.AppStatus {
	st, why := a.appStatus()
	if !a.adopted && a.dockErr == nil && a.proxyErr == nil && a.run == nil {
		st, why = a.state.Status, "reading the containers from Docker"
		if st == "" {
			st = deploy.AppStopped
		}
	}
	out := deploy.AppStatus{
		Name:         a.cfg.Name,
		Status:       st,
		Error:        why,
		ActiveColor:  a.state.ActiveColor,
		CurrentImage: a.state.CurrentImage,
		DesiredImage: a.state.DesiredImage,
		Ports:        deploy.Ports{Proxy: a.cfg.Ports.Proxy, Blue: a.cfg.Ports.Blue, Green: a.cfg.Ports.Green},
		Connections:  map[deploy.Color]deploy.Connections{deploy.Blue: {}, deploy.Green: {}},
	}
	for color, s := range a.slots {
		ct := &deploy.Container{ID: s.id, Image: s.image, State: s.state, Health: deploy.Unchecked}
		switch {
		case s.monitor == nil || !s.checked:
		case s.healthy:
			ct.Health = deploy.Healthy
		case s.unhealthy:
			ct.Health = deploy.Unhealthy
		default:
			ct.Health = deploy.Starting
		}
		out.Containers.Set(color, ct)
	}
	if a.run != nil {
		d := a.run.dep
		d.Phases = append([]deploy.Phase(nil), d.Phases...)
		out.Deployment = &d
	}
	if a.proxy != nil {
		for color, n := range a.proxy.Connections() {
			out.Connections[deploy.Color(color)] = deploy.Connections{HTTP: n.HTTP, WebSocket: n.WebSocket}
		}
	}
	return out
}

func (a *appActor) activeContainer() ContainerReply {
	s := a.slots[a.state.ActiveColor]
	if s == nil || s.id == "" {
		return ContainerReply{Err: deploy.Errorf(deploy.ECONFLICT, "%s has no active container", a.cfg.Name)}
	}
	return ContainerReply{ID: s.id}
}

// startContainerOp starts an existing container of a color in the background
// (an active container found stopped at adoption).
func (a *appActor) startContainerOp(color deploy.Color) {
	s := a.slots[color]
	eng, self, rt, id := a.eng, a.self, a.deps.rt, s.id
	timeout := a.cfg.Deployment.StartupTimeout
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err := rt.Start(ctx, id)
		eng.Send(self, opDone{what: "start", color: color, err: err})
	}()
}

// removeSlot force-removes a color's container in the background.
func (a *appActor) removeSlot(color deploy.Color, why string) {
	s := a.slots[color]
	if s == nil {
		return
	}
	a.log.Info("removing container", keyColor, color, keyContainer, short(s.id), "reason", why)
	eng, self, rt, id := a.eng, a.self, a.deps.rt, s.id
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := rt.Remove(ctx, id)
		eng.Send(self, opDone{what: "remove", color: color, err: err})
	}()
	delete(a.slots, color)
	a.deleteContainer(color)
}

func (a *appActor) onOpDone(c *actor.Context, msg opDone) {
	if msg.err != nil && !(msg.what == "remove" && errors.Is(msg.err, docker.ErrNotFound)) {
		a.log.Error("container "+msg.what, keyColor, msg.color, keyErr, msg.err)
		return
	}
	switch msg.what {
	case "start":
		if s := a.slots[msg.color]; s != nil {
			s.state = "running"
			a.saveContainer(msg.color)
			a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerStarted,
				fmt.Sprintf("%s container %s started", msg.color, short(s.id)), map[string]any{"color": msg.color})
			if msg.color == a.state.ActiveColor {
				a.routeActive()
			}
		}
		a.ensureMonitors(c)
	case "remove":
		a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerRemoved,
			fmt.Sprintf("%s container removed", msg.color), map[string]any{"color": msg.color})
	}
	a.refreshStatus()
}

func (a *appActor) containerName(color deploy.Color) string { return a.cfg.Name + "-" + string(color) }

func (a *appActor) colorPort(color deploy.Color) int {
	if color == deploy.Green {
		return a.cfg.Ports.Green
	}
	return a.cfg.Ports.Blue
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
