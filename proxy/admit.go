package proxy

import (
	"fmt"
	"time"
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

// holdOutage holds a request of which nothing reached color's container,
// which is down or refused the connection (docs/traffic.md, "Outage
// hold"); the result is admit's. A request the hold has no room for gets
// 502 at once.
func (cc *clientConn) holdOutage(color string) int {
	sc := cc.sc
	sc.wantOutage = false
	p, gen, t := cc.p, sc.outageGen, sc.outageTarget
	check := func() int {
		if p.healthyGen(color) != gen || !p.routes(t) {
			return releaseSend // back, or switched, since the connect failed
		}
		return 0
	}
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
