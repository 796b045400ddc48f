package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// Held requests (docs/traffic.md): a paused app holds every new request,
// and the outage hold keeps a request whose container is down. A held
// request costs no goroutine: its connection keeps the request's bytes in
// one buffer of their size, waits in the idle poller for its client to
// give up (idle_linux.go), and sits in a FIFO of its proxy's holdSet with
// its deadline. One timer per FIFO serves all its deadlines. A release
// (resume, maintenance, the container back, a deadline) starts a goroutine
// that serves the request from its bytes (conn.go).
//
// Whoever moves a connection out of connHeld by compare-and-swap owns it:
// a release (then connActive), or its client giving up (the poller, then
// connClosed), or a stop. The FIFOs are guarded by the holdSet's mutex,
// which is the app's own: no lock shared across apps is taken, and none at
// all on the path of a request that is not held.

// Outcomes of a hold: what the connection does with its request when it
// is released.
const (
	releaseSend        = iota + 1 // send it to the color active now
	releaseMaintenance            // answer with the maintenance page
	releaseExpired                // held too long: 503 (a pause) or 502 (an outage)
	releaseClosed                 // the proxy stops: the connection ends
)

// Kinds of holds, one FIFO each.
const (
	holdPause  = iota // the app is paused
	holdOutage        // the active color's container is down
)

// dispatchStep bounds how long a resume waits for a released request to
// be sent before it releases the next one: requests go out in the order
// they came, without a slow client (a body that trickles) holding up the
// rest.
const dispatchStep = 10 * time.Millisecond

// holding is a client connection's part of a hold, allocated when its
// request is first held (an idle connection carries none).
type holding struct {
	hprev, hnext *clientConn // its neighbors in the FIFO
	hlist        *heldList   // the FIFO it is in; nil: none
	holdKind     int
	holdColor    string        // the color an outage hold waits for
	holdDue      time.Time     // when the hold expires
	heldAt       time.Time     // when the request began (it is the request's start)
	outageSince  time.Time     // when its outage hold began (zero: never held for an outage)
	passFrom     time.Time     // an outage hold ends at a passed check that began then or later (zero: any)
	lost         bool          // it was sent, and its connection lost, once: never held for that again
	heldBuf      []byte        // the request's bytes: its head and what came after it
	holdWake     chan int      // a connection that cannot park waits here for its outcome
	dispatched   chan struct{} // set by a resume's dispatcher: signalDispatched
	replay       int           // the outcome of the release, for the request read again
}

// heldList is a FIFO of held requests in the order of their deadlines
// (which, for one kind, is the order they came in).
type heldList struct {
	kind        int
	first, last *clientConn
	timer       *time.Timer
	due         time.Time // when timer fires; zero: not armed
}

// holdSet is the held requests of one proxy.
type holdSet struct {
	mu      sync.Mutex
	lists   [2]heldList // by kind
	maxWait time.Duration

	n       atomic.Int64 // held now, and slots reserved for requests about to be held
	outageN atomic.Int64 // of which held by the outage hold
	// passed is, by colorIndex, when the latest passed health check the
	// owner reported began (Unix nanoseconds; ContainerHealthy).
	passed [2]atomic.Int64

	// release starts serving a released connection with outcome (it owns
	// the connection: state connActive); the proxy's is resumeHeld.
	release func(cc *clientConn, outcome int)
	// dispatch releases the requests of a resume in order (dispatchInOrder).
	dispatch func(ccs []*clientConn)
	max      func() int // Settings.MaxHeldRequests
	now      func() time.Time
}

func (hs *holdSet) init(release func(*clientConn, int), max func() int) {
	hs.lists[holdPause].kind, hs.lists[holdOutage].kind = holdPause, holdOutage
	hs.maxWait = DefaultMaxWait
	hs.release, hs.max, hs.now = release, max, time.Now
	hs.dispatch = hs.dispatchInOrder
}

// reserve claims a slot for a request about to be held; false when
// MaxHeldRequests are held already. A claimed slot is given back by
// unreserve, or by the removal of the request from its FIFO.
func (hs *holdSet) reserve() bool {
	if hs.n.Add(1) > int64(hs.max()) {
		hs.n.Add(-1)
		return false
	}
	return true
}

