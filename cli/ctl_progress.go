package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// ANSI: back to the start of the line and erase it.
const ansiEraseLine = "\r\x1b[2K"

// progressPoll is how often the progress line asks for the candidate's
// health passes.
const progressPoll = 500 * time.Millisecond

// progress is the live line that `ctl deploy --wait` keeps under its phase
// log on a terminal: the phase, the time since the deployment began and,
// while health-checking, the passes of healthy_threshold; in canary and
// verifying, the window's time, requests, errors and p99 so far. Every other write
// to the terminal goes through it: it erases the line, writes, and draws
// the line again, so the log above stays plain lines.
type progress struct {
	out   io.Writer // the terminal
	start time.Time

	mu        sync.Mutex
	phase     string
	passes    int
	threshold int
	window    *deploy.Verification // the verification window, in canary and verifying
	shown     bool
	stopped   bool

	quit chan struct{}
	done chan struct{}
}

// startProgress draws the line of deployment id of app and keeps it up to
// date until stop.
func (c *ctl) startProgress(ctx context.Context, app string, id int64, status string) *progress {
	p := &progress{out: c.stdout, start: time.Now(), phase: status, quit: make(chan struct{}), done: make(chan struct{})}
	p.mu.Lock()
	p.draw()
	p.mu.Unlock()
	go p.loop(ctx, c, app, id)
	return p
}

// loop redraws the line every c.progressEvery and reads the candidate's
// health passes every progressPoll.
func (p *progress) loop(ctx context.Context, c *ctl, app string, id int64) {
	defer close(p.done)
	tick := time.NewTicker(c.progressEvery)
	defer tick.Stop()
	var polled time.Time
	for {
		select {
		case <-p.quit:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(polled) >= progressPoll {
			polled = time.Now()
			p.poll(ctx, c, app, id)
		}
		p.mu.Lock()
		if !p.stopped {
			p.draw()
		}
		p.mu.Unlock()
	}
}

// poll reads the running deployment's candidate from the app's status.
func (p *progress) poll(ctx context.Context, c *ctl, app string, id int64) {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := c.client.App(pctx, app)
	if err != nil || st.Deployment == nil || st.Deployment.DeploymentID != id {
		return
	}
	ct := st.Containers.Of(st.Deployment.Color)
	p.mu.Lock()
	defer p.mu.Unlock()
	if ct != nil {
		p.passes, p.threshold = ct.HealthPasses, ct.HealthyThreshold
	}
	if v := st.Deployment.Verification; v != nil && v.Result == deploy.VerificationRunning {
		p.window = v
	}
}

// setWindow shows a verification window that began or was judged.
func (p *progress) setWindow(v deploy.Verification) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.window = &v
}

// setPhase shows the phase the log printed last.
func (p *progress) setPhase(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if name != p.phase {
		p.phase = name
		p.passes = 0
		p.window = nil
	}
}

// Write writes b to the terminal above the line.
func (p *progress) Write(b []byte) (int, error) {
	return p.writeTo(p.out, b)
}

// to is a writer to w (stderr, on the same terminal) that keeps the line
// under what it writes.
func (p *progress) to(w io.Writer) io.Writer {
	return writerFunc(func(b []byte) (int, error) { return p.writeTo(w, b) })
}

func (p *progress) writeTo(w io.Writer, b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	n, err := w.Write(b)
	if !p.stopped {
		p.draw()
	}
	return n, err
}

// stop erases the line for good; what follows is written as plain lines.
func (p *progress) stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	p.erase()
	p.mu.Unlock()
	close(p.quit)
	<-p.done
}

// line is the progress line's text.
func (p *progress) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  ... %s  %s", dash(p.phase), elapsed(time.Since(p.start)))
	if p.phase == string(deploy.StatusHealthChecking) && p.threshold > 0 {
		fmt.Fprintf(&b, "  health passes %d/%d", min(p.passes, p.threshold), p.threshold)
	}
	if (p.phase == string(deploy.StatusCanary) || p.phase == string(deploy.StatusVerifying)) && p.window != nil {
		b.WriteString("  " + windowProgress(*p.window))
	}
	return b.String()
}

// draw writes the line; p.mu is held.
func (p *progress) draw() {
	p.erase()
	io.WriteString(p.out, p.line())
	p.shown = true
}

// erase removes the line; p.mu is held.
func (p *progress) erase() {
	if p.shown {
		io.WriteString(p.out, ansiEraseLine)
		p.shown = false
	}
}

// elapsed renders a running time: tenths of seconds under a minute.
func elapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return shortDuration(d.Truncate(time.Second))
}

// writerFunc is a function as an io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
