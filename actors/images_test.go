package actors

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

func TestChooseRemovals(t *testing.T) {
	// The app's images, newest first; "gone" is no longer in Docker.
	img := func(ref, id string, last int64, others ...string) appImage {
		return appImage{ref: ref, lastDeploymentID: last, otherApps: others, present: id != "", image: docker.Image{ID: id, Refs: []string{ref}}}
	}
	images := []appImage{
		img("web:v7", "sha256:7", 7),
		img("web:gone", "", 6),
		img("web:v5", "sha256:5", 5),
		img("web:v4", "sha256:4", 4),
		img("web:v3", "sha256:3", 3),
		img("web:v2", "sha256:2", 2, "api"),
		img("web:v1", "sha256:1", 1),
		img("web:v1-alias", "sha256:5", 1), // the same image as web:v5
	}
	refs := func(list []appImage) []string {
		var out []string
		for _, im := range list {
			out = append(out, im.ref)
		}
		return out
	}
	none := protection{refs: map[string]bool{}}
	tests := []struct {
		name    string
		keep    int
		inUse   map[string]bool
		protect protection
		remove  []string
		kept    map[string]string
	}{
		{name: "keep 0 keeps all", keep: 0, protect: none},
		{name: "keep more than there are", keep: 20, protect: none},
		{name: "beyond the newest present", keep: 2, protect: none,
			remove: []string{"web:v4", "web:v3", "web:v1", "web:v1-alias"},
			kept:   map[string]string{"web:v2": "deployed by [api] too"}},
		{name: "in use by a container", keep: 2, protect: none, inUse: map[string]bool{"sha256:3": true, "sha256:1": true},
			remove: []string{"web:v4", "web:v1-alias"},
			kept:   map[string]string{"web:v3": "a container uses it", "web:v2": "deployed by [api] too", "web:v1": "a container uses it"}},
		{name: "active and standby", keep: 1, protect: protection{refs: map[string]bool{"web:v4": true, "web:v5": true}},
			remove: []string{"web:v3", "web:v1"},
			kept: map[string]string{"web:v5": "the image of the active or standby color", "web:v4": "the image of the active or standby color",
				"web:v2": "deployed by [api] too", "web:v1-alias": "the image of the active or standby color"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remove, kept := chooseRemovals(images, tt.keep, tt.inUse, tt.protect)
			if got := refs(remove); !slices.Equal(got, tt.remove) {
				t.Errorf("removes %v, want %v", got, tt.remove)
			}
			if tt.kept == nil {
				tt.kept = map[string]string{}
			}
			if len(kept) != len(tt.kept) {
				t.Errorf("kept %v, want %v", kept, tt.kept)
			}
			for ref, why := range tt.kept {
				if kept[ref] != why {
					t.Errorf("kept %s: %q, want %q", ref, kept[ref], why)
				}
			}
		})
	}
}

