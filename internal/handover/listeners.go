package handover

import (
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
)

// Listeners is the set of sockets a process listens on, each under a key
// (TCPKey, UnixKey). Listen takes a socket over from the old process when it
// handed one over under that key and opens a new one otherwise; Files hands
// every open one on to the next process. It is safe for concurrent use.
type Listeners struct {
	mu         sync.Mutex
	inherited  map[string]*os.File // handed over, not yet taken
	live       map[string]*tracked
	handedOver bool // MarkHandedOver was called
}

// NewListeners returns an empty set.
func NewListeners() *Listeners {
	return &Listeners{inherited: map[string]*os.File{}, live: map[string]*tracked{}}
}

// TCPKey is the key of a TCP listener on addr ("0.0.0.0:8000"), as the
// config names it.
func TCPKey(addr string) string { return "tcp:" + addr }

// UnixKey is the key of a unix socket listener at path.
func UnixKey(path string) string { return "unix:" + path }

// Listen returns the listener for key: the one the old process handed over,
// or else a new one from open. The listener leaves the set when it is
// closed.
func (l *Listeners) Listen(key string, open func() (net.Listener, error)) (net.Listener, error) {
	l.mu.Lock()
	f := l.inherited[key]
	delete(l.inherited, key)
	l.mu.Unlock()
	var ln net.Listener
	if f != nil {
		var err error
		ln, err = net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("take over %s from the old process: %w", key, err)
		}
		if ul, ok := ln.(*net.UnixListener); ok {
			// The socket file is this process's now: remove it when it closes.
			ul.SetUnlinkOnClose(true)
		}
	} else {
		var err error
		if ln, err = open(); err != nil {
			return nil, err
		}
	}
	t := &tracked{Listener: ln, set: l, key: key, inherited: f != nil}
	l.mu.Lock()
	l.live[key] = t
	l.mu.Unlock()
	return t, nil
}

// TakenOver reports whether ln was taken over from the old process.
func TakenOver(ln net.Listener) bool {
	t, ok := ln.(*tracked)
	return ok && t.inherited
}

// CloseUnclaimed closes the sockets handed over that nothing took (an app
// removed from the configs meanwhile) and returns their keys.
func (l *Listeners) CloseUnclaimed() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var keys []string
	for key, f := range l.inherited {
		f.Close()
		keys = append(keys, key)
	}
	clear(l.inherited)
	slices.Sort(keys)
	return keys
}

// Files returns a copy (dup) of every open listener's descriptor, by key, for
// the next process; the caller closes them once it started. The sockets
// stay open here.
func (l *Listeners) Files() (map[string]*os.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]*os.File, len(l.live))
	for key, t := range l.live {
		f, err := dupListener(t.Listener, key)
		if err != nil {
			for _, f := range out {
				f.Close()
			}
			return nil, fmt.Errorf("hand over %s: %w", key, err)
		}
		out[key] = f
	}
	return out, nil
}

// MarkHandedOver records that the next process serves on every listener
// now: closing a unix socket listener leaves its file, and each listener
// reports HandedOver, so that a server that stops on one knows that another
// process takes the new connections (the proxy then keeps its idle
// keep-alive connections for their next request, docs/upgrades.md).
func (l *Listeners) MarkHandedOver() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handedOver = true
	for _, t := range l.live {
		if ul, ok := t.Listener.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
		}
	}
}

// Keys returns the keys of the open listeners, sorted.
func (l *Listeners) Keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.live))
	for key := range l.live {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}

func (l *Listeners) forget(t *tracked) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.live[t.key] == t {
		delete(l.live, t.key)
	}
}

// tracked is a listener of the set; closing it takes it out.
type tracked struct {
	net.Listener
	set       *Listeners
	key       string
	inherited bool
}

// HandedOver reports whether the listener's socket was handed to the next
// process (MarkHandedOver).
func (t *tracked) HandedOver() bool {
	t.set.mu.Lock()
	defer t.set.mu.Unlock()
	return t.set.handedOver
}

func (t *tracked) Close() error {
	t.set.forget(t)
	return t.Listener.Close()
}

// dupListener copies ln's descriptor with dup (close-on-exec; os/exec clears that
// in the child). It goes through SyscallConn rather than File, whose
// descriptor os/exec would switch to blocking mode, which the socket shares
// with the listener still accepting here.
func dupListener(ln net.Listener, name string) (*os.File, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("a %T cannot be handed over", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nfd int
	var derr error
	if err := rc.Control(func(fd uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			derr = errno
			return
		}
		nfd = int(r)
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, fmt.Errorf("dup: %w", derr)
	}
	return os.NewFile(uintptr(nfd), name), nil
}
