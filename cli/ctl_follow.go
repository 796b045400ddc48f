package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

// streamSafetyPoll is how often deploy --wait checks the deployment while
// following the event stream, in case the stream misses its end.
const streamSafetyPoll = deploy.DefaultPoll

// follow subscribes to the app's events, posts the deployment, prints each
// of its phases as it happens and reports how it ended: ExitOK only when it
// completed (or nothing had to change).
func (c *ctl) follow(ctx context.Context, app string, post poster, timeout time.Duration) int {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	events, lost, err := c.client.StreamEvents(wctx, app)
	if err != nil {
		var ce *api.ConnError
		if errors.As(err, &ce) {
			return c.fail(err)
		}
		fmt.Fprintf(c.stderr, "note: event stream unavailable (%v): polling instead\n", err)
	}
	resp, err := post(wctx)
	if err != nil {
		return c.fail(err)
	}
	id := resp.DeploymentID
	if resp.Status == deploy.AnswerUnchanged {
		return c.unchanged(ctx, app, id)
	}
	if !c.json {
		fmt.Fprintf(c.stdout, "%s: deployment #%d %s\n", app, id, resp.Status)
	}
	p := &phasePrinter{c: c}
	stopLive := func() {}
	if !c.json && c.tty(c.stdout) {
		// A terminal: the live progress line under the phase log.
		live := c.startProgress(wctx, app, id, string(resp.Status))
		out, errOut := c.stdout, c.stderr
		c.stdout, c.stderr, p.live = live, live.to(errOut), live
		stopLive = func() {
			live.stop()
			c.stdout, c.stderr = out, errOut
		}
	}
	d, err := deploy.Watch{
		Read:      c.client.Deployment,
		Events:    events,
		Lost:      lost,
		FromStart: true,
		Poll:      streamSafetyPoll,
		NoStream:  c.pollInterval,
		OnEvent:   p.event,
		OnRead:    p.phases,
		OnLost: func(err error) {
			fmt.Fprintf(c.stderr, "note: event stream lost (%v): polling instead\n", err)
		},
	}.Wait(wctx, id)
	stopLive() // the final lines are plain
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(c.stderr, "stopped waiting: deployment #%d continues in the background\n", id)
		return ExitFailed
	case wctx.Err() != nil:
		status := "running"
		if d, err := c.client.Deployment(ctx, id); err == nil {
			status = string(d.Status)
		}
		fmt.Fprintf(c.stderr, "deployment #%d is still running (%s) after %s\nfollow it with: bluegreen ctl events --app %s --follow\n", id, status, timeout, app)
		return ExitFailed
	case err != nil:
		return c.fail(err)
	}
	if resp.Status == deploy.AnswerRollingBack {
		return c.reportTakenBack(d)
	}
	return c.report(d)
}

// reportTakenBack reports a rollback asked during a deployment's canary or
// verifying: it succeeded when that deployment ended rolled back.
func (c *ctl) reportTakenBack(d deploy.Deployment) int {
	if d.Status != deploy.StatusRolledBack {
		return c.report(d)
	}
	if c.json {
		writeJSON(c.stdout, d)
		return ExitOK
	}
	fmt.Fprintf(c.stdout, "deployment #%d rolled back: %s; %s kept serving\n", d.DeploymentID, dash(d.Error), dash(d.FromImage))
	return ExitOK
}

// unchanged reports a deploy that had nothing to do.
func (c *ctl) unchanged(ctx context.Context, app string, id int64) int {
	if c.json {
		d, err := c.client.Deployment(ctx, id)
		if err != nil {
			return c.fail(err)
		}
		writeJSON(c.stdout, d)
		return ExitOK
	}
	fmt.Fprintf(c.stdout, "%s: nothing to do: the image is already active and healthy (deployment #%d, unchanged)\n", app, id)
	return ExitOK
}

