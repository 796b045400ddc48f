package deploy

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// store is a deployment that the test moves on, read as Watch reads it.
type store struct {
	mu    sync.Mutex
	d     Deployment
	reads int
}

func (s *store) read(ctx context.Context, id int64) (Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.d, nil
}

func (s *store) set(st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d.Status = st
}

func event(id int64, typ EventType) Event { return Event{DeploymentID: &id, Type: typ} }

func TestWatch_Wait(t *testing.T) {
	t.Run("an event that ends it wakes the wait", func(t *testing.T) {
		s := &store{d: Deployment{DeploymentID: 7, Status: StatusPulling}}
		events := make(chan Event, 4)
		var seen []EventType
		w := Watch{Read: s.read, Events: events, Poll: time.Hour, OnEvent: func(e Event) { seen = append(seen, e.Type) }}
		go func() {
			events <- event(8, EventDeploymentCompleted) // another deployment's
			events <- event(7, EventDeploymentPhase)
			s.set(StatusCompleted)
			events <- event(7, EventDeploymentCompleted)
		}()
		d, err := w.Wait(t.Context(), 7)
		if err != nil || d.Status != StatusCompleted || len(seen) != 2 {
			t.Fatalf("%+v %v, seen %v", d, err, seen)
		}
	})
	t.Run("a stream from the start is followed to the end", func(t *testing.T) {
		s := &store{d: Deployment{DeploymentID: 7, Status: StatusCompleted}} // it ended at once
		events := make(chan Event, 4)
		events <- event(7, EventDeploymentPhase)
		events <- event(7, EventDeploymentCompleted)
		var seen []EventType
		d, err := Watch{Read: s.read, Events: events, FromStart: true, Poll: time.Hour,
			OnEvent: func(e Event) { seen = append(seen, e.Type) }}.Wait(t.Context(), 7)
		if err != nil || d.Status != StatusCompleted || len(seen) != 2 || s.reads != 1 {
			t.Fatalf("%+v %v, seen %v after %d reads", d, err, seen, s.reads)
		}
	})
	t.Run("without a stream it polls", func(t *testing.T) {
		s := &store{d: Deployment{DeploymentID: 7, Status: StatusPulling}}
		var reads int
		w := Watch{Read: s.read, NoStream: time.Millisecond, OnRead: func(Deployment) {
			if reads++; reads == 3 {
				s.set(StatusFailed)
			}
		}}
		d, err := w.Wait(t.Context(), 7)
		if err != nil || d.Status != StatusFailed || reads != 4 { // the last read too
			t.Fatalf("%+v %v after %d reads", d, err, reads)
		}
	})
	t.Run("a lost stream falls back to polling", func(t *testing.T) {
		s := &store{d: Deployment{DeploymentID: 7, Status: StatusPulling}}
		lost := make(chan error, 1)
		lost <- errors.New("connection reset")
		var why error
		w := Watch{Read: s.read, Events: make(chan Event), Lost: lost, Poll: time.Hour, NoStream: time.Millisecond,
			OnLost: func(err error) { why = err },
			OnRead: func(Deployment) { s.set(StatusRolledBack) }}
		d, err := w.Wait(t.Context(), 7)
		if err != nil || d.Status != StatusRolledBack || why == nil {
			t.Fatalf("%+v %v, lost %v", d, err, why)
		}
	})
	t.Run("ctx ends the wait", func(t *testing.T) {
		s := &store{d: Deployment{DeploymentID: 7, Status: StatusHealthChecking}}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		d, err := Watch{Read: s.read, Events: make(chan Event), Poll: time.Hour}.Wait(ctx, 7)
		if !errors.Is(err, context.DeadlineExceeded) || d.Status != StatusHealthChecking {
			t.Fatalf("%+v %v", d, err)
		}
	})
}
