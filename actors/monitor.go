package actors

import (
	"context"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
)

// appMonitors are an app's health actors (health.go), one for each color whose
// container is checked: only its methods spawn and stop them. What a check
// finds is the containers' (appContainers.checked); which colors are checked,
// the app actor says (ensureMonitors).
type appMonitors struct {
	env     *env
	watches map[deploy.Color]*healthWatch
	dying   []context.Context // health actors stopped and maybe not gone yet
	gen     uint64            // numbers the health actors' IDs
	// eager reports, from any goroutine, whether the app's proxy holds
	// requests: the health actors then send every passed check.
	eager func() bool
}

// healthWatch is one color's health actor.
type healthWatch struct {
	pid   *actor.PID
	ofID  string             // the container it checks
	ofCfg config.HealthCheck // with this config
	tally *atomic.Int64      // its passes in a row (healthActor)
	quit  context.CancelFunc // ends its checks at once (healthTarget.quit)
}

func newAppMonitors(e *env) appMonitors {
	return appMonitors{env: e, watches: map[deploy.Color]*healthWatch{}}
}

// ensure runs a health actor for each color of want, checking its target
// with the app's health_check, and stops every other.
func (m *appMonitors) ensure(want map[deploy.Color]healthTarget) {
	e := m.env
	for _, color := range deploy.Colors {
		w, t := m.watches[color], want[color]
		wanted := t.id != ""
		if w != nil && (!wanted || w.ofID != t.id || !reflect.DeepEqual(w.ofCfg, e.cfg.HealthCheck)) {
			m.stop(color)
			w = nil
		}
		if wanted && w == nil {
			rec := healthRecorder{app: e.cfg.Name, metrics: e.metrics, store: e.deps.store, log: e.log}
			w = &healthWatch{ofID: t.id, ofCfg: e.cfg.HealthCheck, tally: new(atomic.Int64)}
			t.quit, w.quit = context.WithCancel(context.Background())
			m.gen++
			w.pid = e.home.SpawnChild(newHealthActor(color, t, e.cfg.HealthCheck, rec, w.tally, m.eager), "health",
				actor.WithID(string(color)+"-"+strconv.FormatUint(m.gen, 10)),
				actor.WithMiddleware(recoverMiddleware(e.cfg.Name+"/health")))
			m.watches[color] = w
		}
	}
}

// watching reports whether a health actor checks color's container.
func (m *appMonitors) watching(color deploy.Color) bool { return m.watches[color] != nil }

// tally is the passes in a row of color's health actor, as it counts them;
// false when none checks the color.
func (m *appMonitors) tally(color deploy.Color) (int, bool) {
	if w := m.watches[color]; w != nil {
		return int(w.tally.Load()), true
	}
	return 0, false
}

// stop stops color's health actor and remembers it until it is gone
// (waitGone).
func (m *appMonitors) stop(color deploy.Color) {
	w := m.watches[color]
	if w == nil {
		return
	}
	delete(m.watches, color)
	w.quit()
	m.dying = append(m.dying, m.env.eng.Poison(w.pid))
	live := m.dying[:0]
	for _, ctx := range m.dying {
		if ctx.Err() == nil {
			live = append(live, ctx)
		}
	}
	m.dying = live
}

// stopAll stops every health actor.
func (m *appMonitors) stopAll() {
	for _, color := range deploy.Colors {
		m.stop(color)
	}
}

// failed stops the health actor pid, which panicked; the next ensure
// spawns a new one.
func (m *appMonitors) failed(pid *actor.PID) {
	for color, w := range m.watches {
		if w.pid.Equals(pid) {
			m.stop(color)
		}
	}
}

// waitGone waits, up to a second, until the health actors stopped are
// gone. Hollywood's stop of the app actor poisons its children again and
// would wait forever for one that is still stopping from a pill of ours:
// the app actor is stopped only after this.
func (m *appMonitors) waitGone() {
	deadline := time.After(time.Second)
	for _, ctx := range m.dying {
		select {
		case <-ctx.Done():
		case <-deadline:
			return
		}
	}
	m.dying = nil
}
