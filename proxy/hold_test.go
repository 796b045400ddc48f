package proxy

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// heldProbe is a holdSet whose releases are recorded instead of served.
type heldProbe struct {
	hs  holdSet
	max int

	mu       sync.Mutex
	released []string // "name:outcome", in the order of the releases
	names    map[*clientConn]string
}

func newHeldProbe(max int) *heldProbe {
	hp := &heldProbe{max: max, names: map[*clientConn]string{}}
	hp.hs.init(func(cc *clientConn, outcome int) {
		hp.mu.Lock()
		defer hp.mu.Unlock()
		hp.released = append(hp.released, hp.names[cc]+":"+[]string{"", "send", "maintenance", "expired", "closed"}[outcome])
		cc.signalDispatched()
	}, func() int { return hp.max })
	return hp
}

// hold holds a new request called name of kind (for an outage: waiting
// for color until due), which came at at.
func (hp *heldProbe) hold(t *testing.T, name string, kind int, at time.Time, color string, due time.Time) *clientConn {
	t.Helper()
	if !hp.hs.reserve() {
		t.Fatalf("%s: no slot", name)
	}
	cc := &clientConn{hold: &holding{}}
	cc.hold.holdKind, cc.hold.heldAt, cc.hold.holdColor, cc.hold.holdDue = kind, at, color, due
	hp.mu.Lock()
	hp.names[cc] = name
	hp.mu.Unlock()
	if o := hp.hs.insert(cc, func() int { return 0 }); o != 0 {
		t.Fatalf("%s: not held", name)
	}
	return cc
}

func (hp *heldProbe) got() []string {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	return slices.Clone(hp.released)
}

func (hp *heldProbe) wait(t *testing.T, want ...string) {
	t.Helper()
	waitFor(t, 5*time.Second, "the releases", func() bool { return len(hp.got()) >= len(want) })
	if got := hp.got(); !slices.Equal(got, want) {
		t.Fatalf("released %q, want %q", got, want)
	}
}

func TestHoldSet_resumeInOrder(t *testing.T) {
	hp := newHeldProbe(10)
	hp.hs.paused(time.Minute)
	now := time.Now()
	for i, name := range []string{"a", "b", "c", "d"} {
		hp.hold(t, name, holdPause, now.Add(time.Duration(i)*time.Millisecond), "", time.Time{})
	}
	if n := hp.hs.n.Load(); n != 4 {
		t.Fatalf("held %d", n)
	}
	if n := hp.hs.releasePaused(releaseSend); n != 4 {
		t.Fatalf("released %d", n)
	}
	hp.wait(t, "a:send", "b:send", "c:send", "d:send")
	if n := hp.hs.n.Load(); n != 0 {
		t.Fatalf("held %d after the resume", n)
	}
}

func TestHoldSet_maxWait(t *testing.T) {
	hp := newHeldProbe(10)
	hp.hs.paused(100 * time.Millisecond)
	start := time.Now()
	hp.hold(t, "old", holdPause, start.Add(-50*time.Millisecond), "", time.Time{})
	hp.hold(t, "new", holdPause, start, "", time.Time{})
	hp.wait(t, "old:expired", "new:expired")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("the last one expired after %s, before its max_wait", d)
	}
	t.Run("a shorter max_wait applies to the requests held already", func(t *testing.T) {
		hp := newHeldProbe(10)
		hp.hs.paused(time.Hour)
		hp.hold(t, "a", holdPause, time.Now().Add(-time.Second), "", time.Time{})
		hp.hold(t, "b", holdPause, time.Now(), "", time.Time{})
		hp.hs.paused(500 * time.Millisecond)
		hp.wait(t, "a:expired")
		hp.wait(t, "a:expired", "b:expired")
	})
}

func TestHoldSet_overflow(t *testing.T) {
	hp := newHeldProbe(2)
	hp.hs.paused(time.Minute)
	a := hp.hold(t, "a", holdPause, time.Now(), "", time.Time{})
	hp.hold(t, "b", holdPause, time.Now(), "", time.Time{})
	if hp.hs.reserve() {
		t.Fatal("a third request got a slot of two")
	}
	// A client that gives up frees its slot at once.
	if !a.state.CompareAndSwap(connHeld, connClosed) || !hp.hs.remove(a) {
		t.Fatal("could not take the request that gave up")
	}
	if !hp.hs.reserve() {
		t.Fatal("the slot of a request that gave up is not free")
	}
	hp.hs.unreserve()
	if n := hp.hs.releasePaused(releaseSend); n != 1 {
		t.Fatalf("released %d, want 1 (the one that gave up is gone)", n)
	}
	hp.wait(t, "b:send")
}

