package dashboard_test

// A small Chrome DevTools protocol client for the browser test: it starts
// Debian's chromium headless with a fresh profile, opens one page target and
// talks JSON-RPC to it over the project's WebSocket library. Only the few
// methods the test needs are used (Page, Runtime, Input, Log, Emulation).

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// chromiumNames are the executables tried, in order.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// requireChromium returns the path of a Chromium executable. Without one the
// test fails under CI=true and is skipped otherwise.
func requireChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("BLUEGREEN_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range chromiumNames {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := "chromium needed for the browser test: apt-get install -y chromium (or set BLUEGREEN_CHROMIUM)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipping (under CI=true this fails)")
	return ""
}

var devtoolsURL = regexp.MustCompile(`DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)`)

// browser is a running headless chromium.
type browser struct {
	port   string
	cmd    *exec.Cmd
	stderr *tailBuffer
}

// startBrowser starts chromium on a loopback debugging port with a fresh
// profile and stops it when the test ends.
func startBrowser(t testing.TB, exe string) *browser {
	t.Helper()
	profile := t.TempDir()
	cmd := exec.Command(exe,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
		"--hide-scrollbars", "--mute-audio", "--window-size=1440,1000",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--user-data-dir="+profile, "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+profile)       // nothing written to the real home
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers go with it
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	b := &browser{cmd: cmd, stderr: &tailBuffer{max: 64}}
	exited := make(chan struct{})
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group of the chromium started here
		<-exited
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			b.stderr.add(line)
			if m := devtoolsURL.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[2]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(exited)
	}()
	select {
	case b.port = <-found:
	case <-exited:
		t.Fatalf("chromium exited before it listened:\n%s", b.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("chromium did not print its DevTools address within 30s:\n%s", b.stderr)
	}
	return b
}

// cdpPage is one page target, driven over its DevTools WebSocket.
type cdpPage struct {
	t    testing.TB
	conn *websocket.Conn

	mu       sync.Mutex
	nextID   int64
	pending  map[int64]chan cdpMessage
	problems []string // exceptions, console errors, CSP violations, failed loads
	closed   error
}

