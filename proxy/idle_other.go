//go:build !linux

package proxy

// Parking idle connections needs epoll (idle_linux.go); elsewhere an idle
// connection keeps its goroutine, but still no buffer (rawConn.await).

type parking struct{}

func (cc *clientConn) canPark() bool  { return false }
func (cc *clientConn) park(bool) bool { return false }
func (cc *clientConn) closeParked()   { cc.close() }

// canParkHere reports whether connections can park on this system.
func canParkHere() bool { return false }
