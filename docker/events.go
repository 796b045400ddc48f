package docker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	dockerclient "github.com/fsouza/go-dockerclient"
)

// Container event actions that Events streams.
const (
	ActionStart   = "start"
	ActionRestart = "restart"
	ActionDie     = "die"
	ActionKill    = "kill"
	ActionOOM     = "oom"
	ActionStop    = "stop"
	ActionDestroy = "destroy"
)

// eventActions are the actions asked of the daemon: what changes whether a
// container runs or exists.
var eventActions = []string{ActionStart, ActionRestart, ActionDie, ActionKill, ActionOOM, ActionStop, ActionDestroy}

// eventBuffer is how many events may wait for the reader. go-dockerclient
// drops an event that finds the buffer full, so it is ample.
const eventBuffer = 1024

// Event is a container event of the daemon.
type Event struct {
	Action   string            // one of the Action constants
	ID       string            // the container's ID
	Name     string            // the container's name, without "/"
	Labels   map[string]string // the container's labels
	ExitCode int               // die: the exit code
	Signal   string            // kill: the signal
	Time     time.Time
}

// Events streams the events of containers that carry all the given labels
// (k=v), from since (zero: from now), until ctx ends or the stream breaks
// (the daemon went away): then the channel is closed. A daemon that cannot
// be reached closes it within a second.
//
// The client keeps one subscription with go-dockerclient for as long as the
// stream lasts, whatever ctx does: removing a listener can make a stream
// goroutine of go-dockerclient that is still reading send on a closed
// channel (a panic) when its connection then fails. A later Events takes up
// the same subscription (its labels and since are the first call's) and
// first gets what came meanwhile, up to eventBuffer events. One reader runs
// at a time; a second waits for the first to end.
//
// go-dockerclient hands each event on from a goroutine of its own, so two
// events a few microseconds apart may come in either order: a reader takes
// an event as news that a container changed, and reads the container's
// state (Inspect) when order matters.
func (c *Client) Events(ctx context.Context, since time.Time, labels map[string]string) (<-chan Event, error) {
	in, err := c.subscription(since, labels)
	if err != nil {
		return nil, err
	}
	out := make(chan Event, eventBuffer)
	go func() {
		defer close(out)
		select {
		case c.evTurn <- struct{}{}:
			defer func() { <-c.evTurn }()
		case <-ctx.Done():
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-in:
				if !ok { // go-dockerclient closed the stream: EOF or no connection
					c.evMu.Lock()
					if c.evIn == in {
						c.evIn = nil
					}
					c.evMu.Unlock()
					return
				}
				if ev == nil || ev.Type != "container" {
					continue
				}
				select {
				case out <- fromEvent(ev):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// subscription returns the client's subscription to the daemon's events,
// subscribing when there is none (or the last one broke).
func (c *Client) subscription(since time.Time, labels map[string]string) (chan *dockerclient.APIEvents, error) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.evIn != nil {
		return c.evIn, nil
	}
	opts := dockerclient.EventsOptions{Filters: map[string][]string{"type": {"container"}, "event": eventActions}}
	for k, v := range labels {
		opts.Filters["label"] = append(opts.Filters["label"], k+"="+v)
	}
	if !since.IsZero() {
		opts.Since = fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
	}
	in := make(chan *dockerclient.APIEvents, eventBuffer)
	if err := c.dc.AddEventListenerWithOptions(opts, in); err != nil {
		return nil, fmt.Errorf("docker events: %w", c.cause(err))
	}
	c.evIn = in
	return in, nil
}

// fromEvent maps a daemon event.
func fromEvent(ev *dockerclient.APIEvents) Event {
	e := Event{Action: ev.Action, ID: ev.Actor.ID, Labels: map[string]string{}}
	// "health_status: healthy" and the like carry a detail after a colon.
	e.Action, _, _ = strings.Cut(e.Action, ":")
	for k, v := range ev.Actor.Attributes {
		switch k {
		case "name":
			e.Name = strings.TrimPrefix(v, "/")
		case "exitCode":
			e.ExitCode, _ = strconv.Atoi(v)
		case "signal":
			e.Signal = v
		case "image":
		default:
			e.Labels[k] = v // Docker puts the container's labels among the attributes
		}
	}
	switch {
	case ev.TimeNano > 0:
		e.Time = time.Unix(0, ev.TimeNano)
	case ev.Time > 0:
		e.Time = time.Unix(ev.Time, 0)
	}
	return e
}
