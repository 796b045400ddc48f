package proxy

import (
	"bufio"
	"time"
)

// Waiting for the next request on a client connection: under the head and
// idle timeouts, holding no buffer while nothing came, and parking the
// connection (idle_linux.go) when nothing comes for a while.

// What waitRequest found.
const (
	waitReady = iota // a request's first bytes are there
	waitPark         // nothing came for parkAfter: park
	waitClose        // the client closed, the wait timed out (answered when due) or the proxy stops
)

// waitRequest waits for the first byte of the next request and sets the
// deadline of its head: DefaultHeadTimeout from the connection's start or
// the end of the previous response (cc.waitStart). A keep-alive client that
// sends nothing in that time is idle: it is closed, without an answer, when
// it stays so for DefaultIdleTimeout; its next request's head then has the
// head timeout from its first byte. A new client that sends nothing gets
// 408. A connection that sent nothing for parkAfter parks instead of
// waiting on (the idle poller or the park's timer go on from there).
func (cc *clientConn) waitRequest(first bool) int {
	if cc.br != nil && cc.br.Buffered() > 0 { // pipelined
		cc.pc.readBy(cc.waitStart.Add(cc.p.tmo.head), slackOf(cc.p.tmo.head))
		return waitReady
	}
	limit := cc.p.tmo.idle
	if first {
		limit = cc.p.tmo.head
	}
	park := cc.p.tmo.park
	at := cc.waitStart.Add(park)
	if now := time.Now(); !at.After(now) {
		at = now.Add(park) // woken for nothing: park again later
	}
	// A timeout that comes before the park would is waited for here.
	if park > 0 && cc.canPark() && at.Before(cc.waitStart.Add(limit)) {
		err := cc.await(at, slackOf(park))
		switch {
		case err == nil:
			cc.headDeadline()
			return waitReady
		case !isTimeout(err):
			return waitClose
		case cc.p.stopping.Load():
			return cc.waitHere(first) // a stopping proxy parks nothing; the wait goes on
		}
		return waitPark
	}
	return cc.waitHere(first)
}

// waitHere waits on this goroutine, until the head timeout (408 when
// first) and then until the idle timeout.
func (cc *clientConn) waitHere(first bool) int {
	tmo := &cc.p.tmo
	headAt := cc.waitStart.Add(tmo.head)
	if time.Now().Before(headAt) {
		err := cc.await(headAt, slackOf(tmo.head))
		if err == nil {
			cc.headDeadline()
			return waitReady
		}
		if !isTimeout(err) {
			return waitClose
		}
	}
	if first {
		cc.timedOut()
		return waitClose
	}
	if err := cc.await(cc.waitStart.Add(tmo.idle), 0); err != nil {
		return waitClose // idle too long (or closed): no answer is due
	}
	cc.headDeadline()
	return waitReady
}

// await waits until bytes of a request are there or until at (with slack),
// holding no buffer while it waits when the connection can (rawConn.await).
func (cc *clientConn) await(at time.Time, slack time.Duration) error {
	cc.pc.readBy(at, slack)
	if cc.raw == nil || cc.br != nil {
		if cc.br == nil {
			cc.takeReader()
		}
		_, err := cc.br.Peek(1)
		return err
	}
	return cc.pc.await()
}

// headDeadline sets the read deadline of a head whose first bytes are
// there: the head timeout from the start of the wait, or from now when the
// wait was longer. It is applied by the next read from the socket: a head
// that came whole in its first bytes never moves the deadline.
func (cc *clientConn) headDeadline() {
	tmo := &cc.p.tmo
	at := cc.waitStart.Add(tmo.head)
	if now := time.Now(); now.After(at) {
		at = now.Add(tmo.head)
	}
	cc.pc.readBy(at, slackOf(tmo.head))
	if cc.br == nil {
		cc.takeReader()
	}
}

func (cc *clientConn) takeReader() {
	cc.br = readers.Get().(*bufio.Reader)
	cc.br.Reset(cc.pc)
}

// releaseReader gives the reader back unless it holds bytes of the next
// request.
func (cc *clientConn) releaseReader() {
	if cc.br == nil || cc.br.Buffered() > 0 {
		return
	}
	cc.dropReader()
}

// dropReader gives the reader back with whatever it holds.
func (cc *clientConn) dropReader() {
	if cc.br == nil {
		return
	}
	cc.br.Reset(nil)
	readers.Put(cc.br)
	cc.br = nil
}
