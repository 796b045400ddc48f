package actors

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/metrics"
	"github.com/bluegreen/bluegreen/store"
)

// storeTimeout bounds one store write made from an actor.
const storeTimeout = 5 * time.Second

// recorder writes audit events to the store, then publishes them to API
// subscribers. It is shared by all actors; the store serialises writes.
type recorder struct {
	store   *store.Store
	hub     *hub
	log     *slog.Logger
	metrics *metrics.Registry // counts deployment ends and image removals from the events
}

// event records one audit event and returns its ID (0 when it could not be
// written). A write failure is logged, never fatal: the deployment goes on
// and the event still reaches live subscribers.
func (r *recorder) event(app string, deploymentID int64, typ deploy.EventType, msg string, data map[string]any) int64 {
	e := deploy.Event{App: app, Type: typ, Message: msg}
	if deploymentID > 0 {
		id := deploymentID
		e.DeploymentID = &id
	}
	if data != nil {
		b, err := json.Marshal(data)
		if err == nil {
			e.Data = b
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := r.store.AddEvent(ctx, &e); err != nil {
		r.log.Error("record event", keyApp, app, "type", typ, keyErr, err)
		e.At = time.Now().UTC()
	}
	r.metrics.Record(e) // before subscribers hear of it: who saw the event scrapes it counted
	r.hub.publish(e)
	return e.ID
}
