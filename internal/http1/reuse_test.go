package http1

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns a connection dialed to a listener on 127.0.0.1 and the
// accepted end.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// aliveWithin reports what l.Alive says once it says want, or after a
// second (the peer's bytes or close take a moment to arrive).
func aliveWithin(l *Liveness, want bool) bool {
	deadline := time.Now().Add(time.Second)
	for {
		got := l.Alive()
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLiveness_Alive(t *testing.T) {
	t.Run("open and quiet", func(t *testing.T) {
		c, _ := tcpPair(t)
		var l Liveness
		l.Watch(c)
		if !l.Alive() || !l.Alive() {
			t.Fatal("an open, quiet connection is not alive")
		}
	})
	t.Run("bytes no request asked for", func(t *testing.T) {
		c, s := tcpPair(t)
		var l Liveness
		l.Watch(c)
		s.Write([]byte("HTTP/1.1 200 OK\r\n"))
		if aliveWithin(&l, false) {
			t.Fatal("a connection with unread bytes is alive")
		}
		b := make([]byte, 64) // the peek took nothing
		if n, _ := c.Read(b); string(b[:n]) != "HTTP/1.1 200 OK\r\n" {
			t.Fatalf("read %q after the peek", b[:n])
		}
	})
	t.Run("closed by the peer", func(t *testing.T) {
		c, s := tcpPair(t)
		var l Liveness
		l.Watch(c)
		s.Close()
		if aliveWithin(&l, false) {
			t.Fatal("a connection the peer closed is alive")
		}
	})
	t.Run("closed here", func(t *testing.T) {
		c, _ := tcpPair(t)
		var l Liveness
		l.Watch(c)
		c.Close()
		if l.Alive() {
			t.Fatal("a closed connection is alive")
		}
	})
	t.Run("not a socket", func(t *testing.T) {
		c, s := net.Pipe()
		defer c.Close()
		defer s.Close()
		var l Liveness
		l.Watch(c)
		if l.Alive() {
			t.Fatal("a pipe is alive")
		}
	})
	t.Run("watch a new connection", func(t *testing.T) {
		c1, s1 := tcpPair(t)
		c2, _ := tcpPair(t)
		var l Liveness
		l.Watch(c1)
		s1.Close()
		if aliveWithin(&l, false) {
			t.Fatal("a connection the peer closed is alive")
		}
		l.Watch(c2)
		if !l.Alive() {
			t.Fatal("the new connection is not alive")
		}
	})
}

func TestLiveness_Alive_allocs(t *testing.T) {
	c, _ := tcpPair(t)
	var l Liveness
	l.Watch(c)
	if n := testing.AllocsPerRun(100, func() { l.Alive() }); n != 0 {
		t.Fatalf("%v allocations per check", n)
	}
}

func TestResendable(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "OPTIONS"} {
		if !Resendable(m) || !Resendable([]byte(m)) {
			t.Errorf("%s is not resendable", m)
		}
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "get", ""} {
		if Resendable(m) || Resendable([]byte(m)) {
			t.Errorf("%q is resendable", m)
		}
	}
}

func TestConnectionLost(t *testing.T) {
	for _, err := range []error{io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.EPIPE,
		&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, fmt.Errorf("read: %w", io.EOF)} {
		if !ConnectionLost(err) {
			t.Errorf("%v: not a lost connection", err)
		}
	}
	for _, err := range []error{nil, errors.New("malformed HTTP response"), syscall.ECONNREFUSED, ErrMalformedAnswer} {
		if ConnectionLost(err) {
			t.Errorf("%v: a lost connection", err)
		}
	}
}
