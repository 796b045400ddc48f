package proxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// wsFrame is an unmasked binary frame with payload p.
func wsFrame(p []byte) []byte {
	f := []byte{0x82}
	switch {
	case len(p) <= 125:
		f = append(f, byte(len(p)))
	case len(p) <= 0xffff:
		f = append(f, 126, 0, 0)
		binary.BigEndian.PutUint16(f[2:], uint16(len(p)))
	default:
		f = append(f, 127, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(f[2:], uint64(len(p)))
	}
	return append(f, p...)
}

// TestProxy_relay checks the WebSocket relay byte for byte: bytes each
// side sent with the handshake, then frames of very different sizes, so
// that the pooled buffers change class both ways.
func TestProxy_relay(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		c.Write(wsFrame([]byte("early")))
		io.Copy(c, br) // echo, with what came with the handshake
	}()
	p := startProxy(t, Options{})
	p.SetTarget("blue", ln.Addr().String())

	c := dialProxy(t, p)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hs := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write(append([]byte(hs), wsFrame([]byte("first"))...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v, %v", resp, err)
	}
	expect := func(want []byte) {
		t.Helper()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatalf("read %d bytes: %v", len(want), err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes that differ from the %d sent", len(got), len(want))
		}
	}
	expect(wsFrame([]byte("early")))
	expect(wsFrame([]byte("first")))
	for i, n := range []int{1, 40 << 10, 3, 100 << 10, 10, 70 << 10, 2, 300 << 10, 5} {
		payload := make([]byte, n)
		for j := range payload {
			payload[j] = byte(i + j)
		}
		f := wsFrame(payload)
		go c.Write(f) // big frames fill the socket buffers both ways
		expect(f)
	}
	waitFor(t, 5*time.Second, "one open websocket", func() bool { return p.Connections()["blue"].WebSocket == 1 })
}
