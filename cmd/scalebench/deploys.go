package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// measureDeploys deploys a batch of apps at once, with ?wait=true, while
// other apps' proxies are probed one request after another.
func (b *bench) measureDeploys(ctx context.Context) error {
	batch := b.apps[2 : 2+b.c.deploys]
	load := startProbes(ctx, append([]*app{b.apps[0]}, b.apps[2+b.c.deploys:]...))
	defer load.stop()
	if err := sleep(ctx, 2*time.Second); err != nil {
		return err
	}
	start := time.Now()
	results, walls, errs := b.deployBatch(ctx, batch, start)
	if err := sleep(ctx, 2*time.Second); err != nil {
		return err
	}
	load.stop()
	d := &b.res.deploys
	d.n, d.probes, d.probeFails, d.firstFail = len(batch), load.probes, load.fails, load.firstFail
	for i, r := range results {
		if errs[i] != nil {
			return errs[i]
		}
		d.add(batch[i].name, r, walls[i], start)
	}
	return nil
}

// deployBatch deploys the second image to every app of batch at once and
// returns, per app, the deployment, its time from start to the answer, or
// the error.
func (b *bench) deployBatch(ctx context.Context, batch []*app, start time.Time) ([]deployment, []time.Duration, []error) {
	results := make([]deployment, len(batch))
	errs := make([]error, len(batch))
	walls := make([]time.Duration, len(batch))
	var wg sync.WaitGroup
	for i, a := range batch {
		wg.Go(func() {
			body, _ := json.Marshal(map[string]string{"desired_image": b.images[1], "trigger_source": "api"})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.api+"/api/apps/"+a.name+"/deploy?wait=true", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := apiClient.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			walls[i] = time.Since(start)
			if resp.StatusCode != http.StatusOK {
				errs[i] = fmt.Errorf("deploy %s: %d %s", a.name, resp.StatusCode, bytes.TrimSpace(data))
				return
			}
			errs[i] = json.Unmarshal(data, &results[i])
		})
	}
	wg.Wait()
	return results, walls, errs
}

// add records the deployment r of app, answered wall after start (the
// batch's first API call): its total, its switch, drain and stop.
func (d *deployResults) add(app string, r deployment, wall time.Duration, start time.Time) {
	if r.Status != "completed" {
		d.notCompleted = append(d.notCompleted, fmt.Sprintf("%s %s: %s", app, r.Status, r.Error))
		return
	}
	d.completed = append(d.completed, wall)
	for _, p := range r.Phases {
		end := p.StartedAt.Add(time.Duration(p.DurationMS) * time.Millisecond)
		switch p.Name {
		case "switching":
			// From the first API call to the switch.
			d.switched = append(d.switched, end.Sub(start))
		case "draining":
			d.drain = append(d.drain, time.Duration(p.DurationMS)*time.Millisecond)
		case "stopping":
			d.stop = append(d.stop, time.Duration(p.DurationMS)*time.Millisecond)
		}
	}
}

// probeLoad requests the proxies of apps one after another from four
// workers until stopped, and counts the answers that were not 200.
type probeLoad struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	probes    int64
	fails     int64
	firstFail string
}

func startProbes(ctx context.Context, apps []*app) *probeLoad {
	ctx, cancel := context.WithCancel(ctx)
	l := &probeLoad{cancel: cancel}
	for w := range 4 {
		l.wg.Go(func() {
			c := &http.Client{Timeout: 10 * time.Second}
			for i := w; ctx.Err() == nil; i += 4 {
				a := apps[i%len(apps)]
				ok, why := probe(ctx, c, a.proxy)
				if ctx.Err() != nil {
					return
				}
				l.count(a.name, ok, why)
			}
		})
	}
	return l
}

func (l *probeLoad) count(app string, ok bool, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.probes++
	if !ok {
		l.fails++
		if l.firstFail == "" {
			l.firstFail = app + ": " + why
		}
	}
}

// stop ends the probes and waits for the workers; then the counts stay.
func (l *probeLoad) stop() {
	l.cancel()
	l.wg.Wait()
}

// probe makes one request to a proxy and tells whether it got 200.
func probe(ctx context.Context, c *http.Client, port int) (bool, string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	resp, err := c.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return false, resp.Status
	}
	return true, ""
}
