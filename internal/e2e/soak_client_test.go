package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

// The causes that are compared, not only printed.
const (
	causeBadImage  = "answer of the bad image"
	causeGoingAway = "WebSocket closed 1001"
)

// goodVersions are the versions of the good images (imgV1, imgV2), and
// badVersion the bad one's (imgSick): the test app answers its version in
// X-App-Version and in the body of GET /.
var goodVersions = map[string]bool{"v1": true, "v2": true}

const badVersion = "sick"

// exchange sends one request of kind o and checks its answer.
func (c *rawClient) exchange(o op, id string, rng *rand.Rand) (failure, bool) {
	req, sent := newLoadRequest(c.addr, o, id, rng)
	resp, body, err := c.do(req)
	switch {
	case errors.Is(err, errExtraBytes):
		return failure{class: classWrong, cause: errCause(err), detail: err.Error()}, false
	case err != nil:
		return failure{class: classOutage, cause: errCause(err), detail: err.Error()}, false
	}
	version := resp.Header.Get("X-App-Version")
	text := strings.TrimSpace(string(body))
	switch {
	case version == badVersion || text == badVersion:
		return failure{class: classWrong, cause: causeBadImage, detail: fmt.Sprintf("%d, X-App-Version %q, body %.200q", resp.StatusCode, version, text)}, false
	case resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable:
		return failure{class: classOutage, cause: fmt.Sprintf("status %d", resp.StatusCode), detail: text}, false
	case resp.StatusCode != http.StatusOK:
		return failure{class: classWrong, cause: fmt.Sprintf("status %d", resp.StatusCode), detail: text}, false
	case !goodVersions[version]:
		return failure{class: classWrong, cause: "unknown version", detail: fmt.Sprintf("X-App-Version %q, body %.200q", version, text)}, false
	}
	if why := wrongBody(o, id, version, body, sent); why != "" {
		c.close() // the connection may be out of step with its requests
		return failure{class: classWrong, cause: "wrong body", detail: why}, false
	}
	return failure{}, true
}

// wrongBody says why the 200 answer to a request of kind o is not its own
// ("" when it is).
func wrongBody(o op, id, version string, body, sent []byte) string {
	switch o {
	case opGet:
		if got := strings.TrimSpace(string(body)); got != version {
			return fmt.Sprintf("GET / answered %.200q with X-App-Version %q", got, version)
		}
	case opHeaders:
		var h struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal(body, &h); err != nil || h.URL != "/headers?id="+id {
			return fmt.Sprintf("GET /headers?id=%s answered %.200q", id, body)
		}
	default:
		var u struct {
			Bytes  int    `json:"bytes"`
			SHA256 string `json:"sha256"`
		}
		sum := sha256.Sum256(sent)
		if err := json.Unmarshal(body, &u); err != nil || u.Bytes != len(sent) || u.SHA256 != hex.EncodeToString(sum[:]) {
			return fmt.Sprintf("POST /upload of %d bytes answered %.200q", len(sent), body)
		}
	}
	return ""
}

// smuggled is the body, now and then, of a POST: a whole request. A proxy
// that reads a body as the next request answers it too, and the answers
// that follow no longer match their requests.
const smuggled = "GET /headers?id=smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

// newLoadRequest returns the request of kind o and the body it sends.
func newLoadRequest(addr string, o op, id string, rng *rand.Rand) (*http.Request, []byte) {
	switch o {
	case opGet:
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		return req, nil
	case opHeaders:
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/headers?id="+id, nil)
		return req, nil
	}
	body := []byte(smuggled)
	if rng.IntN(6) != 0 {
		body = make([]byte, 1+rng.IntN(maxBody))
		for i := range body {
			body[i] = byte(rng.Uint32())
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/upload", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	if o == opPostChunked {
		req.ContentLength, req.TransferEncoding = -1, []string{"chunked"}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	return req, body
}

// rawClient is one keep-alive connection at a time to addr.
type rawClient struct {
	addr string
	okAt time.Time // when the connection was last known to work: opened, or an answer read
	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
}

var errExtraBytes = errors.New("bytes after the answer that no request asked for")

// do sends req and reads its answer. When the write failed it still reads:
// the proxy may have answered before it took the body.
func (c *rawClient) do(req *http.Request) (*http.Response, []byte, error) {
	if c.nc == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return nil, nil, err
		}
		c.nc, c.br, c.bw = nc, bufio.NewReaderSize(nc, 16<<10), bufio.NewWriterSize(nc, 16<<10)
		c.okAt = time.Now()
	}
	c.nc.SetDeadline(time.Now().Add(requestTimeout))
	werr := req.Write(c.bw)
	if werr == nil {
		werr = c.bw.Flush()
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		c.close()
		if werr != nil {
			err = fmt.Errorf("write: %w; read: %w", werr, err)
		}
		return nil, nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	switch {
	case err != nil:
		c.close()
		return nil, nil, fmt.Errorf("body of a %d: %w", resp.StatusCode, err)
	case resp.Close || werr != nil:
		c.close()
	case c.br.Buffered() > 0:
		extra, _ := c.br.Peek(min(c.br.Buffered(), 200))
		c.close()
		return resp, body, fmt.Errorf("%w: %q", errExtraBytes, extra)
	}
	c.okAt = time.Now()
	return resp, body, nil
}

func (c *rawClient) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

// errCause is the short cause of a transport error.
func errCause(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errExtraBytes):
		return "answer nobody asked for"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}
