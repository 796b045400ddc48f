package actors

import (
	"testing"

	"github.com/anthdm/hollywood/actor"
)

func TestChecksPruner(t *testing.T) {
	p := newPartEnv(t, unitApp(t, "web:v1"))
	pr := &checksPruner{store: p.st, log: p.env.log}
	p.do(pr.start)
	p.do(pr.prune)
	p.do(pr.prune) // one prune at a time
	sent[pruneDone](p)
	p.quietInbox()
	pr.done()
	p.do(pr.prune)
	sent[pruneDone](p)
	p.do(func(*actor.Context) { pr.stop(); pr.stop() })
	if pr.timer != nil {
		t.Fatal("the timer is kept")
	}
}
