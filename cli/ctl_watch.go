package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

// ANSI sequences of watch's full-screen view: cursor home, clear screen.
const ansiClear = "\x1b[H\x1b[2J"

// watchReconnect is how often watch retries a lost event stream.
const watchReconnect = 5 * time.Second

// watchRecentEvents is how many recent events watch shows under the table.
const watchRecentEvents = 5

func ctlWatch(ctx context.Context, c *ctl, in *parsed) int {
	w := &watcher{c: c, tty: isTerminal(c.stdout)}
	return w.run(ctx)
}

// watcher redraws the apps table on each event of the live stream.
type watcher struct {
	c      *ctl
	tty    bool
	recent []deploy.Event
	last   []byte // last frame printed (non-terminal output prints only changes)
}

func (w *watcher) run(ctx context.Context) int {
	events, errc, err := w.c.client.StreamEvents(ctx, "")
	if err != nil {
		var ce *api.ConnError
		if errors.As(err, &ce) {
			return w.c.fail(err)
		}
		events, errc = nil, nil
		fmt.Fprintf(w.c.stderr, "note: event stream unavailable (%v): refreshing every %s\n", err, watchReconnect)
	}
	if code, ok := w.draw(ctx); !ok {
		return code
	}
	refresh := time.NewTicker(w.c.refresh)
	defer refresh.Stop()
	var reconnect <-chan time.Time
	var reconnectTicker *time.Ticker
	if events == nil {
		reconnectTicker = time.NewTicker(watchReconnect)
		reconnect = reconnectTicker.C
	}
	defer func() {
		if reconnectTicker != nil {
			reconnectTicker.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ExitOK
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			w.remember(ev)
			// Coalesce a burst of events into one redraw.
			for more := true; more; {
				select {
				case ev, ok := <-events:
					if !ok {
						events, more = nil, false
						break
					}
					w.remember(ev)
				default:
					more = false
				}
			}
			if code, ok := w.draw(ctx); !ok {
				return code
			}
		case err, ok := <-errc:
			if ctx.Err() != nil {
				return ExitOK
			}
			events, errc = nil, nil
			if ok && err != nil {
				fmt.Fprintf(w.c.stderr, "note: event stream lost (%v): reconnecting\n", err)
			}
			reconnectTicker = time.NewTicker(watchReconnect)
			reconnect = reconnectTicker.C
		case <-reconnect:
			ev, ec, err := w.c.client.StreamEvents(ctx, "")
			if err == nil {
				events, errc = ev, ec
				reconnectTicker.Stop()
				reconnectTicker, reconnect = nil, nil
			}
			if code, ok := w.draw(ctx); !ok {
				return code
			}
		case <-refresh.C:
			if code, ok := w.draw(ctx); !ok {
				return code
			}
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
		if apps == nil {
			apps = []deploy.AppStatus{}
		}
		writeJSONLine(&frame, apps)
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

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