func TestHoldSet_maintenanceOverHeld(t *testing.T) {
	hp := newHeldProbe(10)
	hp.hs.paused(time.Minute)
	hp.hold(t, "a", holdPause, time.Now(), "", time.Time{})
	hp.hold(t, "b", holdPause, time.Now(), "", time.Time{})
	hp.hold(t, "o", holdOutage, time.Now(), ColorBlue, time.Now().Add(time.Minute))
	if n := hp.hs.releasePaused(releaseMaintenance); n != 2 {
		t.Fatalf("answered %d", n)
	}
	hp.wait(t, "a:maintenance", "b:maintenance")
	if n := hp.hs.n.Load(); n != 1 {
		t.Fatalf("held %d, want the outage's one", n)
	}
}

func TestHoldSet_outage(t *testing.T) {
	hp := newHeldProbe(10)
	now := time.Now()
	hp.hold(t, "blue1", holdOutage, now, ColorBlue, now.Add(time.Minute))
	hp.hold(t, "green", holdOutage, now, ColorGreen, now.Add(time.Minute))
	hp.hold(t, "blue2", holdOutage, now, ColorBlue, now.Add(time.Minute))
	// Held again after a release: it keeps its first, earlier deadline,
	// and goes first.
	hp.hold(t, "blue0", holdOutage, now, ColorBlue, now.Add(30*time.Second))
	if n := hp.hs.outageN.Load(); n != 4 {
		t.Fatalf("outage holds %d", n)
	}
	hp.hs.releaseOutage(ColorBlue)
	hp.wait(t, "blue0:send", "blue1:send", "blue2:send")
	hp.hs.releaseOutage("")
	hp.wait(t, "blue0:send", "blue1:send", "blue2:send", "green:send")
	if n, o := hp.hs.n.Load(), hp.hs.outageN.Load(); n != 0 || o != 0 {
		t.Fatalf("held %d, outage %d", n, o)
	}
	t.Run("a check says nothing of a loss after it began", func(t *testing.T) {
		hp := newHeldProbe(10)
		now := time.Now()
		hp.hold(t, "refused", holdOutage, now, ColorBlue, now.Add(time.Minute))
		lost := hp.hold(t, "lost", holdOutage, now, ColorBlue, now.Add(time.Minute))
		lost.hold.passFrom = now.Add(time.Millisecond) // its connection was lost then
		hp.hs.releasePassed(ColorBlue, now)            // began before the loss
		hp.wait(t, "refused:send")
		hp.hs.releasePassed(ColorBlue, now.Add(time.Millisecond))
		hp.wait(t, "refused:send", "lost:send")
	})
	t.Run("deadline", func(t *testing.T) {
		hp := newHeldProbe(10)
		now := time.Now()
		hp.hold(t, "later", holdOutage, now, ColorBlue, now.Add(150*time.Millisecond))
		hp.hold(t, "sooner", holdOutage, now, ColorBlue, now.Add(50*time.Millisecond))
		hp.wait(t, "sooner:expired")
		hp.wait(t, "sooner:expired", "later:expired")
	})
}

// TestHoldSet_dispatchInOrder: a resume releases the next request once the
// one before it was sent, or dispatchStep after it was released.
func TestHoldSet_dispatchInOrder(t *testing.T) {
	var hs holdSet
	var mu sync.Mutex
	var order []int
	stuck := make(chan struct{})
	ccs := make([]*clientConn, 4)
	index := map[*clientConn]int{}
	for i := range ccs {
		ccs[i] = &clientConn{hold: &holding{}}
		index[ccs[i]] = i
	}
	hs.init(func(cc *clientConn, _ int) {
		i := index[cc]
		go func() {
			if i == 1 {
				<-stuck // never says it was sent: the next goes after dispatchStep
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			cc.signalDispatched()
		}()
	}, func() int { return 10 })
	start := time.Now()
	hs.dispatch(ccs)
	waitFor(t, 5*time.Second, "three sent", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 3
	})
	if d := time.Since(start); d < dispatchStep {
		t.Errorf("the one after a request that was not sent went after %s, before dispatchStep", d)
	}
	close(stuck)
	waitFor(t, 5*time.Second, "all sent", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 4
	})
	if !slices.Equal(order, []int{0, 2, 3, 1}) {
		t.Fatalf("order %v", order)
	}
}
