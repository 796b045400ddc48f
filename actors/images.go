package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/store"
)

// Image retention (CONTRACT §6.5): after a completed deployment, the images
// this app's deployments used beyond the newest docker.keep_images distinct
// ones still present are removed by tag, never one that a container uses,
// nor the image of the active or the standby color, nor one that another
// app deployed, nor any image no deployment of this app used. The work runs
// in a goroutine that reports back with imagesPruned; the next deployment's
// pull waits for it, so it never races a removal of its own image.

// pruneTimeout bounds one retention pass.
const pruneTimeout = 2 * time.Minute

// appImage is one of an app's images: a deployed reference and, when it is
// present in Docker, the image it names.
type appImage struct {
	ref              string // normalized (docker.NormalizeRef)
	lastDeploymentID int64
	otherApps        []string
	present          bool
	image            docker.Image
}

// appImages joins what the store says the app deployed with what Docker has:
// the app's images, newest first, references that name the same thing
// ("web" and "web:latest") merged.
func appImages(ctx context.Context, st *store.Store, rt Runtime, app string) ([]appImage, error) {
	deployed, err := st.DeployedImages(ctx, app)
	if err != nil {
		return nil, err
	}
	local, err := rt.Images(ctx)
	if err != nil {
		return nil, err
	}
	byRef := map[string]docker.Image{}
	for _, im := range local {
		for _, r := range im.Refs {
			byRef[r] = im
		}
	}
	var out []appImage
	index := map[string]int{}
	for _, d := range deployed { // newest first
		ref := docker.NormalizeRef(d.Image)
		if i, seen := index[ref]; seen {
			out[i].otherApps = mergeSorted(out[i].otherApps, d.OtherApps)
			continue
		}
		im, present := byRef[ref]
		index[ref] = len(out)
		out = append(out, appImage{ref: ref, lastDeploymentID: d.LastDeploymentID, otherApps: d.OtherApps, present: present, image: im})
	}
	return out, nil
}

// imageRemoval is an image retention removes, or why it could not.
type imageRemoval struct {
	image            docker.Image
	ref              string
	lastDeploymentID int64
	err              error
}

// protection is what a retention pass must never remove, taken from the app
// actor's state when the deployment completed.
type protection struct {
	refs map[string]bool // the images of the active and the standby color, the desired and queued ones
}

// chooseRemovals picks the images to remove: of the app's images present in
// Docker (newest first), those beyond the newest keep, unless a container
// uses them (inUse: image IDs), they are protected, or another app
// deployed them too. It returns them oldest last, and why each other image
// beyond keep stays.
func chooseRemovals(images []appImage, keep int, inUse map[string]bool, p protection) (remove []appImage, kept map[string]string) {
	kept = map[string]string{}
	if keep <= 0 {
		return nil, kept
	}
	n := 0
	protectedIDs := map[string]bool{}
	for _, im := range images {
		if im.present && p.refs[im.ref] {
			protectedIDs[im.image.ID] = true
		}
	}
	for _, im := range images {
		if !im.present {
			continue
		}
		n++
		switch {
		case n <= keep:
			continue
		case p.refs[im.ref] || protectedIDs[im.image.ID]:
			kept[im.ref] = "the image of the active or standby color"
		case inUse[im.image.ID]:
			kept[im.ref] = "a container uses it"
		case len(im.otherApps) > 0:
			kept[im.ref] = fmt.Sprintf("deployed by %v too", im.otherApps)
		default:
			remove = append(remove, im)
		}
	}
	return remove, kept
}

// pruneJob is one retention pass, as the app actor hands it to its goroutine.
type pruneJob struct {
	app          string
	keep         int
	deploymentID int64 // the completed deployment that asked for it
	protect      protection
}

// imagesPruned reports a retention pass to the app actor.
type imagesPruned struct {
	job      pruneJob
	removals []imageRemoval
	kept     map[string]string
	err      error // the pass could not list the images
}

// prune runs one retention pass: it lists, chooses and removes.
func prune(ctx context.Context, st *store.Store, rt Runtime, job pruneJob) imagesPruned {
	res := imagesPruned{job: job}
	images, err := appImages(ctx, st, rt, job.app)
	if err != nil {
		res.err = err
		return res
	}
	inUse, err := rt.ImagesInUse(ctx)
	if err != nil {
		res.err = err
		return res
	}
	remove, kept := chooseRemovals(images, job.keep, inUse, job.protect)
	res.kept = kept
	for _, im := range remove {
		err := rt.RemoveImage(ctx, im.ref)
		if errors.Is(err, docker.ErrImageMissing) {
			continue // removed meanwhile: nothing to report
		}
		res.removals = append(res.removals, imageRemoval{image: im.image, ref: im.ref, lastDeploymentID: im.lastDeploymentID, err: err})
	}
	return res
}

