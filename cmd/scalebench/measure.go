package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// The answers of the API the bench reads; only the fields it uses, so that
// it builds against older checkouts too.
type appStatus struct {
	Name        string                    `json:"name"`
	Status      string                    `json:"status"`
	ActiveColor string                    `json:"active_color"`
	Connections map[string]connectionsRow `json:"connections"`
	Stats       struct {
		Failed int `json:"failed"`
	} `json:"stats"`
}

type connectionsRow struct {
	HTTP      int64 `json:"http"`
	WebSocket int64 `json:"websocket"`
}

type deployment struct {
	ID         int64     `json:"deployment_id"`
	Status     string    `json:"status"`
	Error      string    `json:"error"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Phases     []struct {
		Name       string    `json:"name"`
		StartedAt  time.Time `json:"started_at"`
		DurationMS int64     `json:"duration_ms"`
	} `json:"phases"`
}

var apiClient = &http.Client{Timeout: 5 * time.Minute}

func (b *bench) getJSON(ctx context.Context, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.api+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return len(body), fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, bytes.TrimSpace(body))
	}
	if v == nil {
		return len(body), nil
	}
	return len(body), json.Unmarshal(body, v)
}

func (b *bench) apps100(ctx context.Context) ([]appStatus, error) {
	var out []appStatus
	_, err := b.getJSON(ctx, "/api/apps", &out)
	return out, err
}

// settleWait is how long the apps may stay as they are, none deploying,
// before the bench says that some never become stable: longer than the
// longest wait between the retries of a failed first start (a minute).
const settleWait = 2 * time.Minute

// waitAllStable waits until every app is stable, and counts the failed
// deployments on the way; it gives up when the apps stayed as they are for
// settleWait with none deploying (a failed first start that nothing
// retries), or after 15 minutes.
func (b *bench) waitAllStable(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Minute)
	last, changed, prev := time.Now(), time.Now(), -1
	for {
		if err := b.alive(); err != nil {
			return err
		}
		apps, err := b.apps100(ctx)
		stable, deploying, failed := 0, 0, 0
		for _, a := range apps {
			switch a.Status {
			case "stable":
				stable++
			case "deploying":
				deploying++
			}
			failed += a.Stats.Failed
		}
		if err == nil {
			b.res.failedDeploys, b.res.notStable = failed, len(b.apps)-stable
		}
		if err == nil && stable == len(b.apps) {
			b.res.stableAfter = time.Since(b.res.started)
			return nil
		}
		if stable != prev || deploying > 0 {
			prev, changed = stable, time.Now()
		}
		if err == nil && time.Since(changed) > settleWait {
			b.res.gaveUpAfter = time.Since(b.res.started)
			return fmt.Errorf("%d of %d apps never became stable (%d failed deployments); none changed for %s",
				len(b.apps)-stable, len(b.apps), failed, settleWait)
		}
		if time.Since(last) > 15*time.Second {
			last = time.Now()
			b.logf("%d of %d apps stable, %d deploying, %d failed deployments so far (%v)", stable, len(b.apps), deploying, failed, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d apps stable after 15 minutes", stable, len(b.apps))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// measureIdle measures the supervisor's CPU with no traffic (health checks
// only) and its memory.
func (b *bench) measureIdle(ctx context.Context) error {
	if err := sleep(ctx, 10*time.Second); err != nil { // the last promotions settle
		return err
	}
	pid := b.serve.Process.Pid
	dockerd := pidOf("dockerd")
	c0, d0, t0 := cpuTime(pid), cpuTime(dockerd), time.Now()
	if err := sleep(ctx, b.c.idle); err != nil {
		return err
	}
	el := time.Since(t0)
	b.res.cpuIdle = float64(cpuTime(pid)-c0) / float64(el) * 100
	if dockerd > 0 {
		b.res.dockerdIdle = float64(cpuTime(dockerd)-d0) / float64(el) * 100
	}
	b.res.rssIdle = rssKiB(pid)
	return nil
}

// measureAPI times GET /api/apps one request after another.
func (b *bench) measureAPI(ctx context.Context) error {
	for range 10 {
		if _, err := b.apps100(ctx); err != nil {
			return err
		}
	}
	var ds []time.Duration
	for range b.c.apiRequests {
		start := time.Now()
		n, err := b.getJSON(ctx, "/api/apps", nil)
		if err != nil {
			return err
		}
		ds = append(ds, time.Since(start))
		b.res.apiBytes = n
	}
	b.res.api = ds
	return nil
}

// measureWAL follows the WAL file's size while the apps run and the API is
// read as the dashboard and ctl do.
func (b *bench) measureWAL(ctx context.Context) error {
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var readErr error
	var mu sync.Mutex
	wg.Go(func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-rctx.Done():
				return
			case <-tick.C:
			}
			a := b.apps[rand.IntN(len(b.apps))]
			var err error
			switch {
			case i%4 == 0:
				_, err = b.getJSON(rctx, "/api/apps", nil)
			case i%4 == 1:
				_, err = b.getJSON(rctx, "/api/apps/"+a.name+"/history", nil)
			default:
				_, err = b.getJSON(rctx, "/api/apps/"+a.name+"/health?limit=20", nil)
			}
			if err != nil && rctx.Err() == nil {
				mu.Lock()
				readErr = err
				mu.Unlock()
			}
		}
	})
	start := time.Now()
	walPath := b.db + "-wal"
	for {
		size := fileSize(walPath)
		el := time.Since(start)
		b.res.wal = append(b.res.wal, walSample{at: el, size: size})
		b.res.walMax = max(b.res.walMax, size)
		if el >= b.c.wal {
			break
		}
		if err := sleep(ctx, 5*time.Second); err != nil {
			stop()
			wg.Wait()
			return err
		}
	}
	stop()
	wg.Wait()
	b.res.walDuration = time.Since(start)
	b.res.dbSize = fileSize(b.db)
	if readErr != nil {
		return fmt.Errorf("API reads meanwhile: %w", readErr)
	}
	return b.alive()
}

// measureLogs kills the active container of the second app (restart
// policy no) and sends its proxy requests for a while: each fails, and the
// supervisor's warning lines are counted.
func (b *bench) measureLogs(ctx context.Context) error {
	a := b.apps[1]
	var st appStatus
	if _, err := b.getJSON(ctx, "/api/apps/"+a.name+"/status", &st); err != nil {
		return err
	}
	if out, err := execOut("docker", "kill", a.name+"-"+st.ActiveColor); err != nil {
		return fmt.Errorf("docker kill: %v: %s", err, out)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", a.proxy)
	client := &http.Client{Timeout: 5 * time.Second}
	// Wait until the proxy's requests fail.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("requests to %s still answered 30 s after docker kill", a.name)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	before, err := b.serveLog()
	if err != nil {
		return err
	}
	var sent, failed int64
	var mu sync.Mutex
	end := time.Now().Add(b.c.logWindow)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := &http.Client{Timeout: 5 * time.Second}
			for time.Now().Before(end) && ctx.Err() == nil {
				ok := false
				if resp, err := c.Get(url); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ok = resp.StatusCode == 200
				}
				mu.Lock()
				sent++
				if !ok {
					failed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := sleep(ctx, 1500*time.Millisecond); err != nil { // a rate limiter's last count
		return err
	}
	after, err := b.serveLog()
	if err != nil {
		return err
	}
	grown := after[len(before):]
	b.res.logRequests, b.res.logFailed = sent, failed
	b.res.logLines = countLines(grown, a.name)
	b.res.logWarn = countLines(grown, "level=WARN")
	return nil
}
