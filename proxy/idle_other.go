//go:build !linux

package proxy

// Parking idle connections needs epoll (idle_linux.go); elsewhere an idle
// connection keeps its goroutine, but still no buffer (rawConn.await).

type parking struct{}

func (cc *clientConn) canPark() bool        { return false }
func (cc *clientConn) park(bool) bool       { return false }
func (cc *clientConn) closeParked()         { cc.close() }
func (cc *clientConn) watchHeld() bool      { return false }
func (cc *clientConn) unwatchHeld()         {}
func (cc *clientConn) heldWakeMissed() bool { return false }

// canParkHere reports whether connections can park on this system.
func canParkHere() bool { return false }
