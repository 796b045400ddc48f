package actors

import (
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
)

type boom struct{}

type panicker struct{}

func (panicker) Receive(c *actor.Context) {
	if _, ok := c.Message().(boom); ok {
		panic("boom")
	}
}

func TestRecoverMiddleware_ReportsPanicsToParent(t *testing.T) {
	eng, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	failures := make(chan childFailed, 10)
	var child *actor.PID
	parent := eng.SpawnFunc(func(c *actor.Context) {
		switch msg := c.Message().(type) {
		case actor.Started:
			child = c.SpawnChild(func() actor.Receiver { return panicker{} }, "panicker",
				actor.WithID("p"), actor.WithMiddleware(recoverMiddleware("p")))
		case childFailed:
			failures <- msg
		}
	}, "parent", actor.WithID("test"))
	defer func() { <-eng.Poison(parent).Done() }()

	// More panics than hollywood's restart budget (3): without the middleware
	// v1.0.5 would crash the process on the fourth.
	for i := 0; i < 5; i++ {
		eng.Send(child, boom{})
		select {
		case f := <-failures:
			if f.Reason != "boom" || !f.PID.Equals(child) || f.Stack == "" {
				t.Fatalf("childFailed = %+v", f)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("panic %d not reported", i+1)
		}
	}
}
