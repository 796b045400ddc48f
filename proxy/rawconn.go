package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawConn is a TCP connection whose reads and writes are non-blocking
// system calls made with syscall.RawSyscall, waiting for readiness through
// the runtime's network poller (syscall.RawConn) as net.Conn does.
//
// Why: net.Conn's Read and Write go through the runtime's syscall entry and
// exit, and on a process whose processors are all idle between requests
// (one client, or a lightly loaded app) each entry wakes the runtime's
// monitor thread, which then polls every 20 µs: measured with
// cmd/proxybench at one connection, that thread took 1.5 context switches
// and about 30 µs of CPU per request. A read or write of a non-blocking
// socket never blocks, so skipping the syscall bookkeeping is safe.
// Deadlines and Close work as on the wrapped connection.
type rawConn struct {
	net.Conn
	rc syscall.RawConn

	// Read and write state, each used by one goroutine at a time.
	rbuf         []byte
	rn           int
	rerr         syscall.Errno
	wbuf         []byte
	wn           int
	werr         syscall.Errno
	readFn       func(fd uintptr) bool
	writeFn      func(fd uintptr) bool
	closeWriteFn func() error

	// A deferred write (see deferWrite).
	deferNext bool          // the next Write only records its bytes
	pending   bool          // pend waits for the next Read
	pend      []byte        // what is left of them
	early     bool          // the Read found bytes, the end or an error before pend went out
	pendErr   syscall.Errno // writing pend failed
}

// errStale is what a Read with a deferred write returns when the
// connection had bytes to read (or had ended) before the deferred bytes
// went out: nothing was sent, and the connection is of no further use.
var errStale = errors.New("upstream connection closed, or sent bytes no request asked for, before the request")

// newRawConn wraps c, or returns it unchanged when it has no file
// descriptor.
func newRawConn(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	r := &rawConn{Conn: c, rc: rc}
	r.readFn, r.writeFn = r.doRead, r.doWrite
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		r.closeWriteFn = cw.CloseWrite
	}
	return r
}

func (c *rawConn) doRead(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if c.pending {
				return c.writePending(fd)
			}
			return false // wait until readable
		}
		if c.pending {
			c.early = true
			return true
		}
		c.rn, c.rerr = int(n), e
		return true
	}
}

// deferWrite makes the next Write record its bytes rather than send them:
// the next Read sends them, after a read attempt found nothing to read,
// and then reads the answer. For an upstream connection taken from the
// pool this checks, without a system call of its own, that the upstream
// neither closed it nor sent anything no request asked for (a body on
// HEAD, more than its Content-Length) before the request goes out: the
// read that finds nothing is the one made anyway before waiting for the
// answer. The bytes recorded must stay untouched until that Read.
func (c *rawConn) deferWrite() { c.deferNext = true }

// writePending writes the deferred bytes after a read found nothing; it
// returns false (wait for the answer) when all of them went out.
func (c *rawConn) writePending(fd uintptr) bool {
	for len(c.pend) > 0 {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.pend[0])), uintptr(len(c.pend)))
		switch e {
		case 0:
			c.pend = c.pend[n:]
		case syscall.EINTR:
		case syscall.EAGAIN:
			return true // Read writes the rest as Write does
		default:
			c.pendErr = e
			return true
		}
	}
	c.pending, c.pend = false, nil
	return false
}

// Read reads into p like net.Conn's Read, first sending deferred bytes.
func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rbuf = p
	err := c.rc.Read(c.readFn)
	c.rbuf = nil
	if c.pending || c.early || c.pendErr != 0 {
		return c.deferredFailed(p, err)
	}
	if err != nil {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	if c.rerr != 0 {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", c.rerr)}
	}
	if c.rn == 0 {
		return 0, io.EOF
	}
	return c.rn, nil
}

func (c *rawConn) doWrite(fd uintptr) bool {
	for len(c.wbuf) > 0 {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.wbuf[0])), uintptr(len(c.wbuf)))
		switch e {
		case 0:
			c.wbuf = c.wbuf[n:]
			c.wn += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // wait until writable
		default:
			c.werr = e
			return true
		}
	}
	return true
}

// deferredFailed ends a Read whose deferred bytes did not all go out.
func (c *rawConn) deferredFailed(p []byte, err error) (int, error) {
	rest, early, pendErr := c.pend, c.early, c.pendErr
	c.pending, c.pend, c.early, c.pendErr = false, nil, false, 0
	switch {
	case err != nil: // a deadline or a close: nothing more to do
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	case early:
		return 0, errStale
	case pendErr != 0:
		return 0, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("write", pendErr)}
	}
	// The socket buffer was full: write the rest as Write does, then read.
	if _, err := c.Write(rest); err != nil {
		return 0, err
	}
	return c.Read(p)
}

// Write writes all of p like net.Conn's Write; see deferWrite.
func (c *rawConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.deferNext {
		c.deferNext, c.pending, c.pend = false, true, p
		return len(p), nil
	}
	c.wbuf, c.wn, c.werr = p, 0, 0
	err := c.rc.Write(c.writeFn)
	c.wbuf = nil
	if err == nil && c.werr != 0 {
		err = os.NewSyscallError("write", c.werr)
	}
	if err != nil {
		return c.wn, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return c.wn, nil
}

// CloseWrite shuts down the writing side, when the wrapped connection can.
func (c *rawConn) CloseWrite() error {
	if c.closeWriteFn == nil {
		return nil
	}
	return c.closeWriteFn()
}

// SyscallConn returns the wrapped connection's raw connection.
func (c *rawConn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }
