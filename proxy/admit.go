package proxy

import (
	"fmt"
	"time"

	"github.com/bluegreen/bluegreen/internal/http1"
)

// What becomes of a request before it is routed (docs/traffic.md): the
// body limit, the traffic mode (maintenance answers, a pause holds), and
// the outcome of a hold it was released from. Every answer given here goes
// through writeError or writeMaintenance, so through closeAfter: a body
// not read yet is read and thrown away, or the connection ends (body.go).

// What admit decided.
const (
	admitRoute    = iota // route the request to the active color
	admitAnswered        // the proxy answered it
	admitHeld            // it is held: the connection belongs to the hold
	admitEnd             // the connection ends without an answer
)

// admit applies the body limit and the traffic mode to the request just
// read, or the outcome of the hold it was released from (cc.hold.replay).
func (cc *clientConn) admit() int {
	rq, set := &cc.req, cc.sc.set
	if set.MaxRequestBody > 0 && rq.ContentLength > set.MaxRequestBody {
		cc.writeError(413, fmt.Sprintf("request body of %d bytes; at most %d are taken", rq.ContentLength, set.MaxRequestBody), true)
		return admitAnswered
	}
	outcome := 0
	if cc.hold != nil {
		outcome, cc.hold.replay = cc.hold.replay, 0
	}
	for {
		switch outcome {
		case releaseSend:
			return admitRoute
		case releaseExpired:
			if cc.hold.holdKind == holdOutage {
				cc.outageFailed(cc.hold.holdColor, "did not come back within "+set.OutageHold.String())
			} else {
				cc.writeErrorWith(503, fmt.Sprintf("app %q is paused: the request waited longer than %s", cc.p.opts.App,
					cc.heldFor()), rq.Close, pauseRetryField)
			}
			return admitAnswered
		case releaseClosed:
			return admitEnd
		}
		// New, or released by a maintenance: the mode now says.
		m := cc.p.mode.Load()
		switch m.Mode {
		case ModeMaintenance:
			cc.writeMaintenance(m.maint)
			return admitAnswered
		case ModePaused:
			if outcome == releaseMaintenance {
				return admitRoute // released to a maintenance that ended meanwhile
			}
			held, parked, o := cc.holdRequest(holdPause, "", cc.p.stillPaused)
			switch {
			case !held:
				cc.writeErrorWith(503, fmt.Sprintf("app %q is paused and holds %d requests already", cc.p.opts.App,
					set.MaxHeldRequests), rq.Close, pauseRetryField)
				return admitAnswered
			case parked:
				return admitHeld
			}
			outcome = o
			continue
		}
		return admitRoute
	}
}

// stillPaused is a pause hold's check (holdSet.insert): whether the proxy
// is still paused, else what its release did.
func (p *Proxy) stillPaused() int {
	switch p.mode.Load().Mode {
	case ModePaused:
		return 0
	case ModeMaintenance:
		return releaseMaintenance
	}
	return releaseSend
}

// pauseRetryField is the Retry-After of a pause's 503s.
var pauseRetryField = fmt.Sprintf("Retry-After: %d\r\n", PauseRetryAfter)

// heldFor returns how long the request was held.
func (cc *clientConn) heldFor() time.Duration {
	return time.Since(cc.hold.heldAt).Round(time.Millisecond)
}

// holdOutage holds a request of which nothing that matters reached
// color's container: it is down, it refused the connection, or the
// connection of a request that may be sent again was lost before a byte
// of its answer came (docs/traffic.md, "Outage hold"); the result is
// admit's. A request the hold has no room for gets 502 at once.
func (cc *clientConn) holdOutage(color string) int {
	sc := cc.sc
	p, gen, t, lostAt := cc.p, sc.outageGen, sc.outageTarget, sc.lostAt
	sc.wantOutage, sc.lostAt, sc.upStart = false, time.Time{}, time.Time{} // upstream_ms: of the send that answers
	ci := colorIndex(color)
	check := func() int {
		switch {
		case !p.routes(t):
			return releaseSend // switched since
		case lostAt.IsZero() && p.healthyGen(color) != gen:
			return releaseSend // back since the connect failed
		case !lostAt.IsZero() && p.holds.passedSince(ci, lostAt):
			return releaseSend // a check that began after the loss passed
		}
		return 0
	}
	if cc.hold == nil {
		cc.hold = &holding{} // a request's, until it ends (serveRequest)
	}
	cc.hold.passFrom = lostAt
	cc.hold.lost = cc.hold.lost || !lostAt.IsZero()
	held, parked, o := cc.holdRequest(holdOutage, color, check)
	switch {
	case !held:
		cc.outageFailed(color, "is down")
		return admitAnswered
	case parked:
		return admitHeld
	}
	cc.hold.replay = o
	return cc.admit()
}

// lostHolds reports whether the outage hold is to keep the request whose
// exchange with its container failed with err before a byte of an answer
// came (gotSome false), and notes it for route (docs/proxy.md, "Retries"):
// one that never went out (a pooled connection found closed, again and
// again), or a GET, HEAD or OPTIONS without a body whose connection was
// lost (reset, closed), as when the container dies under it. Such a
// request is held once; lost again after its release, it gets 502.
func (cc *clientConn) lostHolds(err error, hasBody, gotSome bool) bool {
	sc := cc.sc
	if sc.set.OutageHold <= 0 || gotSome || cc.wasCut() {
		return false
	}
	if err == errStale { // nothing went out: as a refused connect
		sc.wantOutage = true
		return true
	}
	if hasBody || !http1.Resendable(cc.req.Method()) || !http1.ConnectionLost(err) || cc.lostBefore() {
		return false
	}
	sc.wantOutage, sc.lostAt = true, time.Now()
	return true
}

// lostBefore reports whether the request was held once for a lost
// connection (lostHolds): it is not sent again after another.
func (cc *clientConn) lostBefore() bool { return cc.hold != nil && cc.hold.lost }

// outageFailed answers 502 for a request whose container (of color) did
// not take it; it counts as that color's.
func (cc *clientConn) outageFailed(color, why string) {
	cc.stats = cc.p.stats.Color(color)
	cc.writeError(502, fmt.Sprintf("app %q: the %s container %s", cc.p.opts.App, color, why), cc.req.Close)
}

// writeMaintenance answers with the maintenance page or JSON.
func (cc *clientConn) writeMaintenance(a *maintenanceAnswer) {
	closeClient := cc.closeAfter(cc.req.Close) // before the answer: it may read the body
	cc.code = 503
	a.write(cc.bw, &cc.req, connectionValue(closeClient, cc.req.HTTP10))
	cc.bw.Flush()
}

// connectionValue is the Connection field of an answer: close when the
// connection ends after it, keep-alive to an HTTP/1.0 client whose
// connection goes on (it asked for it), else none.
func connectionValue(closeClient, http10 bool) string {
	switch {
	case closeClient:
		return "close"
	case http10:
		return "keep-alive"
	}
	return ""
}
