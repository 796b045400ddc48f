package actors

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// Traffic control (docs/traffic.md): an app serves, is paused (its proxy
// holds every new request) or is in maintenance (its proxy answers every new
// request with the maintenance page). The mode is the appTraffic part's;
// the proxy follows it (proxyListener.setTraffic). Health checks and
// deployments go on in every mode.
//
// The outage hold follows the active container: the proxy is told when it
// is down (it exited, and Docker or the revival starts it again) and when
// it passed a health check again (followOutage, onHealth).

// appTraffic is the app's traffic mode. Only its methods change it, and
// each change is stored before it takes effect, so that a restart, a kill
// -9 or an upgrade of serve starts in it.
type appTraffic struct {
	env   *env
	state deploy.TrafficState
}

// load reads the app's stored mode; an app never paused serves.
func (t *appTraffic) load(ctx context.Context) {
	e := t.env
	st, err := e.deps.store.Traffic(ctx, e.cfg.Name)
	if err != nil {
		e.log.Error("read the traffic mode: serving", keyErr, err)
		st = deploy.TrafficState{}
	}
	t.state = st
	e.metrics.SetTraffic(t.mode().Mode)
	if !st.Serving() {
		e.log.Warn("traffic mode kept from before the start", "traffic", st.String(), "since", st.Since.Format(time.RFC3339))
	}
}

// mode is the app's traffic mode now.
func (t *appTraffic) mode() deploy.TrafficState {
	if t.state.Mode == "" {
		return deploy.TrafficState{Mode: deploy.TrafficServing}
	}
	return t.state
}

// change stores the mode c asks for and makes it the app's; when the store
// cannot write it, nothing changes.
func (t *appTraffic) change(c deploy.TrafficChange) error {
	e := t.env
	next := c.State(time.Now().UTC())
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := e.deps.store.PutTraffic(ctx, e.cfg.Name, next); err != nil {
		return deploy.Errorf(deploy.EINTERNAL, "the traffic mode of %s could not be stored, nothing changed: %v", e.cfg.Name, err)
	}
	t.state = next
	e.metrics.SetTraffic(next.Mode)
	return nil
}

// onSetTraffic pauses the app, puts it in maintenance or resumes it: the
// mode is stored, the proxy told, the change recorded as an event. A
// resume of a serving app changes nothing.
func (a *appActor) onSetTraffic(c deploy.TrafficChange) TrafficReply {
	if a.gate.refuses() {
		return TrafficReply{Err: errBusy}
	}
	if err := c.Check(); err != nil {
		return TrafficReply{Err: err}
	}
	from := a.traffic.mode()
	if c.Mode == deploy.TrafficServing && from.Serving() {
		return TrafficReply{}
	}
	if err := a.traffic.change(c); err != nil {
		a.log.Error("traffic mode", keyErr, err)
		return TrafficReply{Err: err}
	}
	to := a.traffic.mode()
	held := a.listener.setTraffic(to)
	a.trafficEvent(from, to, held)
	return TrafficReply{}
}

// trafficEvent logs and records a change of the traffic mode from to to;
// held is how many held requests a resume sent or a maintenance answered.
func (a *appActor) trafficEvent(from, to deploy.TrafficState, held int) {
	name := a.cfg.Name
	data := map[string]any{"from": from.Mode}
	var msg string
	switch to.Mode {
	case deploy.TrafficPaused:
		data["max_wait_ms"] = to.MaxWait.Milliseconds()
		msg = fmt.Sprintf("%s paused: new requests are held, each up to %s, until it resumes", name, to.MaxWait)
	case deploy.TrafficMaintenance:
		data["message"], data["retry_after_ms"], data["held"] = to.Message, to.RetryAfter.Milliseconds(), held
		msg = fmt.Sprintf("%s in maintenance: new requests get 503 (Retry-After %s)", name, to.RetryAfter)
		if held > 0 {
			msg += fmt.Sprintf("; %d held requests got it too", held)
		}
	default:
		data["held"] = held
		msg = fmt.Sprintf("%s resumed after %s: %d held requests sent", name, from.Mode, held)
	}
	a.log.Info("traffic mode changed", keyFrom, from.String(), keyTo, to.String(), "held", held)
	a.event(0, deploy.TrafficEvent(to.Mode), msg, data)
}

// followOutage tells the proxy when the active container is down: it is
// there and Docker said it is not running. Until it passes a health check
// again (onHealth), requests wait for it up to proxy.outage_hold.
func (a *appActor) followOutage() {
	color := a.record.active()
	s, ok := a.containers.get(color)
	if color == "" || !ok || s.running() || s.state == "" || s.state == stateUnknown || a.containers.dockerErr() != nil {
		return
	}
	a.listener.containerDown(color)
}

// onKill takes a kill signal sent to a known container (docker kill, docker
// stop, an OOM kill): one that ends the active container, which the actor
// did not stop itself, puts the outage hold on at once, before its exit
// comes (Docker's die event follows within milliseconds, and the requests
// sent meanwhile would meet a port that no longer answers).
func (a *appActor) onKill(color deploy.Color, signal string) {
	s, ok := a.containers.get(color)
	if !ok || color != a.record.active() || s.stopping || !s.running() || !endsContainer(signal) {
		return
	}
	a.listener.containerDown(color)
}

// endsContainer reports whether a kill with signal ends a container as
// Docker sends it: SIGKILL, or SIGTERM (docker stop).
func endsContainer(signal string) bool {
	switch strings.TrimPrefix(strings.ToUpper(signal), "SIG") {
	case "9", "KILL", "15", "TERM":
		return true
	}
	return false
}

// SetTraffic implements api.Backend: it pauses an app, puts it in
// maintenance or resumes it, and returns the app's status.
func (s *System) SetTraffic(ctx context.Context, app string, change deploy.TrafficChange) (deploy.AppStatus, error) {
	if err := change.Check(); err != nil {
		return deploy.AppStatus{}, err
	}
	if s.paused.Load() {
		return deploy.AppStatus{}, errBusy
	}
	v, err := s.ask(SetTraffic{App: app, Change: change})
	if err != nil {
		return deploy.AppStatus{}, err
	}
	if err := v.(TrafficReply).Err; err != nil {
		return deploy.AppStatus{}, err
	}
	return s.App(ctx, app)
}
