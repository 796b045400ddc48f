package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

// ANSI sequences of watch's full-screen view: cursor home, clear screen.
const ansiClear = "\x1b[H\x1b[2J"

// watchReconnect is how often watch retries a lost event stream.
const watchReconnect = 5 * time.Second

// watchRecentEvents is how many recent events watch shows under the table.
const watchRecentEvents = 5

// watchCmd builds `bluegreen ctl watch`.
func (c *ctl) watchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "watch",
		Short: "live, self-refreshing status of all apps (Ctrl-C quits)",
		Args:  argsBetween(0, 0),
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			w := &watcher{c: c, tty: c.tty(c.stdout)}
			return w.run(ctx)
		}),
	}
}

// watcher redraws the apps table on each event of the live stream.
type watcher struct {
	c      *ctl
	tty    bool
	recent []deploy.Event
	last   []byte // last frame printed (non-terminal output prints only changes)

	events <-chan deploy.Event
	errc   <-chan error
	retry  *time.Ticker // while the stream is down: when to open it again
}

func (w *watcher) run(ctx context.Context) int {
	if err := w.subscribe(ctx); err != nil {
		var ce *api.ConnError
		if errors.As(err, &ce) {
			return w.c.fail(err)
		}
		fmt.Fprintf(w.c.stderr, "note: event stream unavailable (%v): refreshing every %s\n", err, watchReconnect)
		w.lost()
	}
	defer w.down()
	if code, ok := w.draw(ctx); !ok {
		return code
	}
	refresh := time.NewTicker(w.c.refresh)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return ExitOK
		case ev, ok := <-w.events:
			if !ok {
				w.events = nil
				continue
			}
			w.remember(ev)
			w.coalesce()
		case err, ok := <-w.errc:
			if ctx.Err() != nil {
				return ExitOK
			}
			if ok && err != nil {
				fmt.Fprintf(w.c.stderr, "note: event stream lost (%v): reconnecting\n", err)
			}
			w.lost()
			continue
		case <-w.retrying():
			if w.subscribe(ctx) == nil {
				w.retry.Stop()
				w.retry = nil
			}
		case <-refresh.C:
		}
		if code, ok := w.draw(ctx); !ok {
			return code
		}
	}
}

// subscribe opens the event stream.
func (w *watcher) subscribe(ctx context.Context) error {
	events, errc, err := w.c.client.StreamEvents(ctx, "")
	if err != nil {
		return err
	}
	w.events, w.errc = events, errc
	return nil
}

// down forgets the event stream and stops retrying it.
func (w *watcher) down() {
	w.events, w.errc = nil, nil
	if w.retry != nil {
		w.retry.Stop()
		w.retry = nil
	}
}

// lost drops the event stream and retries it every watchReconnect.
func (w *watcher) lost() {
	w.down()
	w.retry = time.NewTicker(watchReconnect)
}

// retrying ticks while the stream is down.
func (w *watcher) retrying() <-chan time.Time {
	if w.retry == nil {
		return nil
	}
	return w.retry.C
}

// coalesce takes the events already waiting, so a burst makes one redraw.
func (w *watcher) coalesce() {
	for {
		select {
		case ev, ok := <-w.events:
			if !ok {
				w.events = nil
				return
			}
			w.remember(ev)
		default:
			return
		}
	}
}

func (w *watcher) remember(ev deploy.Event) {
	w.recent = append(w.recent, ev)
	if len(w.recent) > watchRecentEvents {
		w.recent = w.recent[len(w.recent)-watchRecentEvents:]
	}
}

// draw fetches the apps and prints a frame; ok is false when watch must end.
func (w *watcher) draw(ctx context.Context) (code int, ok bool) {
	apps, err := w.c.client.Apps(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ExitOK, false
		}
		var ce *api.ConnError
		if errors.As(err, &ce) && w.last != nil {
			// The supervisor may be restarting: keep the screen, say so.
			fmt.Fprintf(w.c.stderr, "%s\n", err)
			return 0, true
		}
		return w.c.fail(err), false
	}
	var frame bytes.Buffer
	if w.c.json {
		writeJSONLine(&frame, orEmpty(apps))
	} else {
		w.c.fmt.appsTable(&frame, apps)
		if w.tty && len(w.recent) > 0 {
			fmt.Fprintln(&frame, "\nrecent events:")
			for _, ev := range w.recent {
				fmt.Fprintf(&frame, "  %s\n", w.c.fmt.eventLine(ev))
			}
		}
	}
	if w.tty {
		fmt.Fprintf(w.c.stdout, "%sbluegreen %s  %s  (Ctrl-C to quit)\n\n%s",
			ansiClear, w.c.addr, w.c.fmt.now().Format("15:04:05"), frame.Bytes())
		w.last = frame.Bytes()
		return 0, true
	}
	if bytes.Equal(frame.Bytes(), w.last) {
		return 0, true
	}
	if w.last != nil && !w.c.json {
		fmt.Fprintln(w.c.stdout)
	}
	w.c.stdout.Write(frame.Bytes())
	w.last = frame.Bytes()
	return 0, true
}
