package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/bluegreen/bluegreen/deploy"
)

// Client talks to the management API; `bluegreen ctl` is built on it.
type Client struct {
	addr string       // as the user gave it, for messages
	base string       // http://host:port or http://localhost for a unix socket
	http *http.Client // no overall timeout: wait and follow calls run long
}

// NewClient returns a client of the API at addr: "127.0.0.1:7070",
// "localhost:7070", "[::1]:7070" or "unix:/path/to.sock". An "http://"
// prefix is accepted.
func NewClient(addr string) *Client {
	c := &Client{addr: addr}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 0,
		DisableCompression:    true,
	}
	if path, ok := strings.CutPrefix(addr, unixPrefix); ok {
		c.base = "http://localhost"
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", path)
		}
	} else {
		host := strings.TrimSuffix(strings.TrimPrefix(addr, "http://"), "/")
		c.addr = host
		c.base = "http://" + host
	}
	c.http = &http.Client{Transport: tr}
	return c
}

// Addr returns the address the client talks to, as given.
func (c *Client) Addr() string { return c.addr }

// Deploy sets an app's desired image and starts (or queues) a deployment.
func (c *Client) Deploy(ctx context.Context, app string, req deploy.Request) (deploy.Response, error) {
	var resp deploy.Response
	err := c.do(ctx, http.MethodPost, "/api/apps/"+url.PathEscape(app)+"/deploy", nil, req, &resp)
	return resp, err
}

// DeployWait deploys and blocks until the deployment ends (?wait=true).
func (c *Client) DeployWait(ctx context.Context, app string, req deploy.Request) (deploy.Deployment, error) {
	var d deploy.Deployment
	err := c.do(ctx, http.MethodPost, "/api/apps/"+url.PathEscape(app)+"/deploy", url.Values{"wait": {"true"}}, req, &d)
	return d, err
}

// Rollback deploys the image of the last completed deployment before the current one.
func (c *Client) Rollback(ctx context.Context, app string) (deploy.Response, error) {
	var resp deploy.Response
	err := c.do(ctx, http.MethodPost, "/api/apps/"+url.PathEscape(app)+"/rollback", nil, nil, &resp)
	return resp, err
}

// Promote skips the remaining canary steps and verification window of app's
// deployment (POST /api/apps/{name}/promote) and returns the app's status.
func (c *Client) Promote(ctx context.Context, app string) (deploy.AppStatus, error) {
	var st deploy.AppStatus
	err := c.do(ctx, http.MethodPost, "/api/apps/"+url.PathEscape(app)+"/promote", nil, nil, &st)
	return st, err
}

// Switch moves an app's traffic to color.
func (c *Client) Switch(ctx context.Context, app string, color deploy.Color) (deploy.AppStatus, error) {
	var st deploy.AppStatus
	err := c.do(ctx, http.MethodPost, "/api/apps/"+url.PathEscape(app)+"/switch", nil, SwitchRequest{Color: string(color)}, &st)
	return st, err
}

// Apps returns the status of every app.
func (c *Client) Apps(ctx context.Context) ([]deploy.AppStatus, error) {
	var apps []deploy.AppStatus
	err := c.do(ctx, http.MethodGet, "/api/apps", nil, nil, &apps)
	return apps, err
}

// App returns one app's status.
func (c *Client) App(ctx context.Context, name string) (deploy.AppStatus, error) {
	var st deploy.AppStatus
	err := c.do(ctx, http.MethodGet, "/api/apps/"+url.PathEscape(name)+"/status", nil, nil, &st)
	return st, err
}

// History returns an app's deployments, newest first.
func (c *Client) History(ctx context.Context, app string, limit, offset int) ([]deploy.Deployment, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	var ds []deploy.Deployment
	err := c.do(ctx, http.MethodGet, "/api/apps/"+url.PathEscape(app)+"/history", q, nil, &ds)
	return ds, err
}

// Deployment returns one deployment with its phases.
func (c *Client) Deployment(ctx context.Context, id int64) (deploy.Deployment, error) {
	var d deploy.Deployment
	err := c.do(ctx, http.MethodGet, "/api/deployments/"+strconv.FormatInt(id, 10), nil, nil, &d)
	return d, err
}

// Health returns recent health checks per color.
func (c *Client) Health(ctx context.Context, app string, limit int) (map[deploy.Color]deploy.ColorHealth, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var h map[deploy.Color]deploy.ColorHealth
	err := c.do(ctx, http.MethodGet, "/api/apps/"+url.PathEscape(app)+"/health", q, nil, &h)
	return h, err
}

// Images returns the app's images that bluegreen keeps, newest first.
func (c *Client) Images(ctx context.Context, app string) ([]deploy.Image, error) {
	var images []deploy.Image
	err := c.do(ctx, http.MethodGet, "/api/apps/"+url.PathEscape(app)+"/images", nil, nil, &images)
	return images, err
}

