package proxy

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// Timeouts of the client side (docs/proxy.md, "Limits and timeouts").
// There is deliberately no bound on a whole request or response: long
// uploads, downloads and event streams must not be cut while they make
// progress.
const (
	// DefaultHeadTimeout is how long a client has to send a complete
	// request head after it connected or got its previous response; then it
	// gets 408 and the connection is closed. A keep-alive client that sends
	// nothing at all is idle instead (DefaultIdleTimeout).
	DefaultHeadTimeout = 10 * time.Second
	// DefaultIdleTimeout closes a keep-alive client connection that sent no
	// byte of a next request for this long after its previous response.
	DefaultIdleTimeout = 75 * time.Second
	// DefaultBodyTimeout ends a request whose client sent no byte of its
	// body, or took no byte of the answer, for this long (408 when nothing
	// of the answer was sent yet).
	DefaultBodyTimeout = 60 * time.Second
)

// timeouts are a proxy's client-side timeouts; tests shorten them. park
// is parkAfter (0: connections never park).
type timeouts struct {
	head, idle, body, park time.Duration
}

var defaultTimeouts = timeouts{head: DefaultHeadTimeout, idle: DefaultIdleTimeout, body: DefaultBodyTimeout, park: parkAfter}

// progressConn is the client connection under its buffered reader and
// writer. It sets the read deadline the connection loop asks for, and, when
// a progress timeout is armed, moves the deadline before each read or
// write, so that each must make progress within the timeout.
//
// A deadline moves only when it would otherwise come more than slack early,
// so that a busy connection updates its timer about once a second rather
// than once per read: an armed timeout fires between d and d+slack.
//
// A deadline readBy asks for is set by the next read from the socket, not
// at once: a request head that came whole with the bytes rawConn.await read
// is parsed without moving the deadline.
type progressConn struct {
	net.Conn
	raw                   *rawConn      // Conn, when it is one
	readEvery, writeEvery time.Duration // 0: not armed
	readDL, writeDL       time.Time     // the deadlines set on Conn

	wantDL    time.Time     // a read deadline readBy asked for, not set yet
	wantSlack time.Duration // its slack
	want      bool

	// aborted is set (by another goroutine) when the request is cut; a
	// deadline is not moved once it is set.
	aborted atomic.Bool

	in, out int64 // bytes read and written, for the access log
}

// slackOf is how late a timeout of d may fire.
func slackOf(d time.Duration) time.Duration { return min(d/8, time.Second) }

func (c *progressConn) Read(p []byte) (int, error) {
	if c.raw == nil || !c.raw.stashed() {
		c.applyRead() // a read from the socket (from the stash: no system call, no deadline)
	}
	n, err := c.Conn.Read(p)
	c.in += int64(n)
	return n, err
}

// await waits, with the read deadline, until the connection has bytes,
// holding no buffer (rawConn.await).
func (c *progressConn) await() error {
	c.applyRead()
	return c.raw.await()
}

// applyRead sets the read deadline the connection asked for before a read
// from the socket.
func (c *progressConn) applyRead() {
	if c.readEvery > 0 {
		if dl := time.Now().Add(c.readEvery); c.readDL.Before(dl) {
			c.readDL = dl.Add(slackOf(c.readEvery))
			c.Conn.SetReadDeadline(c.readDL)
			c.recheck()
		}
		return
	}
	if !c.want {
		return
	}
	c.want = false
	t, slack := c.wantDL, c.wantSlack
	if !c.readDL.Before(t) && c.readDL.Sub(t) <= slack {
		return
	}
	c.readDL = t.Add(slack)
	c.Conn.SetReadDeadline(c.readDL)
	c.recheck()
}

func (c *progressConn) Write(p []byte) (int, error) {
	if c.writeEvery > 0 {
		if dl := time.Now().Add(c.writeEvery); c.writeDL.Before(dl) {
			c.writeDL = dl.Add(slackOf(c.writeEvery))
			c.Conn.SetWriteDeadline(c.writeDL)
			c.recheck()
		}
	}
	n, err := c.Conn.Write(p)
	c.out += int64(n)
	return n, err
}

// recheck restores an abort's expired deadline that a move just replaced.
func (c *progressConn) recheck() {
	if c.aborted.Load() {
		c.Conn.SetDeadline(time.Now())
	}
}

// abort expires the deadlines now, for good; it may be called from any
// goroutine.
func (c *progressConn) abort() {
	c.aborted.Store(true)
	c.Conn.SetDeadline(time.Now())
}

// readBy disarms the read progress timeout and makes reads from the socket
// fail at t, or at most slack later.
func (c *progressConn) readBy(t time.Time, slack time.Duration) {
	c.readEvery = 0
	c.wantDL, c.wantSlack, c.want = t, slack, true
}

// readProgress arms the read progress timeout.
func (c *progressConn) readProgress(d time.Duration) { c.readEvery, c.want = d, false }

// writeProgress arms the write progress timeout.
func (c *progressConn) writeProgress(d time.Duration) { c.writeEvery = d }

// noDeadlines disarms both timeouts and clears the deadlines (WebSockets).
func (c *progressConn) noDeadlines() {
	c.readEvery, c.writeEvery, c.want = 0, 0, false
	c.readDL, c.writeDL = time.Time{}, time.Time{}
	c.Conn.SetDeadline(time.Time{})
	c.recheck()
}

// SetDeadline, SetReadDeadline and SetWriteDeadline keep the recorded
// deadlines true; only the connection's own goroutine calls them.
func (c *progressConn) SetDeadline(t time.Time) error {
	c.readDL, c.writeDL, c.want = t, t, false
	return c.Conn.SetDeadline(t)
}

func (c *progressConn) SetReadDeadline(t time.Time) error {
	c.readDL, c.want = t, false
	return c.Conn.SetReadDeadline(t)
}

func (c *progressConn) SetWriteDeadline(t time.Time) error {
	c.writeDL = t
	return c.Conn.SetWriteDeadline(t)
}

// CloseWrite shuts down the writing side, when the wrapped connection can.
func (c *progressConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// isTimeout reports whether err is an expired deadline.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