func (hs *holdSet) unreserve() { hs.n.Add(-1) }

// insert puts cc (whose slot is reserved, and which is ready to be
// released) into the FIFO of its kind and publishes it as held: from here
// on cc belongs to whoever takes it out of connHeld. The deadline of a
// pause is computed here, from cc.hold.heldAt; that of an outage is cc.hold.holdDue.
//
// check says, under the FIFOs' lock, whether the reason to hold still
// stands (0) or what the release that cc missed would have done: a resume
// or a maintenance that began after the request saw the pause, a
// container back or a switch after its connect failed. Then cc is not
// held, its slot is given back, and insert returns that outcome. The
// releases change what check reads before they take the lock, so that
// none is missed.
func (hs *holdSet) insert(cc *clientConn, check func() int) int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	l := &hs.lists[cc.hold.holdKind]
	if cc.hold.holdKind == holdPause {
		cc.hold.holdDue = cc.hold.heldAt.Add(hs.maxWait)
	} else {
		hs.outageN.Add(1) // before check: ContainerHealthy reads it after what check reads
	}
	if o := check(); o != 0 {
		if cc.hold.holdKind == holdOutage {
			hs.outageN.Add(-1)
		}
		hs.n.Add(-1)
		return o
	}
	// Walk back from the tail past the later deadlines: a request held
	// again for an outage keeps its first deadline; all others come last.
	at := l.last
	for at != nil && at.hold.holdDue.After(cc.hold.holdDue) {
		at = at.hold.hprev
	}
	cc.hold.hlist = l
	cc.hold.hprev = at
	if at == nil {
		cc.hold.hnext, l.first = l.first, cc
	} else {
		cc.hold.hnext, at.hold.hnext = at.hold.hnext, cc
	}
	if cc.hold.hnext == nil {
		l.last = cc
	} else {
		cc.hold.hnext.hold.hprev = cc
	}
	cc.state.Store(connHeld)
	hs.arm(l)
	return 0
}

// remove takes cc out of its FIFO, if it is still in one (the caller took
// it out of connHeld); it reports whether it was.
func (hs *holdSet) remove(cc *clientConn) bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.unlink(cc)
}

// unlink takes cc out of its FIFO; hs.mu is held.
func (hs *holdSet) unlink(cc *clientConn) bool {
	l := cc.hold.hlist
	if l == nil {
		return false
	}
	if cc.hold.hprev == nil {
		l.first = cc.hold.hnext
	} else {
		cc.hold.hprev.hold.hnext = cc.hold.hnext
	}
	if cc.hold.hnext == nil {
		l.last = cc.hold.hprev
	} else {
		cc.hold.hnext.hold.hprev = cc.hold.hprev
	}
	cc.hold.hprev, cc.hold.hnext, cc.hold.hlist = nil, nil, nil
	hs.n.Add(-1)
	if l.kind == holdOutage {
		hs.outageN.Add(-1)
	}
	return true
}

// takeAll unlinks the requests of l that match keep (nil: all), in order,
// and takes them out of connHeld; hs.mu is held. Those a client gave up
// meanwhile are left to the poller.
func (hs *holdSet) takeAll(l *heldList, keep func(*clientConn) bool) []*clientConn {
	var out []*clientConn
	for cc := l.first; cc != nil; {
		next := cc.hold.hnext
		if keep == nil || keep(cc) {
			hs.unlink(cc)
			if cc.state.CompareAndSwap(connHeld, connActive) {
				out = append(out, cc)
			}
		}
		cc = next
	}
	return out
}

// arm sets l's timer to its first deadline; hs.mu is held.
func (hs *holdSet) arm(l *heldList) {
	if l.first == nil {
		return // a timer that fires finds nothing to do
	}
	due := l.first.hold.holdDue
	if !l.due.IsZero() && !l.due.After(due) {
		return // armed for this deadline or an earlier one
	}
	l.due = due
	d := due.Sub(hs.now())
	if l.timer == nil {
		l.timer = time.AfterFunc(d, func() { hs.expire(l) })
		return
	}
	l.timer.Reset(d)
}

