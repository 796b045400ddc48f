package proxy

import (
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
}

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
			return false // wait until readable
		}
		c.rn, c.rerr = int(n), e
		return true
	}
}

// Read reads into p like net.Conn's Read.
func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rbuf = p
	err := c.rc.Read(c.readFn)
	c.rbuf = nil
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

// Write writes all of p like net.Conn's Write.
func (c *rawConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
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
