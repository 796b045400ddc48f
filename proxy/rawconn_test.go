package proxy

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/internal/http1"
)

// rawPair returns a rawConn dialed to a listener on 127.0.0.1 and the
// accepted end.
func rawPair(t *testing.T) (*rawConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); peer.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	peer.SetDeadline(time.Now().Add(10 * time.Second))
	return newRawConn(c).(*rawConn), peer
}

func TestRawConn_deferWrite(t *testing.T) {
	t.Run("the read sends the bytes, then reads the answer", func(t *testing.T) {
		c, peer := rawPair(t)
		c.deferWrite()
		if n, err := c.Write([]byte("request")); n != 7 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		go func() {
			b := make([]byte, 7)
			io.ReadFull(peer, b)
			peer.Write(append([]byte("answer to "), b...))
		}()
		got, err := io.ReadAll(io.LimitReader(c, 17))
		if err != nil || string(got) != "answer to request" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
	t.Run("bytes before the request: nothing is sent", func(t *testing.T) {
		c, peer := rawPair(t)
		peer.Write([]byte("stale"))
		waitFor(t, 5*time.Second, "the stale bytes to arrive", func() bool { return readable(c) })
		c.deferWrite()
		c.Write([]byte("request"))
		if _, err := c.Read(make([]byte, 64)); err != errStale {
			t.Fatalf("Read: %v, want errStale", err)
		}
		c.Close()
		if got, _ := io.ReadAll(peer); len(got) != 0 {
			t.Fatalf("the peer got %q", got)
		}
	})
	t.Run("closed before the request: nothing is sent", func(t *testing.T) {
		c, peer := rawPair(t)
		peer.Close()
		c.deferWrite()
		c.Write([]byte("request"))
		// The close (FIN) may take a moment to arrive: until it does the
		// request goes out and the read sees the end as an answer's.
		_, err := c.Read(make([]byte, 64))
		if err != errStale && err != io.EOF {
			t.Fatalf("Read: %v, want errStale or EOF", err)
		}
	})
	t.Run("more than the socket takes at once", func(t *testing.T) {
		c, peer := rawPair(t)
		c.Conn.(*net.TCPConn).SetWriteBuffer(4096)
		big := bytes.Repeat([]byte("x"), 1<<20)
		c.deferWrite()
		c.Write(big)
		go func() {
			n, _ := io.CopyN(io.Discard, peer, int64(len(big)))
			if n == int64(len(big)) {
				peer.Write([]byte("done"))
			}
		}()
		got, err := io.ReadAll(io.LimitReader(c, 4))
		if err != nil || string(got) != "done" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
}

// readable reports whether c has bytes to read, without reading them.
func readable(c *rawConn) bool {
	var l http1.Liveness
	l.Watch(c)
	return !l.Alive()
}
