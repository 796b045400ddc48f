package actors

import (
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestBridge(t *testing.T) {
	eng, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	// A stand-in app actor: it answers GetStatus with its name.
	app := eng.SpawnFunc(func(c *actor.Context) {
		if msg, ok := c.Message().(GetStatus); ok {
			c.Respond(StatusReply{Status: deploy.AppStatus{Name: "routed " + msg.App}})
		}
	}, "app", actor.WithID("web"))
	b := eng.Spawn(newBridge(nil), "bridge", actor.WithID("test"))
	t.Cleanup(func() { <-eng.Poison(b).Done(); <-eng.Poison(app).Done() })
	eng.Send(b, appsChanged{apps: map[string]*actor.PID{"web": app}})

	ask := func(msg any) any {
		t.Helper()
		v, err := eng.Request(b, msg, 5*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if r := ask(GetStatus{App: "web"}).(StatusReply); r.Err != nil || r.Status.Name != "routed web" {
		t.Fatalf("routed: %+v", r)
	}
	// An unknown app is answered by the bridge, in the reply type the caller waits for.
	if r := ask(GetStatus{App: "nope"}).(StatusReply); deploy.ErrorCode(r.Err) != deploy.ENOTFOUND {
		t.Fatalf("status of an unknown app: %+v", r)
	}
	if r := ask(GetActiveContainer{App: "nope"}).(ContainerReply); deploy.ErrorCode(r.Err) != deploy.ENOTFOUND {
		t.Fatalf("container of an unknown app: %+v", r)
	}
	if r := ask(Deploy{App: "nope"}).(DeployReply); deploy.ErrorCode(r.Err) != deploy.ENOTFOUND || r.Err.Error() != `no app named "nope"` {
		t.Fatalf("deploy of an unknown app: %+v", r)
	}
}
