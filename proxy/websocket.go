package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// WebSocket proxying is raw: after the upstream answers 101 the proxy copies
// bytes both ways, so subprotocols, extensions (compression) and the
// handshake reach each side exactly as the other sent them. Only the
// upstream→client direction is parsed, for frame boundaries alone, so that
// at a drain cutoff the proxy can put its own close frame between two frames.
const (
	// closeGrace is how long a cutoff waits for the upstream to finish a
	// frame it is in the middle of before the close frame can be sent.
	closeGrace = 500 * time.Millisecond
	// closeLinger is how long the proxy keeps the client connection after
	// its close frame, for the client's close answer, before the TCP close.
	closeLinger = time.Second
)

// closeGoingAway is a close frame (FIN, opcode 8) with status 1001.
var closeGoingAway = func() []byte {
	reason := "bluegreen: going away"
	f := []byte{0x88, byte(2 + len(reason)), 0x03, 0xe9}
	return append(f, reason...)
}()

// upgrade serves a WebSocket handshake (a request without a body) and,
// when the upstream switches protocols, the WebSocket; it returns whether
// an answer was written whole and the connection may be read on.
func (cc *clientConn) upgrade(t *target) bool {
	p := cc.p
	uc, answered := cc.handshake(t)
	if !cc.end(t) || uc == nil {
		if uc != nil {
			uc.Close()
			t.doneWS()
		}
		return answered && uc == nil
	}
	// From here on the connection is a WebSocket, not a request: it
	// keeps no head, no reader and no writer. What either side sent
	// beyond the handshake is copied out of the readers first; its access
	// log record is kept until it ends.
	cc.keepWebSocketRecord()
	fromClient, fromUp := takeBuffered(cc.br), takeBuffered(uc.br)
	uc.br, uc.bw = nil, nil
	cc.releaseScratch()
	cc.dropReader()
	in, out := p.pipeWebSocket(t, cc.nc, fromClient, uc, fromUp)
	uc.Close()
	t.doneWS()
	cc.logWebSocket(in, out)
	return false
}

// handshake proxies a WebSocket handshake on a fresh upstream connection.
// When the upstream answers 101 it counts a WebSocket on t and returns the
// upstream connection; a refused upgrade is passed to the client as an
// ordinary answer, which ends the connection, and a failed one gets 502
// (nil, and answered says whether the client got an answer whole).
func (cc *clientConn) handshake(t *target) (uc *upConn, answered bool) {
	rq, rs := &cc.req, &cc.resp
	uc, err := t.pool.dial(t.httpCut)
	if err != nil {
		if cc.outageHolds(err) {
			return nil, false
		}
		return nil, cc.upstreamFailed(t, err)
	}
	cc.attach(uc)
	if !cc.setCur(uc) {
		return nil, false
	}
	cc.writeRequestHead(uc.bw, true)
	cc.sending(uc)
	err = uc.bw.Flush()
	cc.signalDispatched()
	if err == nil {
		_, err = readResponseHead(rs, uc.br)
	}
	if err == nil && rs.TEOther {
		err = errBadResponse
	}
	if err != nil {
		uc.Close()
		if isTimeout(err) && !cc.wasCut() {
			return nil, cc.gatewayTimeout(t)
		}
		return nil, cc.upstreamFailed(t, err)
	}
	cc.noteAnswered()
	uc.unbound() // neither a refused upgrade's body nor the WebSocket is bounded
	if rs.Status() != 101 {
		defer uc.Close()
		body := rs.HasBody(rq.IsHEAD())
		chunked, length := rs.Chunked, rs.ContentLength
		cc.writeResponseHead(rs, body, true)
		rerr, werr := cc.copyAnswer(uc.br, body, chunked, length)
		if werr == nil && rerr == nil {
			werr = cc.bw.Flush()
		}
		return nil, rerr == nil && werr == nil
	}
	cc.writeSwitchingHead(rs)
	if cc.bw.Flush() != nil {
		uc.Close()
		return nil, false
	}
	cc.pc.noDeadlines()
	t.wsN.Add(1)
	return uc, true
}

// pipeWebSocket copies an upgraded connection's bytes both ways until
// either side ends, or until t's WebSocket cutoff closes it with 1001, and
// returns how many bytes came from the client and went to it. fromClient
// and fromUp are what each side sent beyond the handshake (nil when
// nothing), in pooled buffers the copiers give back.
func (p *Proxy) pipeWebSocket(t *target, client net.Conn, fromClient *pending, uc *upConn, fromUp *pending) (in, out int64) {
	ws := &wsConn{client: client, up: uc}
	stopWS := context.AfterFunc(t.wsCut, func() {
		t.nWSClosed.Add(1)
		ws.cutoff()
	})
	defer stopWS()

	var wg sync.WaitGroup
	wg.Go(func() {
		// client → upstream
		ws.copyToUpstream(newRelayReader(client, fromClient))
	})
	ws.copyToClient(newRelayReader(uc.Conn, fromUp))
	wg.Wait()
	return ws.in, ws.out
}

