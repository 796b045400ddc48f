package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/deploy"
)

// eventsPage is how many events one request of `ctl events` asks for.
const eventsPage = 1000

// DefaultEventsShown is how many of the latest events `ctl events` prints.
const DefaultEventsShown = 50

// eventsCmd builds `bluegreen ctl events`.
func (c *ctl) eventsCmd() *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events [--app APP] [--limit N] [--follow]",
		Short: "the audit trail; --follow streams live",
		Args:  argsBetween(0, 0),
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			return c.events(ctx, o)
		}),
	}
	cmd.Flags().StringVar(&o.app, "app", "", "only the events of `APP`")
	cmd.Flags().Var(newCount(&o.limit, DefaultEventsShown), "limit", "how many of the latest events")
	cmd.Flags().BoolVar(&o.follow, "follow", false, "then stream live events")
	_ = cmd.RegisterFlagCompletionFunc("app", func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		return c.appNames(cmd), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// eventsOptions are the flags of ctl events.
type eventsOptions struct {
	app    string
	limit  int
	follow bool
}

// events runs `ctl events`: the audit trail, live with --follow. With
// --json it prints the JSON array of GET /api/events, or with --follow one
// JSON object per line.
func (c *ctl) events(ctx context.Context, o eventsOptions) int {
	app, follow, limit := o.app, o.follow, o.limit
	var err error
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
	if c.json && !follow {
		writeJSON(c.stdout, orEmpty(latest))
		return ExitOK
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
