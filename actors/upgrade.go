package actors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// The System's side of the single-driver rule (pause.go): an upgrade of
// serve pauses the old process, waits until every app is quiet, and
// resumes it should the new process fail; the new process waits until its
// apps are ready.

// Pause makes the supervisor stop driving Docker (see the rule above). It
// returns once every app is quiet, or with why one is not (a deployment that
// overran its timeouts, ctx ending); the caller then calls Resume.
func (s *System) Pause(ctx context.Context) error {
	s.paused.Store(true)
	v, err := s.eng.Request(s.root, pause{}, s.timeout).Result()
	if err != nil {
		return fmt.Errorf("pause the supervisor: %w", err)
	}
	apps := v.(pauseReply).apps
	names := make([]string, 0, len(apps))
	for n := range apps {
		names = append(names, n)
	}
	sort.Strings(names)
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		p := apps[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.eng.Request(p.pid, awaitQuiet{}, p.bound+10*time.Second).Result()
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("%s did not answer: %w", name, err)
			case v.(quietReply).err != nil:
				errs[i] = v.(quietReply).err
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return errors.Join(errs...)
	case <-ctx.Done():
		return fmt.Errorf("pause the supervisor: %w", context.Cause(ctx))
	}
}

// Resume makes a paused supervisor drive Docker again.
func (s *System) Resume() {
	s.paused.Store(false)
	s.eng.Send(s.root, resume{})
}

// Paused reports whether a Pause is in effect.
func (s *System) Paused() bool { return s.paused.Load() }

// WaitReady waits until every app's proxy routes to what runs: its first
// adoption answered or failed (a dead Docker does not hold it up beyond
// that), or ctx ends. It returns the names of the apps not ready by then.
func (s *System) WaitReady(ctx context.Context) []string {
	pids := s.appPIDs()
	var mu sync.Mutex
	var late []string
	var wg sync.WaitGroup
	for name, pid := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			timeout := time.Hour
			if dl, ok := ctx.Deadline(); ok {
				timeout = time.Until(dl)
			}
			if timeout <= 0 {
				timeout = time.Millisecond
			}
			if _, err := s.eng.Request(pid, awaitReady{}, timeout).Result(); err != nil {
				mu.Lock()
				late = append(late, name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Strings(late)
	return late
}
