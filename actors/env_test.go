package actors

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/metrics"
	"github.com/bluegreen/bluegreen/store"
)

// The owned parts of an app actor are tested on their own: a part gets an
// env whose actor is a host that runs the functions a test sends it (so the
// part runs inside a Receive, with its actor.Context, as in the app actor)
// and keeps every other message, which is what the part sent its actor.
// Docker is the fake runtime (with web:v1, v2 and v3 present), the store a
// SQLite file, time the fake clock.

// partEnv is the world of a part under test.
type partEnv struct {
	t     *testing.T
	env   *env
	rt    *fakeRuntime
	st    *store.Store
	clock *fakeClock
	inbox chan any // what the parts sent their actor
}

// partFunc runs in the host actor's Receive.
type partFunc func(c *actor.Context)

var partHosts atomic.Int64

// newPartEnv starts a host actor for the parts of cfg's app.
func newPartEnv(t *testing.T, cfg *config.App) *partEnv {
	t.Helper()
	eng, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "bluegreen.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := &partEnv{t: t, rt: newFakeRuntime(t), st: st, clock: &fakeClock{}, inbox: make(chan any, 1000)}
	for _, ref := range []string{"web:v1", "web:v2", "web:v3"} {
		p.rt.image(ref, fakeImage{}, true)
	}
	reg := metrics.New()
	d := deps{store: st, rt: p.rt, rec: &recorder{store: st, hub: newHub(), log: log, metrics: reg}, log: log, metrics: reg,
		timers: timers{after: p.clock.after, crashPoll: time.Hour, runPoll: 5 * time.Millisecond}.withDefaults()}
	pid := eng.SpawnFunc(func(c *actor.Context) {
		switch msg := c.Message().(type) {
		case partFunc:
			msg(c)
		case actor.Initialized, actor.Started, actor.Stopped:
		default:
			p.inbox <- msg
		}
	}, "part", actor.WithID(fmt.Sprint(partHosts.Add(1))))
	p.env = &env{cfg: cfg, deps: d, log: log, metrics: reg.App(cfg.Name), eng: eng, self: pid}
	p.do(func(c *actor.Context) { p.env.home = c })
	t.Cleanup(func() {
		<-eng.Poison(pid).Done()
		st.Close()
	})
	return p
}

// do runs f in the host's Receive and waits until it returned.
func (p *partEnv) do(f func(c *actor.Context)) {
	p.t.Helper()
	done := make(chan struct{})
	p.env.eng.Send(p.env.self, partFunc(func(c *actor.Context) {
		defer close(done)
		f(c)
	}))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.t.Fatal("the host actor did not run the function")
	}
}

// ask runs f in the Receive of a request (f may answer it then, or keep
// its sender and answer later) and returns a channel with the answer.
func (p *partEnv) ask(f func(c *actor.Context)) <-chan any {
	out := make(chan any, 1)
	resp := p.env.eng.Request(p.env.self, partFunc(f), 5*time.Second)
	go func() {
		v, err := resp.Result()
		if err != nil {
			v = err
		}
		out <- v
	}()
	return out
}

// sent waits for the next message of type T the parts sent their actor,
// dropping the others before it.
func sent[T any](p *partEnv) T {
	p.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-p.inbox:
			if v, ok := m.(T); ok {
				return v
			}
		case <-deadline:
			var zero T
			p.t.Fatalf("no %T sent", zero)
			return zero
		}
	}
}

// quietInbox fails when a message sent to the actor so far is waiting
// (one sent before this call reached the host before its round trip).
func (p *partEnv) quietInbox() {
	p.t.Helper()
	p.do(func(*actor.Context) {})
	select {
	case m := <-p.inbox:
		p.t.Fatalf("unexpected message %T %+v", m, m)
	default:
	}
}

// events returns the types of the app's audit events, oldest first.
func (p *partEnv) events() []deploy.EventType {
	p.t.Helper()
	evs, err := p.st.Events(context.Background(), p.env.cfg.Name, 0, 1000)
	if err != nil {
		p.t.Fatal(err)
	}
	var types []deploy.EventType
	for _, e := range evs {
		types = append(types, e.Type)
	}
	return types
}
