package http1

import (
	"errors"
	"io"
	"net"
	"syscall"
	"unsafe"
)

// Reuse of keep-alive connections, the same for the proxy's upstream pool
// and the health prober: whether an idle connection may carry the next
// request, and which failed request may be sent again on a new one.

// Liveness checks whether an idle keep-alive connection is still open and
// quiet before it carries the next request: a non-blocking peek at its
// socket must find nothing (EAGAIN). A peer that closed its end (a
// keep-alive timeout) shows EOF; bytes it sent after its last answer (a
// body on HEAD, more than its Content-Length) belong to no request and
// disqualify the connection too. The check is one system call and
// allocates nothing. A Liveness must not be copied after Watch, and is used
// by one goroutine at a time.
type Liveness struct {
	rc     syscall.RawConn  // nil: not a socket
	peekFn func(fd uintptr) // l.peek, bound once
	quiet  bool             // peek's result
}

// Watch makes l check c from now on.
func (l *Liveness) Watch(c net.Conn) {
	l.rc = nil
	if sc, ok := c.(syscall.Conn); ok {
		l.rc, _ = sc.SyscallConn()
	}
	if l.peekFn == nil {
		l.peekFn = l.peek
	}
}

// Alive reports whether the watched connection is still open and has
// nothing to read. A connection without a socket is never alive.
func (l *Liveness) Alive() bool {
	if l.rc == nil {
		return false
	}
	l.quiet = false
	return l.rc.Control(l.peekFn) == nil && l.quiet
}

// peek sets l.quiet when the socket fd has nothing to read. The system call
// is a raw one: it cannot block (MSG_DONTWAIT), so it skips the runtime's
// syscall bookkeeping as rawConn in proxy/ does.
func (l *Liveness) peek(fd uintptr) {
	var b [1]byte
	_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	l.quiet = e == syscall.EAGAIN
}

// Resendable reports whether a request with method may be sent again on a
// new connection after a kept one failed under it before any byte of an
// answer came back: only the safe methods (RFC 9110 §9.2.1) that are
// usually sent without a body.
func Resendable[S []byte | string](method S) bool {
	switch string(method) {
	case "GET", "HEAD", "OPTIONS":
		return true
	}
	return false
}

// ConnectionLost reports whether err looks like a kept connection the peer
// had already closed when a request went out on it.
func ConnectionLost(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
