package actors

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// An app removed from the configs (a reload): its actor stops for good.
// Its proxy port is closed once its in-flight requests ended (up to
// drain_timeout; WebSockets up to websocket_drain_timeout, then a 1001
// close), its containers are stopped, not removed, and app.removed is
// recorded. Added back, the app's new actor adopts them and starts its
// active container again (docs/config.md, "Validating and reloading").

// retireApp closes the proxy of the app removed from the configs and stops
// its containers, from the actor's Stopped: the supervisor waits for it
// before an actor of the same app may start again.
func (a *appActor) retireApp() {
	a.listener.close(true)
	stopped := a.stopContainers()
	// Stored as stopped: added back, the app shows that until its adoption
	// read Docker (status.go, shownStatus), not the status it had.
	a.record.setStatus(deploy.AppStopped, "removed from the configs")
	what := "no container"
	if len(stopped) > 0 {
		what = "containers stopped (kept: added back, the app adopts them): " + strings.Join(stopped, ", ")
	}
	a.log.Info("app removed from the configs", "stopped", stopped)
	a.event(0, deploy.EventAppRemoved,
		fmt.Sprintf("%s removed from the configs: proxy port %d closed, %s", a.cfg.Name, a.cfg.Ports.Proxy, what),
		map[string]any{"proxy_port": a.cfg.Ports.Proxy, "stopped": stopped})
}

// stopContainers stops both colors' containers at once (each within
// stop_timeout, then killed), and returns the colors it stopped.
func (a *appActor) stopContainers() []string {
	type target struct {
		color deploy.Color
		id    string
	}
	var targets []target
	a.containers.each(func(color deploy.Color, s slot) {
		if s.id != "" {
			targets = append(targets, target{color, s.id})
		}
	})
	grace, rt := a.cfg.Deployment.StopTimeout, a.deps.rt
	ctx, cancel := timeoutAfterQueue(context.Background(), grace+30*time.Second) // from the stops' turn in Docker's queue
	defer cancel()
	var mu sync.Mutex
	var stopped []string
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rt.Stop(ctx, t.id, grace); err != nil {
				a.log.Error("stop the container of an app removed from the configs", keyColor, t.color, keyErr, err)
				return
			}
			mu.Lock()
			stopped = append(stopped, string(t.color))
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(stopped)
	return stopped
}
