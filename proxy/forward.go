package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// copyBufSize is the size of the buffers that copy response bodies.
const copyBufSize = 32 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// errCut marks a request cut by a drain or by Stop.
var errCut = errors.New("cut at drain timeout")

// exchange is one request's use of upstream connections. Its abort, run
// from a context callback (drain cut, client gone), closes the current
// upstream connection so any blocked read or write returns.
type exchange struct {
	mu      sync.Mutex
	conn    *upConn
	aborted bool
	cut     bool
}

func (e *exchange) setConn(c *upConn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.conn = c
	if e.aborted {
		c.Close()
		return false
	}
	return true
}

func (e *exchange) abort(cut bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.aborted = true
	e.cut = e.cut || cut
	if e.conn != nil {
		e.conn.Close()
	}
}

func (e *exchange) wasCut() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cut
}

// countingBody counts the bytes read from a request body, so a failed
// exchange on a stale keep-alive connection is retried only when no body
// byte was consumed.
type countingBody struct {
	io.ReadCloser
	n   int64
	err error // a read error of the client's body
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// outRequest builds the request sent upstream: the client's method, target,
// Host and end-to-end header fields, plus the forwarding fields.
func (p *Proxy) outRequest(r *http.Request, t *target, upgrade bool) *http.Request {
	h := make(http.Header, len(r.Header)+5)
	for k, v := range r.Header {
		h[k] = v
	}
	removeHopHeaders(h, upgrade)
	delete(h, "Expect") // the server answered 100-continue itself
	forwardHeaders(h, peerAddr(r.RemoteAddr), r.Host, p.port, p.trusted)
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // keep Request.Write from adding its own
	}
	out := &http.Request{
		Method:     r.Method,
		URL:        &url.URL{Host: t.addr, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery, ForceQuery: r.URL.ForceQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       r.Host,
	}
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		out.Body = &countingBody{ReadCloser: r.Body}
		out.ContentLength = r.ContentLength
		out.Trailer = r.Trailer
	}
	return out
}

// forward proxies one plain HTTP request to t.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, t *target) {
	out := p.outRequest(r, t, false)
	ex := &exchange{}
	stopCut := context.AfterFunc(t.httpCut, func() {
		t.nHTTPCut.Add(1)
		ex.abort(true)
		http.NewResponseController(w).SetWriteDeadline(time.Now())
	})
	defer func() {
		if !stopCut() {
			// The cut ran (or runs): the client connection carries a past
			// write deadline now and must not serve another request.
			panic(http.ErrAbortHandler)
		}
	}()
	stopGone := context.AfterFunc(r.Context(), func() { ex.abort(false) })
	defer stopGone()

	uc, resp, err := p.roundTrip(r.Context(), t, out, ex)
	if err != nil {
		p.upstreamError(w, r, t, out, ex, err)
		return
	}
	p.copyResponse(w, r, t, uc, resp, ex)
}

// roundTrip writes out on a pooled connection and reads the response head.
// A stale keep-alive connection (closed by the upstream while idle) is
// retried once on a fresh one when no byte of the body was consumed.
func (p *Proxy) roundTrip(ctx context.Context, t *target, out *http.Request, ex *exchange) (*upConn, *http.Response, error) {
	for attempt := 0; ; attempt++ {
		// A bodiless request is retried on a fresh connection instead.
		uc, reused, err := t.pool.get(ctx, out.Body != nil)
		if err != nil {
			return nil, nil, err
		}
		if !ex.setConn(uc) {
			return nil, nil, errCut
		}
		resp, err := exchangeOnce(uc, out)
		if err == nil {
			return uc, resp, nil
		}
		uc.Close()
		body, _ := out.Body.(*countingBody)
		if reused && attempt == 0 && (body == nil || body.n == 0) && retryable(err) {
			continue
		}
		return nil, nil, err
	}
}

// exchangeOnce writes the request and reads the response head, skipping
// informational answers other than 101.
func exchangeOnce(uc *upConn, out *http.Request) (*http.Response, error) {
	if err := out.Write(uc.bw); err != nil {
		return nil, err
	}
	if err := uc.bw.Flush(); err != nil {
		return nil, err
	}
	for {
		resp, err := http.ReadResponse(uc.br, out)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// retryable reports whether err looks like a keep-alive connection the
// upstream had already closed.
func retryable(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// upstreamError answers a request whose exchange failed before a response.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, t *target, out *http.Request, ex *exchange, err error) {
	if body, ok := out.Body.(*countingBody); ok && body.err != nil {
		p.log.Debug("client body failed", "color", t.color, "err", body.err)
		panic(http.ErrAbortHandler)
	}
	if ex.wasCut() {
		p.log.Warn("request cut", "color", t.color, "method", r.Method, "path", r.URL.Path)
		panic(http.ErrAbortHandler)
	}
	if r.Context().Err() != nil {
		return // the client is gone
	}
	p.log.Warn("upstream failed", "color", t.color, "addr", t.addr, "method", r.Method, "path", r.URL.Path, "err", err)
	p.fail(w, http.StatusBadGateway, fmt.Sprintf("app %q: upstream %s (%s) failed: %s", p.opts.App, t.color, t.addr, shortError(err)))
}

// copyResponse sends the upstream's response to the client, streaming the
// body; unknown-length bodies and event streams are flushed as they arrive.
func (p *Proxy) copyResponse(w http.ResponseWriter, r *http.Request, t *target, uc *upConn, resp *http.Response, ex *exchange) {
	dst := w.Header()
	for k, v := range resp.Header {
		dst[k] = v
	}
	removeHopHeaders(dst, false)
	for _, k := range []string{"Date", "Content-Type"} {
		if _, ok := dst[k]; !ok {
			dst[k] = nil // no header the upstream did not send (no sniffing)
		}
	}
	if len(resp.Trailer) > 0 {
		for k := range resp.Trailer {
			dst.Add("Trailer", k)
		}
	}
	w.WriteHeader(resp.StatusCode)

	flush := resp.ContentLength < 0 || isEventStream(resp.Header)
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var rerr error
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				uc.Close()
				if ex.wasCut() {
					p.log.Warn("request cut", "color", t.color, "method", r.Method, "path", r.URL.Path)
				}
				panic(http.ErrAbortHandler)
			}
			if flush {
				if ferr := http.NewResponseController(w).Flush(); ferr != nil {
					uc.Close()
					panic(http.ErrAbortHandler)
				}
			}
		}
		if err != nil {
			if err != io.EOF {
				rerr = err
			}
			break
		}
	}
	if rerr != nil {
		uc.Close()
		if ex.wasCut() {
			p.log.Warn("request cut", "color", t.color, "method", r.Method, "path", r.URL.Path)
		} else if r.Context().Err() == nil {
			p.log.Warn("upstream response broken", "color", t.color, "addr", t.addr, "err", rerr)
		}
		panic(http.ErrAbortHandler) // the client must see a truncated response
	}
	for k, v := range resp.Trailer {
		dst[http.TrailerPrefix+k] = v
	}
	if resp.Close || ex.wasCut() {
		uc.Close()
		return
	}
	ex.mu.Lock()
	aborted := ex.aborted
	ex.conn = nil
	ex.mu.Unlock()
	if aborted {
		uc.Close()
		return
	}
	t.pool.put(uc)
}

func isEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	return len(ct) >= 17 && (ct[:17] == "text/event-stream")
}

// shortError keeps the cause of a network error without Go's op chain.
func shortError(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed before a response"
	}
	return err.Error()
}
