package proxy

import (
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Parking. A keep-alive client connection that sent nothing for parkAfter
// gives up its goroutine: its socket goes into the process's idle poller,
// an epoll set of its own whose file descriptor Go's network poller
// watches, and a timer takes over its timeouts. When a byte comes, the
// poller starts a goroutine that serves the connection on. A parked
// connection holds its structs and its socket, no goroutine stack and no
// buffer: 2.4 KiB in all (BenchmarkProxy_connMemory), where the goroutine
// of a connection that served a request alone is 4 to 8.
//
// A parked connection is in one of the states connParked and
// connParkedNew. Whoever moves it out of them by compare-and-swap owns it:
// the poller (it resumes it), its timer (408 for a new connection, else a
// silent close) or Stop (closeIdle).

// parking is a client connection's part of it.
type parking struct {
	parkID     uint64        // its key in the poller, 0 until it first parks
	registered bool          // its socket is in the epoll set
	parkGen    atomic.Uint64 // counts its parks, so that a stale timer does nothing
	parkTimer  *time.Timer
	wakeMissed atomic.Bool // the poller had an event for it before it was parked
}

// idlePoller is the process's epoll set of parked connections.
type idlePoller struct {
	epfd  int
	file  *os.File // epfd, for Go's network poller
	mu    sync.Mutex
	conns map[uint64]*clientConn
	next  uint64
}

var idle struct {
	once sync.Once
	p    *idlePoller // nil: parking is not possible here
}

// poller returns the idle poller, starting it on first use.
func poller() *idlePoller {
	idle.once.Do(func() {
		p, err := newIdlePoller()
		if err != nil {
			slog.Warn("proxy: idle client connections keep their goroutines", "err", err)
			return
		}
		idle.p = p
		go p.loop()
	})
	return idle.p
}

func newIdlePoller() (*idlePoller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("setnonblock", err)
	}
	// A non-blocking descriptor makes a pollable File: reading it through
	// its RawConn waits in Go's network poller until an event is ready.
	return &idlePoller{epfd: fd, file: os.NewFile(uintptr(fd), "proxy-idle-poller"), conns: map[uint64]*clientConn{}}, nil
}

// loop wakes the connections whose sockets became readable (or closed),
// forever.
func (ip *idlePoller) loop() {
	rc, err := ip.file.SyscallConn()
	if err != nil {
		slog.Error("proxy: idle poller", "err", err)
		return
	}
	var events [128]syscall.EpollEvent
	wake := func(fd uintptr) bool {
		for {
			n, err := syscall.EpollWait(int(fd), events[:], 0)
			if err == syscall.EINTR {
				continue
			}
			if n <= 0 {
				return false // nothing ready: wait for the next event
			}
			for _, ev := range events[:n] {
				ip.wake(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32)
			}
		}
	}
	for {
		if err := rc.Read(wake); err != nil {
			slog.Error("proxy: idle poller stopped", "err", err)
			return
		}
	}
}

// wake resumes the parked connection id, if it is still parked.
func (ip *idlePoller) wake(id uint64) {
	ip.mu.Lock()
	cc := ip.conns[id]
	delete(ip.conns, id)
	ip.mu.Unlock()
	if cc == nil {
		return
	}
	switch {
	case cc.state.CompareAndSwap(connParked, connIdle):
		cc.parkTimer.Stop()
		go cc.resume(false)
	case cc.state.CompareAndSwap(connParkedNew, connNew):
		cc.parkTimer.Stop()
		go cc.resume(true)
	case cc.state.CompareAndSwap(connHeld, connClosed):
		cc.dropHeld() // its client closed while its request was held
	default:
		cc.wakeMissed.Store(true) // not parked yet (park checks), or closed
	}
}

func (ip *idlePoller) forget(cc *clientConn) {
	ip.mu.Lock()
	delete(ip.conns, cc.parkID)
	ip.mu.Unlock()
}

// canPark reports whether the connection can park instead of waiting on
// its goroutine.
func (cc *clientConn) canPark() bool {
	return cc.raw != nil && cc.br == nil && cc.sc == nil && !cc.p.stopping.Load() && poller() != nil
}

