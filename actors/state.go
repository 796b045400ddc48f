package actors

import (
	"context"
	"errors"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/store"
)

// appRecord is the app's row in the store: the active color, the image it
// serves and the one asked for, and the status last recorded. Only its
// methods change it, and each change is written at once; the status it
// records is derived by the app actor (status.go).
type appRecord struct {
	env *env
	st  store.AppState
}

// load reads the app's row; an app the store does not know yet has none.
func (r *appRecord) load(ctx context.Context) {
	st, err := r.env.deps.store.GetApp(ctx, r.env.cfg.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		st = store.AppState{Name: r.env.cfg.Name}
	case err != nil:
		r.env.log.Error("read app state", keyErr, err)
		st = store.AppState{Name: r.env.cfg.Name}
	}
	r.st = st
}

// active is the active color; "" before the first deployment switched.
func (r *appRecord) active() deploy.Color { return r.st.ActiveColor }

// current is the image the active color serves.
func (r *appRecord) current() string { return r.st.CurrentImage }

// desired is the image last asked for.
func (r *appRecord) desired() string { return r.st.DesiredImage }

// status is the status last recorded, and why.
func (r *appRecord) status() (deploy.State, string) { return r.st.Status, r.st.Error }

// desire records image as the one asked for.
func (r *appRecord) desire(image string) {
	r.st.DesiredImage = image
	r.save()
}

// settle records that what was asked for did not happen: the desired image
// is what serves, so a restart does not try the failed image again.
func (r *appRecord) settle() {
	r.st.DesiredImage = r.st.CurrentImage
	r.save()
}

// switchTo records color, serving image, as the active color; when the
// store cannot write it, nothing changes. It returns the color active
// before.
func (r *appRecord) switchTo(color deploy.Color, image string) (from deploy.Color, err error) {
	from, fromImage := r.st.ActiveColor, r.st.CurrentImage
	r.st.ActiveColor, r.st.CurrentImage = color, image
	if err := r.put(); err != nil {
		r.st.ActiveColor, r.st.CurrentImage = from, fromImage
		return from, err
	}
	return from, nil
}

// setStatus records the app's status st (why: what is wrong) and reports
// the one before, and whether it changed.
func (r *appRecord) setStatus(st deploy.State, why string) (from deploy.State, changed bool) {
	from = r.st.Status
	if st == from && why == r.st.Error {
		return from, false
	}
	r.st.Status, r.st.Error = st, why
	r.save()
	return from, true
}

func (r *appRecord) save() {
	if err := r.put(); err != nil {
		r.env.log.Error("save app state", keyErr, err)
	}
}

// put writes the app's row to the store.
func (r *appRecord) put() error {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	r.st.Name = r.env.cfg.Name
	return r.env.deps.store.PutApp(ctx, r.st)
}
