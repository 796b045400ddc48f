package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Memory per connection: many client connections on the first app's proxy,
// the supervisor's resident memory before and after (after they sat idle a
// moment), divided by their number.

// settleConns is how long connections sit idle before the memory is read.
const settleConns = 5 * time.Second

// openMany opens n connections to the proxy on port with open, 16 at a time.
func openMany(ctx context.Context, n, port int, open func(net.Conn) error) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
				if err == nil {
					c.SetDeadline(time.Now().Add(30 * time.Second))
					err = open(c)
					c.SetDeadline(time.Time{})
				}
				if err != nil {
					if c != nil {
						c.Close()
					}
					select {
					case errs <- err:
					default:
					}
					continue
				}
				conns[i] = c
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		closeAll(conns)
		return nil, err
	default:
	}
	return conns, ctx.Err()
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// getOnce sends one GET on c and reads its answer, leaving c open.
func getOnce(c net.Conn) error {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: scalebench\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET /: %s", resp.Status)
	}
	return nil
}

// wsOnce makes c a WebSocket to the test app's echo and sends and reads
// one message.
func wsOnce(c net.Conn) error {
	if _, err := io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: scalebench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"); err != nil {
		return err
	}
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("WebSocket handshake: %s", resp.Status)
	}
	// A masked text frame "hello"; the echo comes back unmasked.
	msg := []byte("hello")
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(msg)), mask[0], mask[1], mask[2], mask[3]}
	for i, ch := range msg {
		frame = append(frame, ch^mask[i%4])
	}
	if _, err := c.Write(frame); err != nil {
		return err
	}
	head := make([]byte, 2+len(msg))
	if _, err := io.ReadFull(br, head); err != nil {
		return err
	}
	if head[0] != 0x81 || int(head[1]) != len(msg) || string(head[2:]) != "hello" {
		return errors.New("WebSocket echo: unexpected frame")
	}
	return nil
}

// measureIdleConns opens the idle keep-alive connections, reads the memory
// and what connections.http says, and closes them.
func (b *bench) measureIdleConns(ctx context.Context) error {
	a := b.apps[0]
	pid := b.serve.Process.Pid
	before := rssKiB(pid)
	conns, err := openMany(ctx, b.c.conns, a.proxy, getOnce)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	if err := sleep(ctx, settleConns); err != nil {
		return err
	}
	after := rssKiB(pid)
	b.res.connsKiB = float64(after-before) / float64(len(conns))
	var st appStatus
	if _, err := b.getJSON(ctx, "/api/apps/"+a.name+"/status", &st); err != nil {
		return err
	}
	for _, c := range st.Connections {
		b.res.connsCounted += c.HTTP
	}
	closeAll(conns)
	return sleep(ctx, 2*time.Second)
}

// measureWebSockets opens the WebSockets and reads the memory; they stay
// open for measureAfterBurst.
func (b *bench) measureWebSockets(ctx context.Context) error {
	a := b.apps[0]
	pid := b.serve.Process.Pid
	before := rssKiB(pid)
	conns, err := openMany(ctx, b.c.ws, a.proxy, wsOnce)
	if err != nil {
		return err
	}
	b.wsConns = conns
	if err := sleep(ctx, settleConns); err != nil {
		return err
	}
	after := rssKiB(pid)
	b.res.wsKiB = float64(after-before) / float64(len(conns))
	var st appStatus
	if _, err := b.getJSON(ctx, "/api/apps/"+a.name+"/status", &st); err != nil {
		return err
	}
	for _, c := range st.Connections {
		b.res.wsCounted += c.WebSocket
	}
	return nil
}

// measureAfterBurst closes the WebSockets and follows the supervisor's
// resident memory for 30 seconds.
func (b *bench) measureAfterBurst(ctx context.Context) error {
	pid := b.serve.Process.Pid
	b.res.burstPeak = rssKiB(pid)
	closeAll(b.wsConns)
	b.wsConns = nil
	start := time.Now()
	for _, at := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second} {
		if err := sleep(ctx, time.Until(start.Add(at))); err != nil {
			return err
		}
		b.res.afterBurst = append(b.res.afterBurst, rssSample{at: at, kib: rssKiB(pid)})
	}
	return nil
}