// expire releases the requests of l whose deadline passed, and arms the
// timer for the next one.
func (hs *holdSet) expire(l *heldList) {
	hs.mu.Lock()
	now := hs.now()
	l.due = time.Time{}
	var out []*clientConn
	for cc := l.first; cc != nil && !cc.hold.holdDue.After(now); cc = l.first {
		hs.unlink(cc)
		if cc.state.CompareAndSwap(connHeld, connActive) {
			out = append(out, cc)
		}
	}
	hs.arm(l)
	hs.mu.Unlock()
	for _, cc := range out {
		hs.release(cc, releaseExpired)
	}
}

// expireBy releases, as expired, every request held since at or before
// at (a stop's bound: held requests end as requests in flight do).
func (hs *holdSet) expireBy(at time.Time) {
	hs.mu.Lock()
	var out []*clientConn
	for i := range hs.lists {
		out = append(out, hs.takeAll(&hs.lists[i], func(cc *clientConn) bool { return !cc.hold.heldAt.After(at) })...)
	}
	hs.mu.Unlock()
	for _, cc := range out {
		hs.release(cc, releaseExpired)
	}
}

// paused sets the max_wait of the pause's holds, for those held already
// too.
func (hs *holdSet) paused(maxWait time.Duration) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if maxWait == hs.maxWait {
		return
	}
	hs.maxWait = maxWait
	l := &hs.lists[holdPause]
	for cc := l.first; cc != nil; cc = cc.hold.hnext {
		cc.hold.holdDue = cc.hold.heldAt.Add(maxWait)
	}
	l.due = time.Time{}
	hs.arm(l)
}

// releasePaused releases every request the pause holds with outcome
// (releaseSend: in the order they came) and returns how many.
func (hs *holdSet) releasePaused(outcome int) int {
	hs.mu.Lock()
	out := hs.takeAll(&hs.lists[holdPause], nil)
	hs.mu.Unlock()
	if len(out) == 0 {
		return 0
	}
	if outcome == releaseSend {
		hs.dispatch(out)
		return len(out)
	}
	for _, cc := range out {
		hs.release(cc, outcome)
	}
	return len(out)
}

// releaseOutage sends the requests the outage hold keeps for color ("":
// all of them, after a switch), in order.
func (hs *holdSet) releaseOutage(color string) {
	var keep func(*clientConn) bool
	if color != "" {
		keep = func(cc *clientConn) bool { return cc.hold.holdColor == color }
	}
	hs.releaseOutageOf(keep)
}

// releasePassed sends, in order, the requests the outage hold keeps for
// color that a passed health check which began at
// checked may release: all but those whose connection was lost after it
// began (passFrom), for which it says nothing.
func (hs *holdSet) releasePassed(color string, checked time.Time) {
	hs.releaseOutageOf(func(cc *clientConn) bool {
		return cc.hold.holdColor == color && !cc.hold.passFrom.After(checked)
	})
}

// passedSince reports whether a health check of the color of colorIndex i
// that began at or after at passed.
func (hs *holdSet) passedSince(i int, at time.Time) bool {
	return i >= 0 && hs.passed[i].Load() >= at.UnixNano()
}

func (hs *holdSet) releaseOutageOf(keep func(*clientConn) bool) {
	hs.mu.Lock()
	out := hs.takeAll(&hs.lists[holdOutage], keep)
	hs.mu.Unlock()
	if len(out) > 0 {
		hs.dispatch(out)
	}
}

// dispatchInOrder releases ccs one after the other, each once the one
// before it was sent (or dispatchStep passed), on a goroutine of its own.
func (hs *holdSet) dispatchInOrder(ccs []*clientConn) {
	go func() {
		sent := make(chan struct{}, 1)
		step := time.NewTimer(dispatchStep)
		defer step.Stop()
		for _, cc := range ccs {
			cc.hold.dispatched = sent
			hs.release(cc, releaseSend)
			step.Reset(dispatchStep)
			select {
			case <-sent:
			case <-step.C:
			}
		}
	}()
}

// signalDispatched tells a resume's dispatcher that the released request
// was sent (or ended), so that the next one may go.
func (cc *clientConn) signalDispatched() {
	if cc.hold == nil {
		return
	}
	if ch := cc.hold.dispatched; ch != nil {
		cc.hold.dispatched = nil
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
