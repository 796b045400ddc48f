package actors

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/docker"
)

// gatedRuntime is a Runtime whose container calls each wait, once they
// reached it (left the queue), until the test lets one go (next) or all
// (open); it records the order they reached it in, how many ran at once,
// and the deadline each had. Reads go to the fake runtime.
type gatedRuntime struct {
	*fakeRuntime
	proceed chan struct{}

	mu        sync.Mutex
	reached   []string
	deadlines map[string]time.Time
	inFlight  int
	most      int
}

func newGatedRuntime(t *testing.T) *gatedRuntime {
	return &gatedRuntime{fakeRuntime: newFakeRuntime(t), proceed: make(chan struct{}), deadlines: map[string]time.Time{}}
}

func (g *gatedRuntime) pass(ctx context.Context, call string) error {
	g.mu.Lock()
	g.reached = append(g.reached, call)
	if d, ok := ctx.Deadline(); ok {
		g.deadlines[call] = d
	}
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	select {
	case <-g.proceed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next lets one waiting call end.
func (g *gatedRuntime) next(t *testing.T) {
	t.Helper()
	select {
	case g.proceed <- struct{}{}:
	case <-time.After(5 * time.Second):
		t.Fatal("no call waited to be let go")
	}
}

// open lets every call through from now on.
func (g *gatedRuntime) open() { close(g.proceed) }

func (g *gatedRuntime) order() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.reached)
}

func (g *gatedRuntime) deadline(call string) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	d, ok := g.deadlines[call]
	return d, ok
}

func (g *gatedRuntime) mostAtOnce() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.most
}

func (g *gatedRuntime) Create(ctx context.Context, s docker.Spec) (string, error) {
	return s.Name, g.pass(ctx, "create "+s.Name)
}
func (g *gatedRuntime) Start(ctx context.Context, id string) error { return g.pass(ctx, "start "+id) }
func (g *gatedRuntime) Stop(ctx context.Context, id string, _ time.Duration) error {
	return g.pass(ctx, "stop "+id)
}
func (g *gatedRuntime) Remove(ctx context.Context, id string) error { return g.pass(ctx, "remove "+id) }

// waitLoad waits until the queue has running turns and waiting ones.
func waitLoad(t *testing.T, q *dockerQueue, running, waiting int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, w := q.load()
		if r == running && w == waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue: %d running, %d waiting; want %d and %d", r, w, running, waiting)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDockerQueue_boundsConcurrency(t *testing.T) {
	g := newGatedRuntime(t)
	r := newQueuedRuntime(g, 2)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range 6 {
		wg.Go(func() { errs[i] = r.Start(context.Background(), fmt.Sprintf("app%d", i)) })
	}
	waitLoad(t, r.q, 2, 4)
	if got := len(g.order()); got != 2 {
		t.Fatalf("%d calls reached Docker with 2 at once allowed", got)
	}
	for range 6 {
		g.next(t)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if most := g.mostAtOnce(); most != 2 {
		t.Fatalf("%d calls ran at once, want 2", most)
	}
	waitLoad(t, r.q, 0, 0)

	t.Run("no bound", func(t *testing.T) {
		g := newGatedRuntime(t)
		r := newQueuedRuntime(g, 0)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() { r.Remove(context.Background(), fmt.Sprint(i)) })
		}
		waitLoad(t, r.q, 8, 0)
		g.open()
		wg.Wait()
	})
}

// TestDockerQueue_firstComeFirstServed: the calls of several apps reach
// Docker in the order they came; the next call of work that had a turn
// (its clock started) goes before new work.
func TestDockerQueue_firstComeFirstServed(t *testing.T) {
	g := newGatedRuntime(t)
	r := newQueuedRuntime(g, 1)
	bg := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() { r.Start(bg, "a") }) // holds the one turn
	waitLoad(t, r.q, 1, 0)
	for i, app := range []string{"b", "c", "d"} {
		wg.Go(func() { r.Create(bg, docker.Spec{Name: app}) })
		waitLoad(t, r.q, 1, i+1)
	}
	// e's work began before (its removal had a turn): its create goes first.
	ectx, cancel := timeoutAfterQueue(bg, time.Minute)
	defer cancel()
	startClock(ectx)
	wg.Go(func() { r.Create(ectx, docker.Spec{Name: "e"}) })
	waitLoad(t, r.q, 1, 4)
	for range 5 {
		g.next(t)
	}
	wg.Wait()
	if got, want := g.order(), []string{"start a", "create e", "create b", "create c", "create d"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

// TestDockerQueue_timeoutFromTheTurn: a call that waited in the queue
// longer than its timeout still gets its whole timeout from its turn; a
// plain deadline would have run out in the queue.
func TestDockerQueue_timeoutFromTheTurn(t *testing.T) {
	const budget = 300 * time.Millisecond
	g := newGatedRuntime(t)
	r := newQueuedRuntime(g, 1)
	bg := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() { r.Stop(bg, "old", time.Second) }) // holds the turn
	waitLoad(t, r.q, 1, 0)

	ctx, cancel := timeoutAfterQueue(bg, budget)
	defer cancel()
	var queuedErr error
	wg.Go(func() { queuedErr = r.Start(ctx, "new") })
	plain, pcancel := context.WithTimeout(bg, budget)
	defer pcancel()
	var plainErr error
	wg.Go(func() { plainErr = r.Start(plain, "plain") })
	waitLoad(t, r.q, 1, 2)
	if _, ok := ctx.Deadline(); ok {
		t.Fatal("a timeout after the queue has a deadline before its turn")
	}
	<-plain.Done() // made after ctx: ctx waited in the queue longer than its timeout
	if ctx.Err() != nil {
		t.Fatalf("the timeout ran in the queue: %v", ctx.Err())
	}
	turn := time.Now()
	g.next(t) // old ends: new has the turn
	g.next(t) // new ends
	wg.Wait()
	if queuedErr != nil {
		t.Fatalf("start after waiting in the queue: %v", queuedErr)
	}
	d, ok := g.deadline("start new")
	if !ok || d.Before(turn.Add(budget)) || d.After(time.Now().Add(budget)) {
		t.Fatalf("deadline %v (%v), want %s after the turn at %v", d, ok, budget, turn)
	}
	if !errors.Is(plainErr, context.DeadlineExceeded) || !strings.Contains(plainErr.Error(), "waiting for Docker's queue") {
		t.Fatalf("a plain deadline in the queue: %v", plainErr)
	}
	if slices.Contains(g.order(), "start plain") {
		t.Fatal("a call whose context ended in the queue reached Docker")
	}
	waitLoad(t, r.q, 0, 0)
}

