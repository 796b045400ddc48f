package cli

import (
	"context"
	"fmt"

	"github.com/bluegreen/bluegreen/deploy"
)

// eventsPage is how many events one request of `ctl events` asks for.
const eventsPage = 1000

// DefaultEventsShown is how many of the latest events `ctl events` prints.
const DefaultEventsShown = 50

// ctlEvents runs `ctl events [--app APP] [--limit N] [--follow]`: the audit trail, live with --follow.
func ctlEvents(ctx context.Context, c *ctl, in *parsed) int {
	limit, err := in.intFlag("limit", DefaultEventsShown)
	if err != nil {
		return c.usageErr("events", err)
	}
	app := in.get("app")
	follow := in.has("follow")

	var stream <-chan deploy.Event
	var errc <-chan error
	if follow {
		// Open the stream first, so nothing falls between history and live events.
		stream, errc, err = c.client.StreamEvents(ctx, app)
		if err != nil {
			return c.fail(err)
		}
	}
	latest, err := c.latestEvents(ctx, app, limit)
	if err != nil {
		return c.fail(err)
	}
	var lastID int64
	for _, ev := range latest {
		c.printEvent(ev)
		lastID = ev.ID
	}
	if !follow {
		return ExitOK
	}
	for {
		select {
		case <-ctx.Done():
			return ExitOK
		case ev, ok := <-stream:
			if !ok {
				stream = nil
				continue
			}
			if ev.ID != 0 && ev.ID <= lastID {
				continue
			}
			c.printEvent(ev)
		case err := <-errc:
			if err == nil || ctx.Err() != nil {
				return ExitOK
			}
			return c.fail(err)
		}
	}
}

// latestEvents pages through the audit trail and keeps the last limit events.
func (c *ctl) latestEvents(ctx context.Context, app string, limit int) ([]deploy.Event, error) {
	if limit == 0 {
		return nil, nil
	}
	var ring []deploy.Event
	var after int64
	for {
		page, err := c.client.Events(ctx, app, after, eventsPage)
		if err != nil {
			return nil, err
		}
		ring = append(ring, page...)
		if len(ring) > limit {
			ring = append(ring[:0:0], ring[len(ring)-limit:]...)
		}
		if len(page) < eventsPage {
			return ring, nil
		}
		after = page[len(page)-1].ID
	}
}

func (c *ctl) printEvent(ev deploy.Event) {
	if c.json {
		writeJSONLine(c.stdout, ev)
		return
	}
	fmt.Fprintln(c.stdout, c.fmt.eventLine(ev))
}