// TestAppActor_ImageRetention deploys more images than keep_images and
// checks which ones each completed deployment removes: never one a
// container uses (a foreign one, another app's), the active or standby
// color's, another app's, or one the app never deployed.
func TestAppActor_ImageRetention(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	cfg.Docker.KeepImages = 2
	other := unitApp(t, "web:v3") // deploys web:v3 too, and keeps everything
	other.Docker.KeepImages = 0
	u := newUnit(t, cfg, other)
	for _, ref := range []string{"web:v4", "web:v5", "web:v6", "web:stray"} {
		u.rt.image(ref, fakeImage{}, true)
	}
	ctx := context.Background()
	foreign, err := u.rt.Create(ctx, docker.Spec{Name: "not-bluegreen", Image: "web:v2"})
	if err != nil {
		t.Fatal(err)
	}
	u.stable(other.Name, "web:v3")
	u.stable(cfg.Name, "web:v1")
	u.until("the pass after the first start", func() bool { return u.prunePasses(cfg.Name) == 1 })

	removed := func(app string) []deploy.Event {
		evs, err := u.sys.Events(ctx, app, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []deploy.Event
		for _, e := range evs {
			if e.Type == deploy.EventImageRemoved || e.Type == deploy.EventImageRemoveFailed {
				out = append(out, e)
			}
		}
		return out
	}
	// deployTo deploys image and waits until the retention pass after it
	// ended, with n removal events in all.
	deployTo := func(image string, n int) deploy.Deployment {
		t.Helper()
		passes := u.prunePasses(cfg.Name)
		d := u.wait(u.deploy(cfg.Name, image).DeploymentID)
		if d.Status != deploy.StatusCompleted {
			t.Fatalf("deployment of %s: %+v", image, d)
		}
		u.stable(cfg.Name, image)
		u.until("the retention pass after "+image, func() bool { return u.prunePasses(cfg.Name) > passes })
		if got := len(removed(cfg.Name)); got != n {
			t.Fatalf("after %s: %d removal events, want %d: %+v", image, got, n, removed(cfg.Name))
		}
		return d
	}

	deployTo("web:v2", 0) // v2, v1: within keep_images
	d3 := deployTo("web:v3", 1)
	if got := u.rt.removedRefs(); !slices.Equal(got, []string{"web:v1"}) {
		t.Fatalf("after v3 removed %v, want [web:v1] (its container was replaced by v3's)", got)
	}
	ev := removed(cfg.Name)[0]
	var data struct {
		Image     string `json:"image"`
		ID        string `json:"id"`
		SizeBytes int64  `json:"size_bytes"`
		LastID    int64  `json:"last_deployment_id"`
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if ev.Type != deploy.EventImageRemoved || ev.App != cfg.Name || !ev.Of(d3.DeploymentID) ||
		data.Image != "web:v1" || data.ID == "" || data.SizeBytes <= 0 || data.LastID == 0 {
		t.Fatalf("event %+v data %s", ev, ev.Data)
	}

	// v2 is beyond keep_images from now on but the foreign container uses it;
	// v3 is the other app's.
	deployTo("web:v4", 1)
	deployTo("web:v5", 1)
	if got := u.rt.removedRefs(); !slices.Equal(got, []string{"web:v1"}) {
		t.Fatalf("removed %v, want only web:v1", got)
	}
	for _, ref := range []string{"web:v2", "web:v3", "web:v4", "web:v5", "web:stray", "web:sick"} {
		if !u.rt.present(ref) {
			t.Errorf("%s was removed", ref)
		}
	}

	// Once the foreign container is gone v2 goes too; a removal Docker
	// refuses is a warning event, and the deployment completed all the same.
	if err := u.rt.Remove(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	u.rt.failNext("RemoveImage", errors.New("device or resource busy"))
	d6 := deployTo("web:v6", 3)
	if got := u.rt.removedRefs(); !slices.Equal(got, []string{"web:v1", "web:v2"}) {
		t.Fatalf("removed %v, want web:v1 then web:v2", got)
	}
	evs := removed(cfg.Name)
	failed := evs[1]
	if failed.Type != deploy.EventImageRemoveFailed || !failed.Of(d6.DeploymentID) {
		t.Fatalf("events %+v, want the failed removal of web:v4 after deployment %d", evs, d6.DeploymentID)
	}
	if err := json.Unmarshal(failed.Data, &data); err != nil || data.Image != "web:v4" {
		t.Fatalf("failed removal data %s", failed.Data)
	}
	if !u.rt.present("web:v4") {
		t.Fatal("web:v4 gone though its removal failed")
	}
	if st := u.stable(cfg.Name, "web:v6"); st.LastDeployment == nil || st.LastDeployment.Status != deploy.StatusCompleted {
		t.Fatalf("status after a failed removal: %+v", st)
	}
	if len(removed(other.Name)) != 0 {
		t.Fatalf("the app with keep_images 0 removed images: %+v", removed(other.Name))
	}

	t.Run("list", func(t *testing.T) {
		list, err := u.sys.Images(ctx, cfg.Name)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, im := range list {
			got = append(got, im.Image)
			if im.ID == "" || im.SizeBytes <= 0 || im.CreatedAt.IsZero() || im.LastDeploymentID == 0 {
				t.Errorf("image %+v", im)
			}
			// v6 and v5 run in the app's colors, v3 in the other app's.
			if want := im.Image != "web:v4"; im.InUse != want {
				t.Errorf("%s in use %v, want %v", im.Image, im.InUse, want)
			}
		}
		if want := []string{"web:v6", "web:v5", "web:v4", "web:v3"}; !slices.Equal(got, want) {
			t.Fatalf("images %v, want %v (newest first, only present ones)", got, want)
		}
	})
	t.Run("unknown app", func(t *testing.T) {
		if _, err := u.sys.Images(ctx, "nope"); deploy.ErrorCode(err) != deploy.ENOTFOUND {
			t.Fatalf("err %v, want not found", err)
		}
	})
	t.Run("docker down", func(t *testing.T) {
		u.rt.setDown(true)
		defer u.rt.setDown(false)
		if _, err := u.sys.Images(ctx, cfg.Name); deploy.ErrorCode(err) != deploy.EDOCKERUNAVAILABLE {
			t.Fatalf("err %v, want docker_unavailable", err)
		}
	})
}

// TestAppActor_PullWaitsForRetention checks that a deployment begun while a
// retention pass runs pulls only once the pass ended, so the pass never
// removes an image under it.
func TestAppActor_PullWaitsForRetention(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	cfg.Docker.KeepImages = 1
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")

	u.until("the pass after the first start", func() bool { return u.prunePasses(cfg.Name) == 1 })
	release := u.rt.hold("ImagesInUse")
	d2 := u.wait(u.deploy(cfg.Name, "web:v2").DeploymentID) // its pass now waits in ImagesInUse
	if d2.Status != deploy.StatusCompleted {
		t.Fatalf("deployment %+v", d2)
	}
	id := u.deploy(cfg.Name, "web:v3").DeploymentID
	u.reaches(id, deploy.StatusPulling)
	release()
	if d := u.wait(id); d.Status != deploy.StatusCompleted {
		t.Fatalf("deployment after the pass: %+v", d)
	}
	// The calls in order: the 2nd ImagesInUse ended v2's pass (held); the
	// 3rd EnsureImage is v3's pull.
	calls := u.rt.callLog()
	nth := func(name string, n int) int {
		for i, c := range calls {
			if c == name {
				if n--; n == 0 {
					return i
				}
			}
		}
		t.Fatalf("no call %s number %d in %v", name, n, calls)
		return 0
	}
	if pull, passEnd := nth("EnsureImage", 3), nth("ImagesInUse", 2); pull < passEnd {
		t.Fatalf("web:v3 was pulled before the retention pass ended: %v", calls)
	}
	if !u.rt.present("web:v3") || !u.rt.present("web:v2") {
		t.Fatal("the pass removed an image of the active or standby color")
	}
}

// completedDeployment records a completed deployment of image in the part's store.
func (p *partEnv) completedDeployment(image string) int64 {
	p.t.Helper()
	ctx := context.Background()
	d := deploy.Deployment{App: p.env.cfg.Name, ToImage: image, Color: deploy.Blue, TriggerSource: deploy.TriggerAPI,
		Status: deploy.StatusPulling, StartedAt: time.Now().UTC()}
	if err := p.st.CreateDeployment(ctx, &d); err != nil {
		p.t.Fatal(err)
	}
	d.End(deploy.StatusCompleted, "", time.Now().UTC())
	if err := p.st.UpdateDeployment(ctx, &d); err != nil {
		p.t.Fatal(err)
	}
	return d.DeploymentID
}

func TestRetention_Pass(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	cfg.Docker.KeepImages = 1
	p := newPartEnv(t, cfg)
	passes := 0
	p.env.deps.timers.pruned = func(string) { passes++ } // called in the test goroutine (ended)
	for _, ref := range []string{"web:v1", "web:v2", "web:v3"} {
		p.rt.image(ref, fakeImage{}, true)
		p.completedDeployment(ref)
	}
	r := &imageRetention{env: p.env}
	release := p.rt.hold("Images")
	r.start(3, protection{refs: map[string]bool{"web:v3": true}}, nil)
	pass := r.running()
	if pass == nil {
		t.Fatal("no pass runs")
	}
	r.start(4, protection{}, nil) // a deployment completed during the pass
	if r.running() != pass {
		t.Fatal("a second pass runs beside the first")
	}
	release()
	msg := sent[imagesPruned](p)
	<-pass
	if again := r.ended(msg, false); again != 4 || r.running() != nil {
		t.Fatalf("ended: again %d, running %v; want 4, none", again, r.running())
	}
	if got := p.rt.removedRefs(); !slices.Equal(got, []string{"web:v2", "web:v1"}) {
		t.Fatalf("removed %v, want web:v2 and web:v1 (beyond keep_images 1)", got)
	}
	if got := countOf(p.events(), deploy.EventImageRemoved); got != 2 || passes != 1 {
		t.Fatalf("%d image.removed events, %d passes told", got, passes)
	}
	if again := r.ended(imagesPruned{}, false); again != 0 {
		t.Fatalf("another pass asked for by %d", again)
	}
}

func TestRetention_CutShort(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	cfg.Docker.KeepImages = 1
	p := newPartEnv(t, cfg)
	p.rt.image("web:v1", fakeImage{}, true)
	p.completedDeployment("web:v1")
	r := &imageRetention{env: p.env}
	defer p.rt.hold("Images")()
	r.start(1, protection{}, nil)
	r.start(2, protection{}, nil)
	r.cancel() // a pause
	msg := sent[imagesPruned](p)
	if msg.err == nil {
		t.Fatal("a cancelled pass reports no error")
	}
	if again := r.ended(msg, true); again != 0 || r.running() != nil {
		t.Fatalf("a pass cut short asks for another (%d) or runs on", again)
	}
	if evs := p.events(); len(evs) != 0 {
		t.Fatalf("a pass cut short recorded %v", evs)
	}
}

func TestRetention_KeepAll(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	cfg.Docker.KeepImages = 0
	p := newPartEnv(t, cfg)
	r := &imageRetention{env: p.env}
	r.start(1, protection{}, nil)
	if r.running() != nil {
		t.Fatal("keep_images 0 runs a pass")
	}
	p.quietInbox()
}