// pruneImages starts a retention pass after deployment d completed, unless
// docker.keep_images is 0 or one runs already (then it runs again after).
func (a *appActor) pruneImages(d deploy.Deployment) {
	keep := a.cfg.Docker.KeepImages
	if keep <= 0 {
		return
	}
	if a.pruning != nil {
		a.pruneAgain = d.DeploymentID
		return
	}
	job := pruneJob{app: a.cfg.Name, keep: keep, deploymentID: d.DeploymentID, protect: a.protection()}
	ctx, cancel := context.WithTimeout(context.Background(), pruneTimeout)
	done := make(chan struct{})
	a.pruning, a.stopPruning = done, cancel
	eng, self, st, rt := a.eng, a.self, a.deps.store, a.deps.rt
	go func() {
		defer close(done)
		defer cancel()
		eng.Send(self, prune(ctx, st, rt, job))
	}()
}

// protection is what no retention pass may remove now.
func (a *appActor) protection() protection {
	p := protection{refs: map[string]bool{}}
	add := func(ref string) {
		if ref != "" {
			p.refs[docker.NormalizeRef(ref)] = true
		}
	}
	for _, s := range a.slots {
		add(s.image)
	}
	add(a.state.CurrentImage)
	add(a.state.DesiredImage)
	if a.queued != nil {
		add(a.queued.ToImage)
	}
	if a.run != nil {
		add(a.run.dep.ToImage)
	}
	return p
}

// onImagesPruned records what a retention pass removed and what it could
// not; a failure never touches a deployment.
func (a *appActor) onImagesPruned(msg imagesPruned) {
	a.pruning, a.stopPruning = nil, nil
	if !a.gate.drives() { // cut short by a pause or the stop (pause.go): the next completed deployment prunes
		a.pruneAgain = 0
		return
	}
	job := msg.job
	if msg.err != nil {
		a.log.Warn("image retention skipped", keyDeploymentID, job.deploymentID, keyErr, msg.err)
	}
	for ref, why := range msg.kept {
		a.log.Debug("image kept beyond keep_images", keyImage, ref, "reason", why)
	}
	for _, r := range msg.removals {
		data := map[string]any{"image": r.ref, "id": r.image.ID, "last_deployment_id": r.lastDeploymentID}
		if r.err != nil {
			data["error"] = r.err.Error()
			a.log.Warn("image not removed", keyImage, r.ref, keyErr, r.err)
			a.deps.rec.event(a.cfg.Name, job.deploymentID, deploy.EventImageRemoveFailed,
				fmt.Sprintf("image %s not removed: %v", r.ref, r.err), data)
			continue
		}
		if r.image.SizeBytes > 0 {
			data["size_bytes"] = r.image.SizeBytes
		}
		a.log.Info("image removed", keyImage, r.ref, "id", r.image.ID, "size_bytes", r.image.SizeBytes)
		a.deps.rec.event(a.cfg.Name, job.deploymentID, deploy.EventImageRemoved,
			fmt.Sprintf("image %s removed (keep_images %d)", r.ref, job.keep), data)
	}
	if a.deps.timers.pruned != nil {
		a.deps.timers.pruned(a.cfg.Name)
	}
	if again := a.pruneAgain; again != 0 {
		a.pruneAgain = 0
		a.pruneImages(deploy.Deployment{DeploymentID: again})
	}
}

// Images implements api.Backend: the app's images that bluegreen keeps,
// those its deployments used that are still present in Docker, newest first.
func (s *System) Images(ctx context.Context, app string) ([]deploy.Image, error) {
	if err := s.known(app); err != nil {
		return nil, err
	}
	images, err := appImages(ctx, s.store, s.rt, app)
	if err != nil {
		return nil, imagesError(app, err)
	}
	inUse, err := s.rt.ImagesInUse(ctx)
	if err != nil {
		return nil, imagesError(app, err)
	}
	out := []deploy.Image{}
	for _, im := range images {
		if !im.present {
			continue
		}
		out = append(out, deploy.Image{Image: im.ref, ID: im.image.ID, SizeBytes: im.image.SizeBytes,
			CreatedAt: im.image.Created, InUse: inUse[im.image.ID], LastDeploymentID: im.lastDeploymentID})
	}
	return out, nil
}

// imagesError gives a failure to list an app's images its code.
func imagesError(app string, err error) error {
	if errors.Is(err, docker.ErrUnavailable) {
		return &deploy.Error{Code: deploy.EUNAVAILABLE, Message: fmt.Sprintf("images of %s: Docker unreachable: %v", app, err)}
	}
	return fmt.Errorf("images of %s: %w", app, err)
}

// mergeSorted returns the sorted union of two sorted lists.
func mergeSorted(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
