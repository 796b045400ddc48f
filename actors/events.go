package actors

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/bluegreen/bluegreen/docker"
)

// The Docker event stream (CONTRACT §6.8). One stream serves the whole
// process: the supervisor runs watchEvents while it drives Docker, and routes
// each event, as a containerEvent, to the app actor that the container's
// bluegreen.app label names. An app actor learns of an exit, an OOM kill or
// a restart of its containers from it within milliseconds; its reconcile
// tick, every few seconds, stays as the safety net for anything missed.
//
// When the stream breaks (Docker went away or restarted), watchEvents pings
// Docker with backoff; once Docker answers it opens a new stream, replaying
// from the last event seen, and asks every app actor to resync (dockerResync):
// to read its containers again, since a restart of the daemon may have
// stopped them without an event reaching us.

// containerEvent is a Docker event of one of an app's containers.
type containerEvent struct{ ev docker.Event }

// dockerResync tells an app actor that the event stream was down: its view
// of the containers may be stale.
type dockerResync struct{}

// Backoff of watchEvents while Docker does not answer. Its cap bounds how
// long after Docker answers again the apps resync.
const (
	eventsBackoffMin = 100 * time.Millisecond
	eventsBackoffMax = time.Second
	// eventsSteady is how long a stream must have lasted for the backoff to
	// start over after it breaks.
	eventsSteady = 10 * time.Second
)

// watchEvents streams the events of bluegreen's containers to send until ctx
// ends, reconnecting and resyncing as described above.
func watchEvents(ctx context.Context, rt Runtime, send func(any), log *slog.Logger) {
	var lastSeen time.Time // the newest event seen: a new stream replays from there
	backoff := eventsBackoffMin
	broken := false // the stream broke and the apps have not resynced since
	for ctx.Err() == nil {
		err := pingFor(ctx, rt)
		if err == nil {
			// Times are the daemon's clock: the replay starts from the last
			// event it sent, or from now on the first stream.
			var evs <-chan docker.Event
			evs, err = rt.Events(ctx, lastSeen, map[string]string{LabelManaged: "true"})
			if err == nil {
				if broken {
					log.Info("docker event stream reconnected: resyncing the apps")
					send(dockerResync{})
					broken = false
				}
				opened, replayedUpTo := time.Now(), lastSeen
				for ev := range evs {
					if !replayedUpTo.IsZero() && !ev.Time.After(replayedUpTo) {
						continue // seen on the stream before
					}
					if ev.Time.After(lastSeen) {
						lastSeen = ev.Time
					}
					send(containerEvent{ev: ev})
				}
				if ctx.Err() != nil {
					return
				}
				if time.Since(opened) > eventsSteady {
					backoff = eventsBackoffMin
				}
				err = errors.New("the stream ended")
			}
		}
		if !broken {
			log.Warn("docker event stream lost: reconnecting", keyErr, err)
			broken = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, eventsBackoffMax)
	}
}

func pingFor(ctx context.Context, rt Runtime) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return rt.Ping(ctx)
}
