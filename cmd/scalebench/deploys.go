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
	probed := append([]*app{b.apps[0]}, b.apps[2+b.c.deploys:]...)
	pctx, stopProbes := context.WithCancel(ctx)
	var pwg sync.WaitGroup
	var mu sync.Mutex
	var probes, probeFails int64
	var firstFail string
	for w := range 4 {
		pwg.Go(func() {
			c := &http.Client{Timeout: 10 * time.Second}
			for i := w; pctx.Err() == nil; i += 4 {
				a := probed[i%len(probed)]
				ok, why := probe(pctx, c, a.proxy)
				if pctx.Err() != nil {
					return
				}
				mu.Lock()
				probes++
				if !ok {
					probeFails++
					if firstFail == "" {
						firstFail = a.name + ": " + why
					}
				}
				mu.Unlock()
			}
		})
	}
	if err := sleep(ctx, 2*time.Second); err != nil {
		stopProbes()
		return err
	}
	results := make([]deployment, len(batch))
	errs := make([]error, len(batch))
	walls := make([]time.Duration, len(batch))
	var wg sync.WaitGroup
	start := time.Now()
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
	if err := sleep(ctx, 2*time.Second); err != nil {
		stopProbes()
		return err
	}
	stopProbes()
	pwg.Wait()
	d := &b.res.deploys
	d.n, d.probes, d.probeFails, d.firstFail = len(batch), probes, probeFails, firstFail
	for i, r := range results {
		if errs[i] != nil {
			return errs[i]
		}
		if r.Status != "completed" {
			d.notCompleted = append(d.notCompleted, fmt.Sprintf("%s %s: %s", batch[i].name, r.Status, r.Error))
			continue
		}
		d.completed = append(d.completed, walls[i])
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
	return nil
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