// wsConn is one proxied WebSocket.
type wsConn struct {
	client net.Conn
	up     net.Conn

	mu  sync.Mutex
	cut bool

	in  int64 // bytes from the client (copyToUpstream's)
	out int64 // bytes to the client (copyToClient's, the 1001 close frame included)
}

// cutoff asks the upstream→client copier to close the WebSocket at the next
// frame boundary: its blocked read returns now.
func (c *wsConn) cutoff() {
	c.mu.Lock()
	c.cut = true
	c.mu.Unlock()
	c.up.SetReadDeadline(time.Now())
	c.client.SetWriteDeadline(time.Now().Add(closeGrace + closeLinger))
}

func (c *wsConn) isCut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cut
}

// copyToUpstream copies client bytes to the upstream until either side
// ends; then it ends the upstream side so the other copier returns too.
func (c *wsConn) copyToUpstream(src *relayReader) {
	defer src.close()
	for {
		buf, err := src.next()
		if len(buf) > 0 {
			c.in += int64(len(buf))
			_, werr := c.up.Write(buf)
			src.done()
			if werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if !c.isCut() {
		c.up.Close()
	}
}

// copyToClient copies upstream frames to the client until the upstream
// ends, the client fails, or a cutoff, which sends 1001 between frames.
func (c *wsConn) copyToClient(src *relayReader) {
	defer src.close()
	var fs frameScanner
	grace := false
	for {
		chunk, err := src.next()
		if len(chunk) > 0 {
			if c.isCut() {
				chunk = chunk[:fs.scan(chunk, true)]
			} else {
				fs.scan(chunk, false)
			}
			n, werr := c.client.Write(chunk)
			c.out += int64(n)
			src.done()
			if werr != nil {
				c.up.Close()
				return
			}
			if c.isCut() && fs.atBoundary() {
				c.goAway()
				return
			}
		}
		if err == nil {
			continue
		}
		if c.isCut() && errors.Is(err, os.ErrDeadlineExceeded) {
			if fs.atBoundary() {
				c.goAway()
				return
			}
			if !grace {
				grace = true
				c.up.SetReadDeadline(time.Now().Add(closeGrace))
				continue
			}
		}
		// The upstream ended (or a cut frame never finished): close both.
		c.up.Close()
		c.client.Close()
		return
	}
}

// goAway sends the client a 1001 close frame, closes the upstream, and
// gives the client a moment to answer before the TCP close.
func (c *wsConn) goAway() {
	c.up.Close()
	c.client.SetWriteDeadline(time.Now().Add(closeLinger))
	n, err := c.client.Write(closeGoingAway)
	c.out += int64(n)
	if err == nil {
		if tc, ok := c.client.(interface{ CloseWrite() error }); ok {
			tc.CloseWrite()
		}
		// copyToUpstream keeps reading (and discarding into the closed
		// upstream) until the client closes or the linger ends.
		c.client.SetReadDeadline(time.Now().Add(closeLinger))
		return
	}
	c.client.Close()
}

// frameScanner follows WebSocket frame boundaries (RFC 6455 §5.2) in a byte
// stream without keeping payloads.
type frameScanner struct {
	hdr    [14]byte
	hn     int   // header bytes seen of the frame being read; 0 between frames
	need   int   // header length once known
	remain int64 // payload bytes left of the current frame
}

// atBoundary reports whether the stream is between two frames.
func (s *frameScanner) atBoundary() bool { return s.hn == 0 && s.remain == 0 }

// scan consumes p and returns how many bytes it used; with stop it stops at
// the first frame boundary (0 when already at one).
func (s *frameScanner) scan(p []byte, stop bool) int {
	i := 0
	for i < len(p) {
		if stop && s.atBoundary() {
			return i
		}
		if s.remain > 0 {
			n := min(int64(len(p)-i), s.remain)
			i += int(n)
			s.remain -= n
			continue
		}
		s.hdr[s.hn] = p[i]
		s.hn++
		i++
		if s.hn == 2 {
			s.need = 2
			switch s.hdr[1] & 0x7f {
			case 126:
				s.need += 2
			case 127:
				s.need += 8
			}
			if s.hdr[1]&0x80 != 0 {
				s.need += 4
			}
		}
		if s.hn >= 2 && s.hn == s.need {
			switch l := s.hdr[1] & 0x7f; l {
			case 126:
				s.remain = int64(binary.BigEndian.Uint16(s.hdr[2:4]))
			case 127:
				s.remain = int64(binary.BigEndian.Uint64(s.hdr[2:10]) & (1<<63 - 1))
			default:
				s.remain = int64(l)
			}
			s.hn = 0
		}
	}
	return i
}
