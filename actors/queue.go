package actors

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/bluegreen/bluegreen/docker"
)

// Docker's queue (docs/operations.md, "Many apps on one VM"). Docker works
// through container creates, starts, stops and removals mostly one after
// another (it serialises their network setup and clean-up): a hundred apps
// that start at once, as after a reboot, would each wait in Docker's own
// queue, and the last ones would spend their whole startup_timeout there.
// So every create, start, stop, remove and rename of all apps goes through one queue
// of the process, a few at once, in the order the work came; work once
// begun (the create and the start after a removal) goes first. A
// deployment's timeout runs from when its work leaves the queue
// (timeoutAfterQueue), so that it measures its container, not the others.
// Reads (inspect, list, events, logs, images), pulls and image removals do
// not wait in it: a busy queue never blinds the reconcile or the health of
// an app.

// DefaultDockerConcurrency is how many container creates, starts, stops and
// removals run at once. With 2 to 8, 100 apps started at once on a 2-core
// VM took about as long (Docker's pace bounds it) and none failed
// (docs/operations.md, "Many apps on one VM"); 4 leaves room for a slow
// stop beside the starts.
const DefaultDockerConcurrency = 4

// dockerQueue hands out turns of Docker work, at most limit at once (0: no
// bound), in the order the work asked for its first turn: the next call of
// work that had a turn already (the create and the start after a removal)
// goes before new work, so that work once begun is not held up behind the
// work that came after it. Only its methods change it.
type dockerQueue struct {
	limit int

	mu      sync.Mutex
	running int             // turns given and not released
	begun   []chan struct{} // turns asked for by work that had one, first first; closed when given
	fresh   []chan struct{} // turns asked for by new work, first first
}

func newDockerQueue(limit int) *dockerQueue { return &dockerQueue{limit: max(limit, 0)} }

