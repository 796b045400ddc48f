package e2e

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// dockerRelay is a unix socket that forwards every connection to the real
// Docker daemon (the one DOCKER_HOST names, else /var/run/docker.sock). A
// serve whose DOCKER_HOST points at it loses Docker when the test cuts the
// relay (the socket file goes away and every relayed connection, the event
// stream included, is closed) and finds it again when the test restores it.
type dockerRelay struct {
	path             string
	network, address string // the daemon's

	mu   sync.Mutex
	ln   net.Listener
	open map[net.Conn]bool
}

func newDockerRelay(t *testing.T) *dockerRelay {
	t.Helper()
	r := &dockerRelay{path: filepath.Join(t.TempDir(), "docker.sock"), network: "unix", address: "/var/run/docker.sock",
		open: map[net.Conn]bool{}}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		scheme, addr, _ := strings.Cut(h, "://")
		if scheme != "unix" && scheme != "tcp" {
			t.Skipf("the soak relays Docker's socket: DOCKER_HOST %q is neither unix:// nor tcp://", h)
		}
		r.network, r.address = scheme, addr
	}
	if err := r.restore(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.cut)
	return r
}

// host is the DOCKER_HOST of a serve that goes through the relay.
func (r *dockerRelay) host() string { return "unix://" + r.path }

// restore listens again (a no-op while it listens).
func (r *dockerRelay) restore() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		return nil
	}
	ln, err := net.Listen("unix", r.path)
	if err != nil {
		return err
	}
	r.ln = ln
	go r.accept(ln)
	return nil
}

func (r *dockerRelay) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial(r.network, r.address)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		if r.ln != ln { // cut meanwhile
			r.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		r.open[c], r.open[up] = true, true
		r.mu.Unlock()
		go r.pipe(up, c)
		go r.pipe(c, up)
	}
}

// pipe copies from src to dst, then closes both and forgets them.
func (r *dockerRelay) pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	r.mu.Lock()
	delete(r.open, dst)
	delete(r.open, src)
	r.mu.Unlock()
}

// cut closes the socket (its file goes with it) and every relayed
// connection: for serve, Docker is unreachable.
func (r *dockerRelay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for c := range r.open {
		c.Close()
	}
	clear(r.open)
}
