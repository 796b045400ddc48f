package actors

import (
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// eventually waits for cond, polling briefly, up to a deadline.
func (p *partEnv) eventually(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestEventStream(t *testing.T) {
	p := newPartEnv(t, unitApp(t, "web:v1"))
	w := &eventStream{rt: p.rt, log: p.env.log}
	p.do(w.start)
	p.do(w.start) // streams already: no second stream
	p.eventually("the stream", func() bool { return p.rt.streamCount() == 1 })
	cs := newAppContainers(p.env)
	p.runContainer(&cs, deploy.Blue, "web:v1", 1, true)
	if ev := sent[containerEvent](p).ev; ev.Action != docker.ActionStart || ev.Name != p.env.cfg.Name+"-blue" {
		t.Fatalf("event %+v", ev)
	}
	if n := p.rt.streamCount(); n != 1 {
		t.Fatalf("%d streams, want one", n)
	}
	w.stop()
	w.stop() // stopped already
	p.eventually("the stream's end", func() bool { return p.rt.streamCount() == 0 })
}
