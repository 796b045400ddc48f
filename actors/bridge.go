package actors

import (
	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
)

// bridgeActor turns API calls into messages: it routes each request to the app
// actor it names (or the supervisor), keeping the caller as the sender so the
// target answers the caller directly. It never waits on an answer itself.
type bridgeActor struct {
	supervisor *actor.PID
	apps       map[string]*actor.PID
}

func newBridge(supervisor *actor.PID) actor.Producer {
	return func() actor.Receiver {
		return &bridgeActor{supervisor: supervisor, apps: map[string]*actor.PID{}}
	}
}

func (b *bridgeActor) Receive(c *actor.Context) {
	switch msg := c.Message().(type) {
	case appsChanged:
		b.apps = msg.apps
	case Reload, ListApps:
		c.Engine().SendWithSender(b.supervisor, msg, c.Sender())
	case appMessage:
		pid := b.apps[msg.appName()]
		if pid == nil {
			c.Respond(notFound(msg))
			return
		}
		c.Engine().SendWithSender(pid, msg, c.Sender())
	}
}

// notFound answers an app message whose app does not exist, in the reply
// type its sender waits for.
func notFound(msg appMessage) any {
	err := deploy.Errorf(deploy.ENOTFOUND, "no app named %q", msg.appName())
	switch msg.(type) {
	case GetStatus, Promote:
		return StatusReply{Err: err}
	case GetActiveContainer:
		return ContainerReply{Err: err}
	case SetTraffic:
		return TrafficReply{Err: err}
	default:
		return DeployReply{Err: err}
	}
}
