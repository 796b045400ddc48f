package actors

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
)

// An app removed from the configs: its proxy closes once the request in
// flight ended, its containers are stopped, not removed, app.removed is
// recorded; added back, it adopts them (none is created).
func TestAppActor_RemovedFromTheConfigs(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	u.wait(u.deploy(cfg.Name, "web:v2").DeploymentID)
	before := u.rt.containersOf(cfg.Name)
	ctx := context.Background()

	slow := make(chan string, 1)
	go func() {
		got, err := body(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/slow?d=300ms", cfg.Ports.Proxy))
		if err != nil {
			got = err.Error()
		}
		slow <- got
	}()
	u.until("the request in flight", func() bool { return u.app(cfg.Name).Connections[deploy.Green].HTTP == 1 })
	u.configs(nil)
	if res, err := u.sys.Reload(ctx); err != nil || len(res.Removed) != 1 {
		t.Fatalf("reload: %+v, %v", res, err)
	}
	if got := <-slow; got != "web:v2" {
		t.Fatalf("the request in flight got %q", got)
	}
	u.until("app.removed", func() bool {
		evs, _ := u.sys.Events(ctx, cfg.Name, 0, 1000)
		return len(evs) > 0 && evs[len(evs)-1].Type == deploy.EventAppRemoved
	})
	if got := u.serves(cfg); !strings.Contains(got, "refused") {
		t.Fatalf("the removed app's proxy answered %q", got)
	}
	after := u.rt.containersOf(cfg.Name)
	if len(after) != len(before) {
		t.Fatalf("%d containers after the removal, were %d: stopped, not removed", len(after), len(before))
	}
	for _, ct := range after {
		if ct.Running {
			t.Fatalf("%s still runs", ct.Name)
		}
	}

	u.configs(nil, cfg)
	if res, err := u.sys.Reload(ctx); err != nil || len(res.Added) != 1 {
		t.Fatalf("reload adding it back: %+v, %v", res, err)
	}
	st := u.stable(cfg.Name, "web:v2")
	if got := u.serves(cfg); got != "web:v2" {
		t.Fatalf("added back, the proxy answered %q", got)
	}
	if st.Containers.Green == nil || st.Containers.Blue == nil {
		t.Fatalf("containers %+v", st.Containers)
	}
	for _, ct := range before {
		if !u.rt.exists(ct.ID) {
			t.Fatalf("%s was recreated", ct.Name)
		}
	}
	if n := len(u.rt.containersOf(cfg.Name)); n != 2 {
		t.Fatalf("%d containers after adding it back, want the 2 adopted", n)
	}
}
