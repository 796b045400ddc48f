package deploy

import (
	"context"
	"time"
)

// DefaultPoll is how often Watch reads a deployment while events flow, in
// case the stream misses its end (a subscriber that falls behind is dropped).
const DefaultPoll = 5 * time.Second

// Watch follows one deployment until it ends. It is the one way bluegreen
// waits for a deployment: the supervisor for ?wait=true and a switch, ctl for
// deploy --wait.
type Watch struct {
	// Read returns the deployment as recorded now.
	Read func(ctx context.Context, id int64) (Deployment, error)
	// Events are live audit events of any deployment; nil when there is no
	// stream. The deployment is read again as soon as an event ends it.
	Events <-chan Event
	// Lost, if set, delivers the error that ended the stream.
	Lost <-chan error
	// FromStart says that Events were subscribed before the deployment was
	// asked for, so they carry all of its events: the first read waits for
	// one that ends it (or for Poll). Otherwise Wait reads at once, as the
	// deployment may have ended before the subscription.
	FromStart bool
	// Poll is how often the deployment is read while the stream is up
	// (default DefaultPoll); NoStream how often without one (default Poll).
	Poll, NoStream time.Duration
	// OnEvent, if set, gets each event of the deployment.
	OnEvent func(Event)
	// OnLost, if set, gets the error that ended the stream.
	OnLost func(error)
	// OnRead, if set, gets each read made while there is no stream, the
	// last one too.
	OnRead func(Deployment)
}

// Wait blocks until deployment id has a final status and returns it. When
// ctx ends first, it returns the last read with ctx's error.
func (w Watch) Wait(ctx context.Context, id int64) (Deployment, error) {
	s := stream{events: w.Events, lost: w.Lost}
	if w.FromStart && s.events != nil {
		if err := w.await(ctx, id, &s); err != nil {
			return Deployment{}, err
		}
	}
	for {
		d, err := w.Read(ctx, id)
		if err == nil && s.events == nil && w.OnRead != nil {
			w.OnRead(d)
		}
		if err != nil || d.Done() {
			return d, err
		}
		if err := w.await(ctx, id, &s); err != nil {
			return d, err
		}
	}
}

// stream is what is left of a Watch's event stream.
type stream struct {
	events <-chan Event
	lost   <-chan error
}

// await returns when the deployment is to be read again: an event ended it,
// the stream ended, or the poll interval passed. It returns ctx's error when
// ctx ends first.
func (w Watch) await(ctx context.Context, id int64, s *stream) error {
	t := time.NewTimer(w.interval(s.events != nil))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case ev, ok := <-s.events:
			if !ok {
				s.events = nil
				return nil
			}
			if !ev.Of(id) {
				continue
			}
			if w.OnEvent != nil {
				w.OnEvent(ev)
			}
			if ev.Type.EndsDeployment() {
				return nil
			}
		case err, ok := <-s.lost:
			s.lost = nil
			if !ok || err == nil || ctx.Err() != nil {
				continue
			}
			s.events = nil
			if w.OnLost != nil {
				w.OnLost(err)
			}
			return nil
		}
	}
}

func (w Watch) interval(streaming bool) time.Duration {
	poll := w.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	if !streaming && w.NoStream > 0 {
		return w.NoStream
	}
	return poll
}
