package proxy

import "time"

// A client connection's side of a hold (hold.go has the FIFOs): holding a
// request, its release, and its client giving up.

// holdRequest holds the request just read (its head in cc.req, what came
// after it in cc.br) as a hold of kind; an outage hold waits for color.
// check is insert's: whether the reason to hold still stands. held is
// false when no slot is free: the caller answers. When the connection can
// park, its request's bytes go into one buffer of their size, its scratch
// and reader go back to their pools, and it waits in the idle poller
// (parked: the caller's goroutine returns at once and touches cc no
// more); otherwise it waits here and outcome is its release's.
func (cc *clientConn) holdRequest(kind int, color string, check func() int) (held, parked bool, outcome int) {
	hs := &cc.p.holds
	if !hs.reserve() {
		return false, false, 0
	}
	if cc.hold == nil {
		cc.hold = &holding{} // a request's, until it ends (serveRequest)
	}
	cc.hold.holdKind, cc.hold.holdColor = kind, color
	if cc.hold.heldAt.IsZero() {
		cc.hold.heldAt = cc.start
	}
	if kind == holdOutage {
		if cc.hold.outageSince.IsZero() {
			cc.hold.outageSince = time.Now()
		}
		cc.hold.holdDue = cc.hold.outageSince.Add(cc.p.settings().OutageHold)
	}
	if !cc.watchHeld() {
		cc.hold.holdWake = make(chan int, 1)
		if o := hs.insert(cc, check); o != 0 {
			cc.hold.holdWake = nil
			return true, false, o // released before it was held
		}
		outcome = <-cc.hold.holdWake
		cc.hold.holdWake = nil
		return true, false, outcome
	}
	cc.compactHeld()
	if o := hs.insert(cc, check); o != 0 {
		cc.resumeHeld(o) // released before it was held: served on a goroutine of its own
		return true, true, 0
	}
	// A close the poller saw before the connection was held: it ends now.
	if cc.heldWakeMissed() && cc.state.CompareAndSwap(connHeld, connClosed) {
		cc.dropHeld()
	}
	return true, true, 0
}

// compactHeld keeps the request's bytes (its head, what the reader holds
// after it, what the socket's stash still has) in one buffer of their size
// and gives the scratch, the reader and the stash back.
func (cc *clientConn) compactHeld() {
	head := cc.req.Bytes()
	var after, stashed []byte
	if cc.br != nil {
		after, _ = cc.br.Peek(cc.br.Buffered())
	}
	if r := cc.raw; r != nil && r.stash != nil {
		stashed = (*r.stash)[r.stashOff:r.stashN]
	}
	buf := make([]byte, 0, len(head)+len(after)+len(stashed))
	cc.hold.heldBuf = append(append(append(buf, head...), after...), stashed...)
	cc.releaseScratch()
	cc.dropReader()
	if cc.raw != nil {
		cc.raw.dropStash()
	}
}

// resumeHeld serves the held request of cc, which the caller took out of
// connHeld, with outcome: on the goroutine that waits for it, or on a new
// one that reads the request again from its bytes.
func (cc *clientConn) resumeHeld(outcome int) {
	if cc.hold.holdWake != nil {
		cc.hold.holdWake <- outcome
		return
	}
	cc.unwatchHeld()
	cc.hold.replay = outcome
	cc.raw.restash(cc.hold.heldBuf)
	cc.hold.heldBuf = nil
	go cc.serveHeld()
}

// dropHeld ends a held request's connection without an answer (its client
// gave up, or the proxy stops); the caller took it out of connHeld.
func (cc *clientConn) dropHeld() {
	cc.p.holds.remove(cc)
	if cc.hold.holdWake != nil {
		cc.hold.holdWake <- releaseClosed
		return
	}
	cc.unwatchHeld()
	cc.hold.heldBuf = nil
	cc.close()
}

// serveHeld serves a released request from its bytes (resumeHeld put
// them back before the socket's), then the connection's next requests.
func (cc *clientConn) serveHeld() {
	cc.takeReader()
	cc.pc.readBy(time.Now().Add(cc.p.tmo.head), slackOf(cc.p.tmo.head))
	keep, held := cc.serveRequest()
	if held {
		return // held again (an outage after a pause): the hold has it
	}
	if !keep {
		cc.close()
		return
	}
	cc.waitStart = time.Now()
	cc.run(false)
}
