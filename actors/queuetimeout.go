package actors

import (
	"context"
	"sync"
	"time"
)

// A timeout of Docker work that starts when the work leaves Docker's queue
// (queue.go): startup_timeout measures a container's start, not the other
// apps' starts in front of it.

// timeoutAfterQueue is context.WithTimeout for Docker work: d runs from when
// the first create, start, stop or remove made with the context leaves the
// queue, not from now. Until then only parent bounds the context, and each
// read made with it (an inspect, the logs) is bounded by d on its own.
func timeoutAfterQueue(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	c := &queueClock{parent: parent, d: d, done: make(chan struct{})}
	c.mu.Lock() // a parent that ended already ends c at once, in a goroutine: after this
	c.stopParent = context.AfterFunc(parent, func() { c.end(parent.Err()) })
	c.mu.Unlock()
	return c, func() { c.end(context.Canceled) }
}

// startClock starts the timeout of ctx when it is a timeoutAfterQueue's
// whose clock has not started yet.
func startClock(ctx context.Context) {
	if c, ok := ctx.Value(queueClockKey{}).(*queueClock); ok {
		c.start()
	}
}

// clockStarted reports whether ctx is a timeoutAfterQueue's whose clock
// started: its work had a turn of the queue.
func clockStarted(ctx context.Context) bool {
	c, ok := ctx.Value(queueClockKey{}).(*queueClock)
	return ok && c.started()
}

// readBound bounds a read made with ctx: by ctx's timeout once its clock
// started, by a timeout of its own (of the same length) before.
func readBound(ctx context.Context) (context.Context, context.CancelFunc) {
	if c, ok := ctx.Value(queueClockKey{}).(*queueClock); ok && !c.started() {
		return context.WithTimeout(ctx, c.d)
	}
	return ctx, func() {}
}

type queueClockKey struct{}

// queueClock is the context timeoutAfterQueue makes: a context whose
// deadline is set when its clock starts. Its methods are safe for
// concurrent use.
type queueClock struct {
	parent     context.Context
	d          time.Duration
	done       chan struct{}
	stopParent func() bool

	mu       sync.Mutex
	deadline time.Time   // zero until the clock started
	timer    *time.Timer // ends it at the deadline
	err      error       // why it ended; nil while it runs
}

// start sets the deadline d from now, once.
func (c *queueClock) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.deadline.IsZero() || c.err != nil {
		return
	}
	c.deadline = time.Now().Add(c.d)
	c.timer = time.AfterFunc(c.d, func() { c.end(context.DeadlineExceeded) })
}

func (c *queueClock) started() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.deadline.IsZero()
}

// end ends the context with err, once.
func (c *queueClock) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
	if c.timer != nil {
		c.timer.Stop()
	}
	c.stopParent()
}

// Deadline is the parent's, or the clock's once it started if that is
// sooner.
func (c *queueClock) Deadline() (time.Time, bool) {
	c.mu.Lock()
	own := c.deadline
	c.mu.Unlock()
	d, ok := c.parent.Deadline()
	if !own.IsZero() && (!ok || own.Before(d)) {
		return own, true
	}
	return d, ok
}

// Done is closed when the context ends.
func (c *queueClock) Done() <-chan struct{} { return c.done }

// Err is why the context ended: context.DeadlineExceeded when its clock ran
// out, the parent's error when the parent ended, context.Canceled when it
// was cancelled; nil before.
func (c *queueClock) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value is the parent's, and the clock itself for queueClockKey.
func (c *queueClock) Value(key any) any {
	if key == (queueClockKey{}) {
		return c
	}
	return c.parent.Value(key)
}

// waitOp waits for the operation prev (nil: none) to end.
func waitOp(ctx context.Context, prev <-chan struct{}) error {
	if prev == nil {
		return nil
	}
	select {
	case <-prev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
