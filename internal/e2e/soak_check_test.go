package e2e

import (
	"context"
	"os/exec"
	"strings"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

// checkState checks, after the faults, what must hold whatever happened:
// through the API and `docker ps`.
func (k *soak) checkState() {
	k.t.Helper()
	k.settle(90 * time.Second) // each app stable on a good image, nothing running
	for i, a := range k.apps {
		st := k.settleApp(i, 10*time.Second)
		k.checkContainers(i, st)
		k.checkHistory(i)
		if st.CurrentImage == imgSick {
			k.t.Errorf("app %d runs the bad image", i)
		}
		k.t.Logf("app %d (%s): %s on %s (%s), %d deployments", i, a.name, st.Status, st.CurrentImage, st.ActiveColor, st.Stats.Deployments)
	}
	k.checkEventIDs()
	k.load.mu.Lock()
	n := k.load.badServed
	k.load.mu.Unlock()
	if n > 0 {
		k.t.Errorf("the bad image answered %d requests", n)
	}
}

// checkContainers: at most one container per color, none other than
// <app>-blue and <app>-green (orphans: a candidate left behind, a create
// that finished after a kill), the active one running as the status says.
func (k *soak) checkContainers(i int, st deploy.AppStatus) {
	k.t.Helper()
	name := k.apps[i].name
	out, err := exec.Command("docker", "ps", "-a", "--no-trunc", "--filter", "label=bluegreen.app="+name,
		"--format", `{{.Names}} {{.ID}} {{.State}} {{.Label "bluegreen.color"}}`).CombinedOutput()
	if err != nil {
		k.t.Fatalf("docker ps: %v %s", err, out)
	}
	perColor := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			k.t.Errorf("app %d: docker ps line %q", i, line)
			continue
		}
		cname, id, state, color := f[0], f[1], f[2], f[3]
		perColor[color]++
		if cname != name+"-"+color || (color != string(deploy.Blue) && color != string(deploy.Green)) {
			k.t.Errorf("app %d: orphaned container %s (%s, color %q, %s)", i, cname, id, color, state)
		}
		if color == string(st.ActiveColor) && (id != st.Containers.Of(st.ActiveColor).ID || state != "running") {
			k.t.Errorf("app %d: the active %s container is %s %s, the status says %s", i, color, id, state, st.Containers.Of(st.ActiveColor).ID)
		}
	}
	for color, n := range perColor {
		if n > 1 {
			k.t.Errorf("app %d: %d %s containers:\n%s", i, n, color, out)
		}
	}
	if perColor[string(st.ActiveColor)] != 1 {
		k.t.Errorf("app %d: no %s (active) container in docker ps:\n%s", i, st.ActiveColor, out)
	}
}

// checkHistory: every deployment of the app ended.
func (k *soak) checkHistory(i int) {
	k.t.Helper()
	for offset := 0; ; offset += api.MaxLimit {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ds, err := k.s.client.History(ctx, k.apps[i].name, api.MaxLimit, offset)
		cancel()
		if err != nil {
			k.t.Fatalf("history of app %d: %v", i, err)
		}
		for _, d := range ds {
			if !d.Status.Final() {
				k.t.Errorf("app %d: deployment %d is %s, unfinished after the soak: %+v", i, d.DeploymentID, d.Status, d)
			}
		}
		if len(ds) < api.MaxLimit {
			return
		}
	}
}

// checkEventIDs: the audit trail's ids have no gaps.
func (k *soak) checkEventIDs() {
	k.t.Helper()
	evs := k.allEvents()
	for n := 1; n < len(evs); n++ {
		if evs[n].ID != evs[n-1].ID+1 {
			k.t.Errorf("audit trail: event %d follows %d (%s, then %s)", evs[n].ID, evs[n-1].ID, evs[n-1].Type, evs[n].Type)
		}
	}
	if len(evs) == 0 || evs[0].ID != 1 {
		k.t.Errorf("audit trail: %d events, the first not 1", len(evs))
		return
	}
	k.t.Logf("audit trail: %d events, ids 1 to %d", len(evs), evs[len(evs)-1].ID)
}
