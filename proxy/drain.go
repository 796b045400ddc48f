package proxy

import (
	"context"
	"time"
)

// DrainResult tells how a drain of one color ended.
type DrainResult struct {
	Color            string
	Duration         time.Duration
	HTTPCut          int // requests cut at the HTTP drain timeout
	WebSocketsClosed int // WebSockets closed with 1001 at the WebSocket cutoff
}

// Drain waits until nothing routed to color is in flight, then closes the
// idle upstream connections to it. HTTP requests still running httpTimeout
// after the call are cut; WebSockets still open wsTimeout after the call get
// a 1001 close frame and are closed on both sides. It returns as soon as the
// last request or WebSocket ends. Canceling ctx cuts everything now.
//
// Drain concerns the routings of color that are no longer active nor a
// canary step's: when color is active again (a switch back), its current
// routing is left alone.
// The caller runs Drain in a goroutine; it blocks.
func (p *Proxy) Drain(ctx context.Context, color string, httpTimeout, wsTimeout time.Duration) DrainResult {
	start := time.Now()
	var ts []*target
	for _, t := range p.allTargets() {
		if t.color == color && !p.routes(t) {
			ts = append(ts, t)
		}
	}
	res := DrainResult{Color: color}
	httpAt, wsAt := start.Add(httpTimeout), start.Add(wsTimeout)
	for _, t := range ts {
		drainTarget(ctx, t, httpAt, wsAt)
		res.HTTPCut += int(t.nHTTPCut.Load())
		res.WebSocketsClosed += int(t.nWSClosed.Load())
		t.pool.close()
		p.forget(t)
	}
	res.Duration = time.Since(start)
	p.log.Info("drain done", "color", color, "duration", res.Duration.String(),
		"http_cut", res.HTTPCut, "websockets_closed", res.WebSocketsClosed)
	return res
}

// drainTarget waits for t to empty, cutting its HTTP requests at httpAt,
// its WebSockets at wsAt, and both when ctx ends.
func drainTarget(ctx context.Context, t *target, httpAt, wsAt time.Time) {
	httpTimer := time.NewTimer(time.Until(httpAt))
	defer httpTimer.Stop()
	wsTimer := time.NewTimer(time.Until(wsAt))
	defer wsTimer.Stop()
	httpC, wsC, done := httpTimer.C, wsTimer.C, ctx.Done()
	for !t.empty() {
		select {
		case <-t.idle:
		case <-httpC:
			t.cutHTTP()
			httpC = nil
		case <-wsC:
			t.cutWS()
			wsC = nil
		case <-done:
			t.cutHTTP()
			t.cutWS()
			done = nil
		}
	}
}
