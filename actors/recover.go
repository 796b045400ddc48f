package actors

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/anthdm/hollywood/actor"
)

// childFailed tells a parent that one of its children panicked. The child's
// recover middleware sends it; the parent decides what to do (the supervisor
// stops the app actor and spawns a fresh one after a backoff).
type childFailed struct {
	PID    *actor.PID
	Name   string
	Reason string
	Stack  string
}

// recoverMiddleware turns a panic in Receive into a childFailed message to the
// parent (or a log line for a top-level actor), so a panic never reaches
// hollywood's restart path (whose restart budget, once exceeded, crashes the
// process in v1.0.5).
func recoverMiddleware(name string) actor.MiddlewareFunc {
	return func(next actor.ReceiveFunc) actor.ReceiveFunc {
		return func(c *actor.Context) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if _, stopping := c.Message().(actor.Stopped); stopping {
					return
				}
				if parent := c.Parent(); parent != nil {
					c.Engine().Send(parent, childFailed{
						PID:    c.PID(),
						Name:   name,
						Reason: fmt.Sprint(v),
						Stack:  string(debug.Stack()),
					})
					return
				}
				// A top-level actor (supervisor, bridge) keeps its state and
				// goes on with the next message.
				slog.Error("actor panicked", "actor", name, "reason", fmt.Sprint(v), "stack", string(debug.Stack()))
			}()
			next(c)
		}
	}
}