// report prints how a deployment ended and returns the exit status.
func (c *ctl) report(d deploy.Deployment) int {
	ok := d.Status == deploy.StatusCompleted
	if c.json {
		writeJSON(c.stdout, d)
		if ok {
			return ExitOK
		}
		return ExitFailed
	}
	if ok {
		fmt.Fprintf(c.stdout, "deployment #%d completed in %s: %s now serves on %s\n",
			d.DeploymentID, durationMS(d.DurationMS), d.ToImage, dash(d.Color))
		return ExitOK
	}
	fmt.Fprintf(c.stdout, "deployment #%d %s", d.DeploymentID, strings.ReplaceAll(string(d.Status), "_", " "))
	if d.DurationMS > 0 {
		fmt.Fprintf(c.stdout, " after %s", durationMS(d.DurationMS))
	}
	fmt.Fprintln(c.stdout)
	if d.Error != "" {
		fmt.Fprintf(c.stdout, "reason: %s\n", d.Error)
	}
	switch d.Status {
	case deploy.StatusRolledBack:
		fmt.Fprintf(c.stdout, "%s was not promoted: the previous container kept serving\n", d.ToImage)
	case deploy.StatusSuperseded:
		fmt.Fprintln(c.stdout, "a newer deployment replaced it: see bluegreen ctl history "+d.App)
	}
	if len(d.Logs) > 0 {
		fmt.Fprintf(c.stdout, "container logs (last %d lines):\n", len(d.Logs))
		for _, l := range d.Logs {
			fmt.Fprintf(c.stdout, "  %s\n", l)
		}
	}
	if !d.Done() {
		fmt.Fprintf(c.stdout, "status is still %s: follow it with bluegreen ctl events --app %s --follow\n", d.Status, d.App)
	}
	return ExitFailed
}

// phasePrinter prints each phase of one deployment once, with how long the
// phase before it took.
type phasePrinter struct {
	c       *ctl
	live    *progress // the progress line on a terminal, or nil
	last    string
	lastAt  time.Time
	printed int // phases printed from Deployment.Phases while polling
}

// event prints a deployment event of the followed deployment.
func (p *phasePrinter) event(ev deploy.Event) {
	var data struct {
		Phase  string `json:"phase"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if len(ev.Data) > 0 {
		json.Unmarshal(ev.Data, &data)
	}
	step, ofDeployment := ev.Type.OfDeployment()
	if !ofDeployment {
		// container.*, proxy.switched, drain.*: a detail of the current phase.
		if !p.c.json {
			fmt.Fprintf(p.c.stdout, "%s    %s  %s\n", ev.At.Local().Format("15:04:05"), ev.Type, p.c.fmt.cut(ev.Message, 200))
		}
		return
	}
	name := data.Phase
	if name == "" {
		name = data.Status
	}
	if ev.Type != deploy.EventDeploymentPhase {
		name = step
	}
	if name != "" && name != p.last {
		p.line(ev.At, name, data.Error)
	}
	if v, ok := windowEvent(ev.Data); ok && ev.Type == deploy.EventDeploymentPhase {
		p.window(ev.At, v)
	}
}

// window prints a verification window's start or judgement, indented under
// its phase, and shows it on the progress line.
func (p *phasePrinter) window(at time.Time, v deploy.Verification) {
	if p.live != nil {
		p.live.setWindow(v)
	}
	if p.c.json {
		return
	}
	fmt.Fprintf(p.c.stdout, "%s    %s\n", at.Local().Format("15:04:05"), windowLine(v))
}

// phases prints the phases of d not printed yet (polling mode).
func (p *phasePrinter) phases(d deploy.Deployment) {
	for ; p.printed < len(d.Phases); p.printed++ {
		ph := d.Phases[p.printed]
		if ph.Name == p.last {
			continue
		}
		p.line(ph.StartedAt, ph.Name, ph.Error)
	}
}

func (p *phasePrinter) line(at time.Time, name, errMsg string) {
	if p.c.json {
		p.last, p.lastAt = name, at
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %-16s", at.Local().Format("15:04:05"), name)
	if p.last != "" && !p.lastAt.IsZero() && !at.Before(p.lastAt) {
		fmt.Fprintf(&b, " (%s took %s)", p.last, durationMS(max(at.Sub(p.lastAt).Milliseconds(), 1)))
	}
	if errMsg != "" {
		fmt.Fprintf(&b, " error: %s", p.c.fmt.cut(errMsg, 200))
	}
	fmt.Fprintln(p.c.stdout, strings.TrimRight(b.String(), " "))
	p.last, p.lastAt = name, at
	if p.live != nil {
		p.live.setPhase(name)
	}
}