// Events returns audit trail entries with id > afterID, oldest first (app "" = all).
func (c *Client) Events(ctx context.Context, app string, afterID int64, limit int) ([]deploy.Event, error) {
	q := url.Values{}
	if app != "" {
		q.Set("app", app)
	}
	if afterID > 0 {
		q.Set("after_id", strconv.FormatInt(afterID, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var evs []deploy.Event
	err := c.do(ctx, http.MethodGet, "/api/events", q, nil, &evs)
	return evs, err
}

// Reload asks the supervisor to re-read the app configs.
func (c *Client) Reload(ctx context.Context) (deploy.ReloadResult, error) {
	var res deploy.ReloadResult
	err := c.do(ctx, http.MethodPost, "/api/reload", nil, nil, &res)
	return res, err
}

// Overall returns the supervisor's health summary (GET /health).
func (c *Client) Overall(ctx context.Context) (deploy.Overall, error) {
	var h deploy.Overall
	req, err := c.newRequest(ctx, http.MethodGet, "/health", nil, nil)
	if err != nil {
		return h, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return h, c.connErr(err)
	}
	defer resp.Body.Close()
	// 503 still carries the summary.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return h, readError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return h, fmt.Errorf("decode health: %w", err)
	}
	return h, nil
}

// Metrics returns the Prometheus text of GET /metrics.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	var buf bytes.Buffer
	if err := c.stream(ctx, "/metrics", nil, &buf); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// Logs copies the active container's logs of app to w; with follow it
// streams until ctx is done or the container stops. tail < 0 uses the server default.
func (c *Client) Logs(ctx context.Context, app string, tail int, follow bool, w io.Writer) error {
	q := url.Values{}
	if tail >= 0 {
		q.Set("tail", strconv.Itoa(tail))
	}
	if follow {
		q.Set("follow", "true")
	}
	return c.stream(ctx, "/api/apps/"+url.PathEscape(app)+"/logs", q, w)
}

// StreamEvents opens the live event stream (app "" = all apps). Events
// arrive on the first channel; when the stream ends, the error (nil after
// ctx is done) is sent on the second and both channels close. The stream is
// open when StreamEvents returns without error: events after that are seen.
func (c *Client) StreamEvents(ctx context.Context, app string) (<-chan deploy.Event, <-chan error, error) {
	u := "ws" + strings.TrimPrefix(c.base, "http") + "/api/events/stream"
	if app != "" {
		u += "?app=" + url.QueryEscape(app)
	}
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			return nil, nil, fmt.Errorf("open event stream: %w", readError(resp))
		}
		return nil, nil, c.connErr(err)
	}
	conn.SetReadLimit(MaxBodyBytes)
	events := make(chan deploy.Event)
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		defer close(events)
		defer conn.CloseNow()
		for {
			_, msg, err := conn.Read(ctx)
			if err != nil {
				if ctx.Err() != nil {
					errc <- nil
				} else if websocket.CloseStatus(err) == websocket.StatusGoingAway || websocket.CloseStatus(err) == websocket.StatusNormalClosure {
					errc <- errors.New("event stream closed by the server")
				} else {
					errc <- fmt.Errorf("event stream: %w", err)
				}
				return
			}
			var ev deploy.Event
			if err := json.Unmarshal(msg, &ev); err != nil {
				errc <- fmt.Errorf("decode event: %w", err)
				return
			}
			select {
			case events <- ev:
			case <-ctx.Done():
				errc <- nil
				return
			}
		}
	}()
	return events, errc, nil
}

// do sends a JSON request and decodes a JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		buf, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(buf)
	}
	resp, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// stream copies a GET answer's body to w.
func (c *Client) stream(ctx context.Context, path string, q url.Values, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// send makes a request; an answer of 300 or more becomes the server's error.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Response, error) {
	req, err := c.newRequest(ctx, method, path, q, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.connErr(err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Request, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// connErr turns a transport error into the message the user should see.
func (c *Client) connErr(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &ConnError{Addr: c.addr, Err: err}
}

// ConnError reports that the API could not be reached.
type ConnError struct {
	Addr string
	Err  error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("cannot reach bluegreen at %s: is \"bluegreen serve\" running?", e.Addr)
}

// Unwrap returns the transport error.
func (e *ConnError) Unwrap() error { return e.Err }

// ResponseError is an error answer of the API as the Client returns it: the
// domain error rebuilt from the body (code, message, details), so that
// deploy.ErrorCode and errors.As with a *deploy.Error work on what a client
// gets back as they do on the server's side, and the answer's HTTP status
// beside it (HTTPStatus).
type ResponseError struct {
	Status int           // the answer's HTTP status
	Err    *deploy.Error // the error the server sent
}

// Error returns the server's message.
func (e *ResponseError) Error() string { return e.Err.Error() }

// Unwrap returns the domain error.
func (e *ResponseError) Unwrap() error { return e.Err }

// HTTPStatus returns the HTTP status of the error answer in err's chain: 0
// when there is none (the API was not reached, a context ended).
func HTTPStatus(err error) int {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.Status
	}
	return 0
}

// readError rebuilds the server's error from an error answer: the JSON
// error body (docs/api.md, "Errors"), or for an answer without one (a
// proxy in front, an old server) the body's text under the status's code.
func readError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
	var eb ErrorBody
	if err := json.Unmarshal(body, &eb); err == nil && eb.Error.Message != "" {
		code := eb.Error.Code
		if code == "" {
			code = codeFor(resp.StatusCode)
		}
		return &ResponseError{Status: resp.StatusCode,
			Err: &deploy.Error{Code: deploy.Code(code), Message: eb.Error.Message, Details: eb.Error.Details}}
	}
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		msg = resp.Status
	}
	return &ResponseError{Status: resp.StatusCode, Err: &deploy.Error{Code: deploy.Code(codeFor(resp.StatusCode)), Message: msg}}
}