// park hands the idle connection to the poller and its timer; false (and
// the connection still this goroutine's) when it cannot. The connection's
// timeouts run from cc.waitStart: a new one gets 408 when no byte came by
// the head timeout, a keep-alive one is closed when none came by the idle
// timeout.
//
// Everything is set up before the state says parked, so that whoever takes
// the connection then finds it complete; a byte that woke the poller in
// between is noticed after (wakeMissed).
func (cc *clientConn) park(first bool) bool {
	ip := poller()
	from, to := int32(connIdle), int32(connParked)
	limit := cc.p.tmo.idle
	if first {
		from, to = connNew, connParkedNew
		limit = cc.p.tmo.head
	}
	ip.enroll(cc)
	gen := cc.parkGen.Add(1)
	// Like a deadline (progressConn), the timeout fires between limit and
	// limit plus its slack, so that a client that counts from when it got
	// the answer does not see it come early.
	due := cc.waitStart.Add(limit + slackOf(limit))
	cc.parkTimer = time.AfterFunc(time.Until(due), func() { cc.parkExpired(gen) })
	undo := func() {
		ip.forget(cc)
		cc.parkTimer.Stop()
		cc.parkGen.Add(1)
	}
	if !cc.registerIdle(ip, syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLONESHOT) {
		undo()
		return false
	}
	if !cc.state.CompareAndSwap(from, to) {
		undo() // Stop closed it meanwhile: this goroutine ends it
		return false
	}
	if cc.wakeMissed.Load() && cc.state.CompareAndSwap(to, from) {
		undo() // a byte came while parking: serve it here
		return false
	}
	if !time.Now().Before(due) {
		// The timer may have fired before the connection was parked,
		// and then did nothing: the timeout is due now.
		cc.parkExpired(gen)
	}
	return true
}

// registerIdle puts the socket into the poller's epoll set, armed for one
// of events.
func (cc *clientConn) registerIdle(ip *idlePoller, events uint32) bool {
	ev := syscall.EpollEvent{Events: events, Fd: int32(uint32(cc.parkID)), Pad: int32(uint32(cc.parkID >> 32))}
	var cerr error
	op := syscall.EPOLL_CTL_MOD
	if !cc.registered {
		op = syscall.EPOLL_CTL_ADD
	}
	err := cc.raw.rc.Control(func(fd uintptr) {
		cerr = syscall.EpollCtl(ip.epfd, op, int(fd), &ev)
		switch cerr {
		case syscall.ENOENT:
			cerr = syscall.EpollCtl(ip.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
		case syscall.EEXIST:
			cerr = syscall.EpollCtl(ip.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
		}
	})
	if err != nil || cerr != nil {
		return false
	}
	cc.registered = true
	return true
}

// watchHeld puts the socket of a connection whose request is about to be
// held into the poller, armed for its client's close alone (EPOLLRDHUP: a
// body or a pipelined request that comes meanwhile wakes nothing); false
// when it cannot (the connection then waits on its goroutine).
func (cc *clientConn) watchHeld() bool {
	ip := poller()
	if ip == nil || cc.raw == nil {
		return false
	}
	ip.enroll(cc)
	if !cc.registerIdle(ip, syscall.EPOLLRDHUP|syscall.EPOLLONESHOT) {
		ip.forget(cc)
		return false
	}
	return true
}

// heldWakeMissed reports whether the poller had an event for the
// connection before it was held.
func (cc *clientConn) heldWakeMissed() bool { return cc.wakeMissed.Load() }

// unwatchHeld takes a released connection out of the poller's map; an
// event that still comes for it finds nothing.
func (cc *clientConn) unwatchHeld() {
	if ip := poller(); ip != nil {
		ip.forget(cc)
	}
}

// parkExpired ends a parked connection whose timeout came: a new one with
// 408, a keep-alive one silently.
func (cc *clientConn) parkExpired(gen uint64) {
	if cc.parkGen.Load() != gen {
		return
	}
	switch {
	case cc.state.CompareAndSwap(connParkedNew, connActive):
		poller().forget(cc)
		cc.timedOut()
		cc.close()
	case cc.state.CompareAndSwap(connParked, connClosed):
		poller().forget(cc)
		cc.close()
	}
}

// closeParked ends a parked connection that Stop took (state connClosed).
func (cc *clientConn) closeParked() {
	if ip := poller(); ip != nil {
		ip.forget(cc)
	}
	if cc.parkTimer != nil {
		cc.parkTimer.Stop()
	}
	cc.close()
}

// canParkHere reports whether connections can park on this system.
func canParkHere() bool { return poller() != nil }

// enroll gives cc its ID in the poller (once) and puts it among the
// connections the poller may wake; a wake-up missed before is forgotten.
func (ip *idlePoller) enroll(cc *clientConn) {
	ip.mu.Lock()
	if cc.parkID == 0 {
		ip.next++
		cc.parkID = ip.next
	}
	ip.conns[cc.parkID] = cc
	ip.mu.Unlock()
	cc.wakeMissed.Store(false)
}
