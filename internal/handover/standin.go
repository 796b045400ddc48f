package handover

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// The link between a stand-in and the serving processes (docs/upgrades.md,
// "The stand-in"): one unix SOCK_SEQPACKET socket pair. The stand-in alone
// holds one end; every serving process holds the other, inherited through
// the upgrades (the handover's "stand_in" descriptor) and handed on to the
// next. A serving process that serves sends "serving <pid>" on it, so the
// stand-in knows where to pass signals; when the stand-in dies, whatever
// killed it (kill -9 too), the kernel closes its end and every serving
// process reads the end of the stream: Lost.

// msgServing announces the serving process on the link.
const msgServing = "serving "

// StandIn is the stand-in's end of the link.
type StandIn struct {
	conn    *net.UnixConn // the stand-in's end
	serving *os.File      // the serving processes' end, handed to the first one
	pids    chan int
}

// NewStandIn makes the link; Serving is the end to hand to the first
// serving process (Spec.StandIn), Announced the pids it and its successors
// announce.
func NewStandIn() (*StandIn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("stand-in link: %w", err)
	}
	own := os.NewFile(uintptr(fds[0]), "stand-in")
	defer own.Close()
	c, err := net.FileConn(own)
	if err != nil {
		syscall.Close(fds[1])
		return nil, fmt.Errorf("stand-in link: %w", err)
	}
	s := &StandIn{conn: c.(*net.UnixConn), serving: os.NewFile(uintptr(fds[1]), "stand-in-link"), pids: make(chan int, 16)}
	go s.read()
	return s, nil
}

// Serving is the serving processes' end of the link, for Spec.StandIn.
func (s *StandIn) Serving() *os.File { return s.serving }

// Announced delivers the pid of each process that announced it serves.
func (s *StandIn) Announced() <-chan int { return s.pids }

// read reads the announcements until the link closes.
func (s *StandIn) read() {
	defer close(s.pids)
	buf := make([]byte, 64)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			return
		}
		if pid, ok := strings.CutPrefix(string(buf[:n]), msgServing); ok {
			if p, err := strconv.Atoi(pid); err == nil && p > 0 {
				s.pids <- p
			}
		}
	}
}

// Link is a serving process's end of the link to its stand-in.
type Link struct {
	f    *os.File // handed on to the next process
	conn net.Conn
	once sync.Once
	lost chan struct{}
}

// newLink wraps the end of the link a process inherited.
func newLink(f *os.File) (*Link, error) {
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("the stand-in's link: %w", err)
	}
	return &Link{f: f, conn: c, lost: make(chan struct{})}, nil
}

// Announce tells the stand-in that pid serves now: it passes signals to it
// from now on. An error means the stand-in is gone.
func (l *Link) Announce(pid int) error {
	if _, err := l.conn.Write([]byte(msgServing + strconv.Itoa(pid))); err != nil {
		return fmt.Errorf("tell the stand-in: %w", err)
	}
	return nil
}

// Lost is closed when the stand-in is gone: it exited or was killed.
func (l *Link) Lost() <-chan struct{} {
	l.once.Do(func() {
		go func() {
			defer close(l.lost)
			var b [64]byte
			for {
				if _, err := l.conn.Read(b[:]); err != nil { // io.EOF: the stand-in's end closed
					return
				}
			}
		}()
	})
	return l.lost
}

// File is the link's end to hand to the next serving process
// (Spec.StandIn); it stays this process's too.
func (l *Link) File() *os.File { return l.f }