// TestDockerQueue_cancelWhileQueued: a call whose context ends while it
// waits leaves the queue at once, takes no turn and frees none it was
// handed; reads never wait.
func TestDockerQueue_cancelWhileQueued(t *testing.T) {
	g := newGatedRuntime(t)
	r := newQueuedRuntime(g, 1)
	bg := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() { r.Remove(bg, "busy") })
	waitLoad(t, r.q, 1, 0)
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() {
		_, err := r.Create(ctx, docker.Spec{Name: "gone"})
		done <- err
	}()
	waitLoad(t, r.q, 1, 1)

	// The read lane: a busy queue does not hold up inspect and list.
	if _, err := r.Summaries(bg, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Inspect(bg, "nothing"); !errors.Is(err, docker.ErrNotFound) {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled in the queue: %v", err)
	}
	waitLoad(t, r.q, 1, 0)
	g.next(t)
	wg.Wait()
	waitLoad(t, r.q, 0, 0)

	t.Run("many at once", func(t *testing.T) {
		// Cancellations that race the hand-over of a turn lose no turn.
		g := newGatedRuntime(t)
		r := newQueuedRuntime(g, 3)
		stop := make(chan struct{})
		go func() { // lets a call end now and then: turns are handed on while waiters give up
			for {
				select {
				case g.proceed <- struct{}{}:
					time.Sleep(20 * time.Microsecond)
				case <-stop:
					return
				}
			}
		}()
		defer close(stop)
		var wg sync.WaitGroup
		for i := range 300 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(bg, time.Duration(rand.IntN(2000))*time.Microsecond)
				defer cancel()
				r.Start(ctx, fmt.Sprint(i))
			})
		}
		wg.Wait()
		waitLoad(t, r.q, 0, 0)
		if most := g.mostAtOnce(); most > 3 {
			t.Fatalf("%d calls ran at once, want at most 3", most)
		}
	})
}

func TestTimeoutAfterQueue(t *testing.T) {
	bg := context.Background()
	t.Run("its clock", func(t *testing.T) {
		ctx, cancel := timeoutAfterQueue(bg, 50*time.Millisecond)
		defer cancel()
		read, rcancel := readBound(ctx)
		if _, ok := read.Deadline(); !ok {
			t.Fatal("a read before the turn has no bound")
		}
		rcancel()
		child, ccancel := context.WithCancel(ctx)
		defer ccancel()
		before := time.Now()
		startClock(ctx)
		startClock(ctx) // once
		d, ok := ctx.Deadline()
		if !ok || d.Before(before.Add(50*time.Millisecond)) {
			t.Fatalf("deadline %v, %v", d, ok)
		}
		if read, _ := readBound(ctx); read != ctx {
			t.Fatal("a read after the turn has a bound of its own")
		}
		<-child.Done()
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(child.Err(), context.DeadlineExceeded) ||
			!errors.Is(context.Cause(child), context.DeadlineExceeded) {
			t.Fatalf("after its deadline: %v, child %v (%v)", ctx.Err(), child.Err(), context.Cause(child))
		}
	})
	t.Run("its parent and its cancel", func(t *testing.T) {
		parent, pcancel := context.WithCancel(bg)
		ctx, cancel := timeoutAfterQueue(parent, time.Hour)
		defer cancel()
		if ctx.Err() != nil || ctx.Value(queueClockKey{}) == nil {
			t.Fatal("a fresh clock")
		}
		pcancel()
		<-ctx.Done()
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatal(ctx.Err())
		}
		ctx2, cancel2 := timeoutAfterQueue(bg, time.Hour)
		startClock(ctx2)
		cancel2()
		<-ctx2.Done()
		if !errors.Is(ctx2.Err(), context.Canceled) {
			t.Fatal(ctx2.Err())
		}
		ended, ecancel := context.WithCancel(bg)
		ecancel()
		ctx3, cancel3 := timeoutAfterQueue(ended, time.Hour)
		defer cancel3()
		<-ctx3.Done() // a parent that ended already
	})
}