type cdpMessage struct {
	ID     int64           `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// newPage opens a new page target and enables the domains the test reads.
func (b *browser) newPage(ctx context.Context, t testing.TB) *cdpPage {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://127.0.0.1:"+b.port+"/json/new?about:blank", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("devtools new target: %v", err)
	}
	var target struct {
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	err = json.NewDecoder(resp.Body).Decode(&target)
	resp.Body.Close()
	if err != nil || !strings.HasPrefix(target.WebSocketDebuggerURL, "ws://127.0.0.1:") {
		t.Fatalf("devtools new target: %v %q", err, target.WebSocketDebuggerURL)
	}
	conn, _, err := websocket.Dial(ctx, target.WebSocketDebuggerURL, nil)
	if err != nil {
		t.Fatalf("devtools dial: %v", err)
	}
	conn.SetReadLimit(64 << 20) // screenshots arrive as one base64 message
	p := &cdpPage{t: t, conn: conn, pending: map[int64]chan cdpMessage{}}
	t.Cleanup(func() { conn.CloseNow() })
	go p.read()
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if err := p.call(ctx, m, nil, nil); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
	}
	return p
}

func (p *cdpPage) read() {
	for {
		_, data, err := p.conn.Read(context.Background())
		if err != nil {
			p.mu.Lock()
			p.closed = err
			for id, ch := range p.pending {
				close(ch)
				delete(p.pending, id)
			}
			p.mu.Unlock()
			return
		}
		var m cdpMessage
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		if m.ID != 0 {
			p.mu.Lock()
			ch := p.pending[m.ID]
			delete(p.pending, m.ID)
			p.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		p.event(m)
	}
}

// event records what the page reported that a working page never reports.
func (p *cdpPage) event(m cdpMessage) {
	var problem string
	switch m.Method {
	case "Runtime.exceptionThrown":
		var e struct {
			ExceptionDetails struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		json.Unmarshal(m.Params, &e)
		problem = "exception: " + e.ExceptionDetails.Text + " " + e.ExceptionDetails.Exception.Description
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		json.Unmarshal(m.Params, &e)
		if e.Type == "error" || e.Type == "assert" {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, fmt.Sprint(a.Value, a.Description))
			}
			problem = "console." + e.Type + ": " + strings.Join(parts, " ")
		}
	case "Log.entryAdded":
		var e struct {
			Entry struct {
				Level  string `json:"level"`
				Source string `json:"source"`
				Text   string `json:"text"`
				URL    string `json:"url"`
			} `json:"entry"`
		}
		json.Unmarshal(m.Params, &e)
		if e.Entry.Source == "network" && strings.Contains(e.Entry.Text, "ERR_NETWORK_CHANGED") {
			// The host's network changed under the browser (Docker tests
			// creating containers meanwhile): the environment, not the
			// page, which reads again (api in app.js).
			return
		}
		if e.Entry.Level == "error" || e.Entry.Source == "security" {
			problem = "log " + e.Entry.Source + "/" + e.Entry.Level + ": " + e.Entry.Text + " " + e.Entry.URL
		}
	}
	if problem != "" {
		p.mu.Lock()
		p.problems = append(p.problems, problem)
		p.mu.Unlock()
	}
}

// takeProblems returns and forgets what the page reported so far.
func (p *cdpPage) takeProblems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.problems
	p.problems = nil
	return out
}

// call sends one DevTools command and decodes its result into out (if not nil).
func (p *cdpPage) call(ctx context.Context, method string, params, out any) error {
	p.mu.Lock()
	if p.closed != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: devtools connection closed: %w", method, p.closed)
	}
	p.nextID++
	id := p.nextID
	ch := make(chan cdpMessage, 1)
	p.pending[id] = ch
	p.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return err
	}
	if err := p.conn.Write(ctx, websocket.MessageText, msg); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: devtools connection closed", method)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.pending, id)
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// eval evaluates a JavaScript expression in the page (awaiting a promise) and
// decodes its JSON value into out (if not nil).
func (p *cdpPage) eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.call(ctx, "Runtime.evaluate", map[string]any{
		"expression": expr, "returnByValue": true, "awaitPromise": true,
	}, &r)
	if err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("evaluate %q: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		return json.Unmarshal(r.Result.Value, out)
	}
	return nil
}

// waitFor evaluates expr until it yields true, for at most timeout. On
// timeout the test fails with desc and the value of show (a JS expression
// that tells what the page shows instead).
func (p *cdpPage) waitFor(ctx context.Context, timeout time.Duration, desc, expr, show string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		var ok bool
		lastErr = p.eval(ctx, "!!("+expr+")", &ok)
		if lastErr == nil && ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			var seen any
			if show != "" {
				p.eval(ctx, show, &seen)
			}
			p.t.Fatalf("page: %s: not within %v (last error %v); the page shows: %v", desc, timeout, lastErr, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// navigate loads url and waits for its load event.
func (p *cdpPage) navigate(ctx context.Context, url string) {
	p.t.Helper()
	var r struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.call(ctx, "Page.navigate", map[string]any{"url": url}, &r); err != nil || r.ErrorText != "" {
		p.t.Fatalf("navigate %s: %v %s", url, err, r.ErrorText)
	}
	p.waitFor(ctx, 15*time.Second, "load "+url, `document.readyState === "complete"`, `document.readyState`)
}

// click clicks the centre of the first element that matches the CSS
// selector, with real mouse events, as a user would.
func (p *cdpPage) click(ctx context.Context, selector string) {
	p.t.Helper()
	sel, _ := json.Marshal(selector)
	var box struct {
		X, Y     float64
		Found    bool
		Disabled bool
	}
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return {found: false};
		e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect();
		return {found: true, disabled: !!e.disabled, x: r.left + r.width / 2, y: r.top + r.height / 2}; })()`, sel)
	if err := p.eval(ctx, expr, &box); err != nil || !box.Found || box.Disabled {
		p.t.Fatalf("click %s: err %v, found %v, disabled %v", selector, err, box.Found, box.Disabled)
	}
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		params := map[string]any{"type": typ, "x": box.X, "y": box.Y, "button": "left", "clickCount": 1}
		if typ == "mouseMoved" {
			params["button"] = "none"
			params["clickCount"] = 0
		}
		if err := p.call(ctx, "Input.dispatchMouseEvent", params, nil); err != nil {
			p.t.Fatalf("click %s: %v", selector, err)
		}
	}
}

// typeText replaces the value of the input that matches selector by text,
// typed in as keyboard input.
func (p *cdpPage) typeText(ctx context.Context, selector, text string) {
	p.t.Helper()
	sel, _ := json.Marshal(selector)
	var ok bool
	if err := p.eval(ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false; e.focus(); e.select(); return true; })()`, sel), &ok); err != nil || !ok {
		p.t.Fatalf("focus %s: %v %v", selector, err, ok)
	}
	if err := p.call(ctx, "Input.insertText", map[string]any{"text": text}, nil); err != nil {
		p.t.Fatalf("type into %s: %v", selector, err)
	}
}

// screenshot writes a PNG of the whole page to path.
func (p *cdpPage) screenshot(ctx context.Context, path string) error {
	var size struct{ W, H float64 }
	if err := p.eval(ctx, `window.scrollTo(0, 0), ({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})`, &size); err != nil {
		return err
	}
	var r struct {
		Data string `json:"data"`
	}
	err := p.call(ctx, "Page.captureScreenshot", map[string]any{
		"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": size.W, "height": size.H, "scale": 1},
	}, &r)
	if err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return err
	}
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		return errors.New("screenshot: not a PNG")
	}
	return os.WriteFile(path, png, 0o644)
}

// tailBuffer keeps the last max lines written to it.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (b *tailBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
	if len(b.lines) > b.max {
		b.lines = b.lines[len(b.lines)-b.max:]
	}
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}