// enter waits for a turn (begun: for work that had one before); ctx ends
// the wait and takes no turn. The turn is released with release, once.
func (q *dockerQueue) enter(ctx context.Context, begun bool) (release func(), err error) {
	q.mu.Lock()
	ahead := len(q.begun)
	if !begun {
		ahead += len(q.fresh)
	}
	if q.limit == 0 || (q.running < q.limit && ahead == 0) {
		q.running++
		q.mu.Unlock()
		return sync.OnceFunc(q.release), nil
	}
	turn := make(chan struct{})
	line := &q.fresh
	if begun {
		line = &q.begun
	}
	*line = append(*line, turn)
	q.mu.Unlock()
	select {
	case <-turn:
		return sync.OnceFunc(q.release), nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	i := slices.Index(*line, turn)
	if i >= 0 {
		*line = slices.Delete(*line, i, i+1)
	}
	q.mu.Unlock()
	if i < 0 { // given the turn meanwhile: hand it on
		q.release()
	}
	return nil, ctx.Err()
}

// release ends a turn: the first who waits gets it.
func (q *dockerQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, line := range []*[]chan struct{}{&q.begun, &q.fresh} {
		if len(*line) > 0 {
			close((*line)[0])
			*line = slices.Delete(*line, 0, 1)
			return
		}
	}
	q.running--
}

// load is how many turns run and how many wait.
func (q *dockerQueue) load() (running, waiting int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running, len(q.begun) + len(q.fresh)
}

// queuedRuntime is the Runtime every app actor drives: creates, starts,
// stops and removals take a turn of the queue; everything else goes to
// Docker at once (the read lane).
type queuedRuntime struct {
	rt Runtime
	q  *dockerQueue
}

var _ Runtime = queuedRuntime{}

// newQueuedRuntime puts rt's container work behind a queue of limit at
// once (0: no bound).
func newQueuedRuntime(rt Runtime, limit int) queuedRuntime {
	return queuedRuntime{rt: rt, q: newDockerQueue(limit)}
}

// turn waits for a turn and starts the clock of ctx's timeout
// (timeoutAfterQueue): work whose clock started had a turn before. what
// names the call in an error.
func (r queuedRuntime) turn(ctx context.Context, what string) (func(), error) {
	release, err := r.q.enter(ctx, clockStarted(ctx))
	if err != nil {
		return nil, fmt.Errorf("%s: waiting for Docker's queue: %w", what, err)
	}
	startClock(ctx)
	return release, nil
}

// Create creates a container, in its turn.
func (r queuedRuntime) Create(ctx context.Context, s docker.Spec) (string, error) {
	release, err := r.turn(ctx, "create container "+s.Name)
	if err != nil {
		return "", err
	}
	defer release()
	return r.rt.Create(ctx, s)
}

// Start starts a container, in its turn.
func (r queuedRuntime) Start(ctx context.Context, id string) error {
	release, err := r.turn(ctx, "start container "+short(id))
	if err != nil {
		return err
	}
	defer release()
	return r.rt.Start(ctx, id)
}

// Stop stops a container, in its turn.
func (r queuedRuntime) Stop(ctx context.Context, id string, grace time.Duration) error {
	release, err := r.turn(ctx, "stop container "+short(id))
	if err != nil {
		return err
	}
	defer release()
	return r.rt.Stop(ctx, id, grace)
}

// Remove removes a container, in its turn.
func (r queuedRuntime) Remove(ctx context.Context, id string) error {
	release, err := r.turn(ctx, "remove container "+short(id))
	if err != nil {
		return err
	}
	defer release()
	return r.rt.Remove(ctx, id)
}

// Rename renames a container (a standby set aside or put back), in its turn.
func (r queuedRuntime) Rename(ctx context.Context, id, name string) error {
	release, err := r.turn(ctx, "rename container "+short(id))
	if err != nil {
		return err
	}
	defer release()
	return r.rt.Rename(ctx, id, name)
}

// The read lane: at once, each bounded by the timeout of a ctx whose clock
// has not started (readBound).

// Ping checks that Docker answers.
func (r queuedRuntime) Ping(ctx context.Context) error {
	ctx, cancel := readBound(ctx)
	defer cancel()
	return r.rt.Ping(ctx)
}

// EnsureImage makes an image present: a pull takes no turn (it is mostly
// the registry's time, not Docker's work on containers).
func (r queuedRuntime) EnsureImage(ctx context.Context, ref, policy string) (bool, error) {
	ctx, cancel := readBound(ctx)
	defer cancel()
	return r.rt.EnsureImage(ctx, ref, policy)
}

// Inspect reads a container.
func (r queuedRuntime) Inspect(ctx context.Context, nameOrID string) (docker.Container, error) {
	ctx, cancel := readBound(ctx)
	defer cancel()
	return r.rt.Inspect(ctx, nameOrID)
}

// List lists containers.
func (r queuedRuntime) List(ctx context.Context, labels map[string]string) ([]docker.Container, error) {
	ctx, cancel := readBound(ctx)
	defer cancel()
	return r.rt.List(ctx, labels)
}

// Summaries lists containers in one call.
func (r queuedRuntime) Summaries(ctx context.Context, labels map[string]string) ([]docker.Container, error) {
	ctx, cancel := readBound(ctx)
	defer cancel()
	return r.rt.Summaries(ctx, labels)
}

// Logs reads a container's last log lines.
func (r queuedRuntime) Logs(ctx context.Context, id string, tail int) ([]string, error) {
	ctx, cancel := readBound(ctx)
	defer cancel()
	return r.rt.Logs(ctx, id, tail)
}

// StreamLogs copies a container's log to w.
func (r queuedRuntime) StreamLogs(ctx context.Context, id string, tail int, follow bool, w io.Writer) error {
	ctx, cancel := readBound(ctx)
	defer cancel()
	return r.rt.StreamLogs(ctx, id, tail, follow, w)
}

// Events streams Docker's events until ctx ends.
func (r queuedRuntime) Events(ctx context.Context, since time.Time, labels map[string]string) (<-chan docker.Event, error) {
	return r.rt.Events(ctx, since, labels)
}

// Images lists the images.
func (r queuedRuntime) Images(ctx context.Context) ([]docker.Image, error) {
	ctx, cancel := readBound(ctx)
	defer cancel()
	return r.rt.Images(ctx)
}

// ImagesInUse reads the images that containers use.
func (r queuedRuntime) ImagesInUse(ctx context.Context) (map[string]bool, error) {
	ctx, cancel := readBound(ctx)
	defer cancel()
	return r.rt.ImagesInUse(ctx)
}

// RemoveImage removes an image reference: image retention, which runs one
// removal at a time per app, after its deployments.
func (r queuedRuntime) RemoveImage(ctx context.Context, ref string) error {
	ctx, cancel := readBound(ctx)
	defer cancel()
	return r.rt.RemoveImage(ctx, ref)
}
