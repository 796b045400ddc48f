package proxy

import (
	"context"
	"fmt"
	"time"
)

// Stopping a proxy. The listener closes at once; a connection in the middle
// of a request finishes it and gets Connection: close on its answer. An
// idle keep-alive connection is never closed under a request that is on
// its way: its next request, if one comes, is served and answered with
// Connection: close. HTTP/1.1 has no other way to tell a client to leave a
// connection, and a client that sends a request just as the connection
// closes gets a reset, which Go's client and others retry only for
// requests without a body (docs/upgrades.md, "Idle connections").
//
// After an upgrade (the listener says HandedOver) the idle connections stay
// until their next request or their own idle timeout, as they would have
// without the upgrade: the process serving the socket now takes every new
// connection, and this one answers everything sent on its own. On a stop
// with no successor they stay only while requests and WebSockets are still
// draining: nothing would serve the request after that anyway.

// HandedOver is what a listener given as Options.Listener may also be: one
// that reports whether its socket was handed to another process, which
// accepts on it now (an upgrade of serve, internal/handover).
type HandedOver interface {
	HandedOver() bool
}

// newConnGrace is how long a stop leaves a connection accepted just before
// it to send its first request: its client has written it already, most
// likely, and would not retry on a new connection (as it does on a reused
// keep-alive one). After an upgrade the old process accepts until the new
// one is ready, so such connections are not rare then.
const newConnGrace = time.Second

// Stop stops accepting, lets in-flight requests and WebSockets finish until
// ctx is done, then closes everything (WebSockets get a 1001 close frame).
// It is safe to call twice; a second call waits for the first. Shutdown
// bounds requests and WebSockets apart.
func (p *Proxy) Stop(ctx context.Context) error {
	return p.stop(ctx, stopBounds{})
}

// Shutdown stops accepting, lets HTTP requests finish for up to httpTimeout
// (from now, or from their start for one that began on an idle connection
// later) and WebSockets run for up to wsTimeout, when they get a 1001
// close frame, then closes everything. Idle connections end as the comment
// above says. Canceling ctx cuts what is left at once. A supervisor that
// stops, or that handed its listening sockets to the process replacing it,
// does this with each app's drain_timeout and websocket_drain_timeout. It
// is safe to call twice, and after Stop: later calls wait for the first.
func (p *Proxy) Shutdown(ctx context.Context, httpTimeout, wsTimeout time.Duration) error {
	return p.stop(ctx, stopBounds{bounded: true, http: httpTimeout, ws: wsTimeout})
}

// stopBounds bound a stop's HTTP requests and WebSockets; unbounded, they
// run until the stop's context ends.
type stopBounds struct {
	bounded  bool
	http, ws time.Duration
}

// stop is Stop and Shutdown.
func (p *Proxy) stop(ctx context.Context, b stopBounds) error {
	p.stopOnce.Do(func() {
		defer close(p.stopDone)
		p.mu.Lock()
		p.stopped = true
		ln := p.ln
		p.mu.Unlock()
		if ln == nil {
			return
		}
		h, ok := ln.(HandedOver)
		handedOver := ok && h.HandedOver()
		p.stopping.Store(true)
		ln.Close()
		err := p.waitConns(ctx, handedOver, b)
		var cut, closed int64
		for _, t := range p.allTargets() {
			t.cutHTTP()
			t.cutWS()
		}
		p.waitEmpty(time.Second)
		for _, t := range p.allTargets() {
			cut, closed = cut+t.nHTTPCut.Load(), closed+t.nWSClosed.Load()
		}
		p.closeAll()
		for _, t := range p.allTargets() {
			t.pool.close()
		}
		if p.logs != nil {
			p.logs.flush() // the records of the last requests
		}
		if err != nil {
			p.stopErr = fmt.Errorf("stop proxy for %s: %w", p.opts.App, err)
		}
		p.log.Info("proxy stopped", "http_cut", cut, "websockets_closed", closed, "handed_over", handedOver)
	})
	<-p.stopDone
	return p.stopErr
}

// waitConns waits until no client connection is left, cutting what runs
// past the bounds b: an HTTP request that began b.http before now, once
// b.http passed since the stop began, and every WebSocket once b.ws
// passed. Unless handedOver, idle connections are closed once no
// connection is busy. It returns ctx's error when ctx ends first.
func (p *Proxy) waitConns(ctx context.Context, handedOver bool, b stopBounds) error {
	start := time.Now()
	wsCut := false
	for {
		left, busy := p.connCounts()
		if left == 0 {
			return nil
		}
		if !handedOver && busy == 0 {
			p.closeIdle()
		}
		if now := time.Now(); b.bounded {
			if now.Sub(start) >= b.http {
				p.cutBegunBy(now.Add(-b.http))
			}
			if !wsCut && now.Sub(start) >= b.ws {
				wsCut = true
				for _, t := range p.allTargets() {
					t.cutWS()
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// connCounts returns how many client connections are open, and how many
// of them are busy (a request or a WebSocket).
func (p *Proxy) connCounts() (open, busy int) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	for cc := range p.conns {
		if cc.state.Load() == connActive {
			busy++
		}
	}
	return len(p.conns), busy
}

// cutBegunBy cuts the HTTP requests in flight that began at or before at;
// held ones get the answer of a hold that expired.
func (p *Proxy) cutBegunBy(at time.Time) {
	p.holds.expireBy(at)
	p.connMu.Lock()
	conns := make([]*clientConn, 0, len(p.conns))
	for cc := range p.conns {
		conns = append(conns, cc)
	}
	p.connMu.Unlock()
	for _, cc := range conns {
		cc.cutBegunBy(at)
	}
}

// closeIdle closes the connections waiting for a request (a new one only
// once it is newConnGrace old).
func (p *Proxy) closeIdle() {
	p.connMu.Lock()
	now := time.Now()
	var parked []*clientConn
	for cc, accepted := range p.conns {
		old := now.Sub(accepted) >= newConnGrace
		switch {
		case cc.state.CompareAndSwap(connIdle, connClosed),
			old && cc.state.CompareAndSwap(connNew, connClosed):
			cc.nc.Close() // its goroutine ends it
		case cc.state.CompareAndSwap(connParked, connClosed),
			old && cc.state.CompareAndSwap(connParkedNew, connClosed):
			parked = append(parked, cc) // no goroutine: ended here
		}
	}
	p.connMu.Unlock()
	for _, cc := range parked {
		cc.closeParked()
	}
}

// closeAll closes every client connection and waits up to a second for
// their goroutines to end.
func (p *Proxy) closeAll() {
	p.connMu.Lock()
	var parked []*clientConn
	var held []*clientConn
	for cc := range p.conns {
		if cc.state.CompareAndSwap(connParked, connClosed) || cc.state.CompareAndSwap(connParkedNew, connClosed) {
			parked = append(parked, cc)
			continue
		}
		if cc.state.CompareAndSwap(connHeld, connClosed) {
			held = append(held, cc)
			continue
		}
		cc.nc.Close()
	}
	p.connMu.Unlock()
	for _, cc := range parked {
		cc.closeParked()
	}
	for _, cc := range held {
		cc.dropHeld()
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		p.connMu.Lock()
		n := len(p.conns)
		p.connMu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
