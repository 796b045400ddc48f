package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
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

	// A pooled read (see readPooled) and what await left for Read.
	poolFn   func(fd uintptr) bool
	poolBuf  *[]byte // the buffer of a pooled read that found bytes
	poolN    int     // bytes read into it
	poolErr  syscall.Errno
	poolSize int     // the class of the next pooled read
	stash    *[]byte // bytes await read and Read has not returned yet
	stashOff int     // what Read returned of them
	stashN   int
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
	r.readFn, r.writeFn, r.poolFn = r.doRead, r.doWrite, r.doPooledRead
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

// Pooled reads. A connection that waits for bytes should hold no buffer
// while it waits: readPooled waits for the socket to be readable with
// nothing but the poller's registration, and only then takes a buffer from
// a pool and reads into it. A read that finds nothing (EAGAIN) gives the
// buffer back before it waits again.

// Classes of the pooled read buffers.
var readClasses = [...]int{2 << 10, 8 << 10, 32 << 10}

var readPools [len(readClasses)]sync.Pool

func getReadBuf(class int) *[]byte {
	if p, ok := readPools[class].Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, readClasses[class])
	return &b
}

func putReadBuf(p *[]byte) {
	for i, n := range readClasses {
		if cap(*p) == n {
			*p = (*p)[:n]
			readPools[i].Put(p)
			return
		}
	}
}

func (c *rawConn) doPooledRead(fd uintptr) bool {
	bp := getReadBuf(c.poolSize)
	b := *bp
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			putReadBuf(bp)
			return false // wait, holding nothing
		}
		if e != 0 || n == 0 {
			putReadBuf(bp)
			c.poolN, c.poolErr = 0, e
			return true
		}
		c.poolBuf, c.poolN, c.poolErr = bp, int(n), 0
		return true
	}
}

// readPooled waits until the connection has bytes, then reads them into a
// buffer of class (an index of readClasses) taken from a pool. The caller
// gives the buffer back with putReadBuf. The end of the stream is io.EOF,
// with no buffer.
func (c *rawConn) readPooled(class int) (*[]byte, int, error) {
	if c.stash != nil {
		bp := getReadBuf(class)
		n, _ := c.readStash(*bp)
		return bp, n, nil
	}
	c.poolSize = class
	err := c.rc.Read(c.poolFn)
	bp, n, e := c.poolBuf, c.poolN, c.poolErr
	c.poolBuf, c.poolN, c.poolErr = nil, 0, 0
	switch {
	case err != nil:
		return nil, 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	case e != 0:
		return nil, 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", e)}
	case bp == nil:
		return nil, 0, io.EOF
	}
	return bp, n, nil
}

// await waits until the connection has bytes, holding no buffer
// meanwhile, and keeps what it read for the next Reads; io.EOF when the
// peer closed first.
func (c *rawConn) await() error {
	if c.stash != nil {
		return nil
	}
	bp, n, err := c.readPooled(1) // the class of the client reader: one system call reads what it would
	if err != nil {
		return err
	}
	c.stash, c.stashOff, c.stashN = bp, 0, n
	return nil
}

// stashed reports whether the next Read returns what await read, without
// a system call.
func (c *rawConn) stashed() bool { return c.stash != nil }

// readStash returns what await read.
func (c *rawConn) readStash(p []byte) (int, error) {
	n := copy(p, (*c.stash)[c.stashOff:c.stashN])
	c.stashOff += n
	if c.stashOff == c.stashN {
		putReadBuf(c.stash)
		c.stash = nil
	}
	return n, nil
}

// dropStash gives back what await read and Read did not return (the
// connection is done).
func (c *rawConn) dropStash() {
	if c.stash != nil {
		putReadBuf(c.stash)
		c.stash = nil
	}
}

// restash makes the next Reads return b (a held request's bytes, hold.go)
// before anything from the socket.
func (c *rawConn) restash(b []byte) {
	c.dropStash()
	if len(b) > 0 {
		c.stash, c.stashOff, c.stashN = &b, 0, len(b)
	}
}

// Read reads into p like net.Conn's Read, first sending deferred bytes.
func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.stash != nil {
		return c.readStash(p)
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
