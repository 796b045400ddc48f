package actors

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
)

// healthResult is one probe's result, sent by a health actor to its app actor.
type healthResult struct {
	color       deploy.Color
	containerID string
	check       deploy.HealthCheck
}

// probeTick asks a health actor to probe now (unless a probe is in flight).
type probeTick struct{}

// probeDone carries a finished probe back into the health actor.
type probeDone struct{ check deploy.HealthCheck }

// healthActor probes one container's health endpoint at 127.0.0.1:port every
// interval and reports each result to its parent, the app actor. The probe
// itself runs in a goroutine; ticks that arrive while one is in flight are
// dropped, so a hanging endpoint never piles up work.
type healthActor struct {
	color       deploy.Color
	containerID string
	url         string
	hc          config.HealthCheck
	client      *http.Client

	inflight bool
	repeater *actor.SendRepeater
	ctx      context.Context
	cancel   context.CancelFunc
}

func newHealthActor(color deploy.Color, containerID string, port int, hc config.HealthCheck) actor.Producer {
	return func() actor.Receiver {
		return &healthActor{
			color:       color,
			containerID: containerID,
			url:         fmt.Sprintf("http://127.0.0.1:%d%s", port, hc.Path),
			hc:          hc,
		}
	}
}

func (h *healthActor) Receive(c *actor.Context) {
	switch msg := c.Message().(type) {
	case actor.Started:
		h.ctx, h.cancel = context.WithCancel(context.Background())
		h.client = &http.Client{
			Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
		r := c.SendRepeat(c.PID(), probeTick{}, h.hc.Interval)
		h.repeater = &r
		h.probe(c)
	case probeTick:
		h.probe(c)
	case probeDone:
		h.inflight = false
		c.Send(c.Parent(), healthResult{color: h.color, containerID: h.containerID, check: msg.check})
	case actor.Stopped:
		if h.repeater != nil {
			h.repeater.Stop()
			h.repeater = nil
		}
		if h.cancel != nil {
			h.cancel()
		}
	}
}

func (h *healthActor) probe(c *actor.Context) {
	if h.inflight {
		return
	}
	h.inflight = true
	eng, self := c.Engine(), c.PID()
	ctx, url, method, timeout, hc, client := h.ctx, h.url, h.hc.Method, h.hc.Timeout, h.hc, h.client
	go func() {
		check := runProbe(ctx, client, method, url, timeout, hc)
		eng.Send(self, probeDone{check: check})
	}()
}

// runProbe makes one health request and judges it.
func runProbe(ctx context.Context, client *http.Client, method, url string, timeout time.Duration, hc config.HealthCheck) deploy.HealthCheck {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	check := deploy.HealthCheck{At: start.UTC()}
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		check.Error = err.Error()
		return check
	}
	req.Header.Set("User-Agent", "bluegreen-health")
	resp, err := client.Do(req)
	check.ResponseTimeMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			check.Error = fmt.Sprintf("no answer within %s", timeout)
		} else {
			check.Error = err.Error()
		}
		return check
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	check.StatusCode = resp.StatusCode
	if hc.Accepts(resp.StatusCode) {
		check.Success = true
	} else {
		check.Error = fmt.Sprintf("status %d", resp.StatusCode)
	}
	return check
}
