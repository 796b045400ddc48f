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

// Image retention (docs/deployments.md, "Image retention"): after a
// completed deployment, the images this app's deployments used beyond the
// newest docker.keep_images distinct ones still present are removed by tag,
// never one that a container uses, nor the image of the active or the
// standby color, nor one that another app deployed, nor any image no
// deployment of this app used. The work runs in a goroutine that reports
// back with imagesPruned; the next deployment's pull waits for it, so it
// never races a removal of its own image.

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
	after        []<-chan struct{} // removals of containers to wait for first (appContainers.removals)
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
	for _, op := range job.after {
		if err := waitOp(ctx, op); err != nil {
			res.err = fmt.Errorf("wait for a standby's removal: %w", err)
			return res
		}
	}
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

// imageRetention is an app actor's image retention: the pass that runs, and a
// completed deployment that asks for another after it. Only its methods
// change them; what a pass must not remove, the actor says.
type imageRetention struct {
	env   *env
	done  chan struct{}      // closed when the running pass ends; nil when none runs
	stop  context.CancelFunc // cancels it
	again int64              // a deployment that completed during the pass: run another after it
}

// start starts a pass after deployment id completed, unless
// docker.keep_images is 0 or one runs already (then another runs after it).
func (r *imageRetention) start(id int64, protect protection, after []<-chan struct{}) {
	keep := r.env.cfg.Docker.KeepImages
	if keep <= 0 {
		return
	}
	if r.done != nil {
		r.again = id
		return
	}
	job := pruneJob{app: r.env.cfg.Name, keep: keep, deploymentID: id, protect: protect, after: after}
	ctx, cancel := context.WithTimeout(context.Background(), pruneTimeout)
	done := make(chan struct{})
	r.done, r.stop = done, cancel
	send, st, rt := r.env.send, r.env.deps.store, r.env.deps.rt
	go func() {
		defer close(done)
		defer cancel()
		send(prune(ctx, st, rt, job))
	}()
}

// running is closed when the running pass ends; nil when none runs. A
// deployment's pull waits for it, so that a pass never removes its image.
func (r *imageRetention) running() <-chan struct{} { return r.done }

// cancel cuts the running pass short.
func (r *imageRetention) cancel() {
	if r.stop != nil {
		r.stop()
	}
}

// ended records what a pass removed and what it could not (a failure never
// touches a deployment) and returns the completed deployment that asks for
// another pass (0: none). A pass cut short by a pause or the stop (cut) is
// not recorded, and the next completed deployment prunes.
func (r *imageRetention) ended(msg imagesPruned, cut bool) (again int64) {
	r.done, r.stop = nil, nil
	if cut {
		r.again = 0
		return 0
	}
	e, job := r.env, msg.job
	if msg.err != nil {
		e.log.Warn("image retention skipped", keyDeploymentID, job.deploymentID, keyErr, msg.err)
	}
	for ref, why := range msg.kept {
		e.log.Debug("image kept beyond keep_images", keyImage, ref, "reason", why)
	}
	for _, rm := range msg.removals {
		data := map[string]any{"image": rm.ref, "id": rm.image.ID, "last_deployment_id": rm.lastDeploymentID}
		if rm.err != nil {
			data["error"] = rm.err.Error()
			e.log.Warn("image not removed", keyImage, rm.ref, keyErr, rm.err)
			e.event(job.deploymentID, deploy.EventImageRemoveFailed, fmt.Sprintf("image %s not removed: %v", rm.ref, rm.err), data)
			continue
		}
		if rm.image.SizeBytes > 0 {
			data["size_bytes"] = rm.image.SizeBytes
		}
		e.log.Info("image removed", keyImage, rm.ref, "id", rm.image.ID, "size_bytes", rm.image.SizeBytes)
		e.event(job.deploymentID, deploy.EventImageRemoved, fmt.Sprintf("image %s removed (keep_images %d)", rm.ref, job.keep), data)
	}
	if e.deps.timers.pruned != nil {
		e.deps.timers.pruned(e.cfg.Name)
	}
	again, r.again = r.again, 0
	return again
}

// imagesError gives a failure to list an app's images its code.
func imagesError(app string, err error) error {
	if errors.Is(err, docker.ErrUnavailable) {
		return &deploy.Error{Code: deploy.EDOCKERUNAVAILABLE, Message: fmt.Sprintf("images of %s: Docker unreachable: %v", app, err)}
	}
	return fmt.Errorf("images of %s: %w", app, err)
}

// mergeSorted returns the sorted union of two sorted lists.
func mergeSorted(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
