package actors

import (
	"context"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/store"
)

// Health-check retention: every pruneInterval, each app and color keeps its
// newest keepHealthChecks checks.
const (
	pruneInterval    = 10 * time.Minute
	keepHealthChecks = 1000
)

// checksPruner is the supervisor's prune of old health checks: its timer
// and the prune in flight. Only its methods change them.
type checksPruner struct {
	store   *store.Store
	log     *slog.Logger
	timer   *actor.SendRepeater
	pruning bool
}

// start sends the supervisor a pruneTick every pruneInterval.
func (p *checksPruner) start(c *actor.Context) {
	r := c.SendRepeat(c.PID(), pruneTick{}, pruneInterval)
	p.timer = &r
}

// stop stops the timer.
func (p *checksPruner) stop() {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
}

// prune deletes the checks beyond keepHealthChecks in the background
// (pruneDone), unless a prune runs.
func (p *checksPruner) prune(c *actor.Context) {
	if p.pruning {
		return
	}
	p.pruning = true
	eng, self, st, log := c.Engine(), c.PID(), p.store, p.log
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if n, err := st.PruneHealthChecks(ctx, keepHealthChecks); err != nil {
			log.Error("prune health checks", keyErr, err)
		} else if n > 0 {
			log.Info("pruned old health checks", "deleted", n)
		}
		eng.Send(self, pruneDone{})
	}()
}

// done records that the prune in flight ended.
func (p *checksPruner) done() { p.pruning = false }
