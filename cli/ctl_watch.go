package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

// ANSI sequences of watch's full-screen view on a terminal: it draws on
// the alternate screen (as less and top do) and gives the screen back as
// it was when it ends; each frame starts at the top left, every line and
// the rest of the screen cleared after it.
const (
	ansiEnter     = "\x1b[?1049h\x1b[?25l" // alternate screen, cursor hidden
	ansiLeave     = "\x1b[?25h\x1b[?1049l" // cursor shown, the screen as it was
	ansiHome      = "\x1b[H"
	ansiClearLine = "\x1b[K"
	ansiClearDown = "\x1b[J"
)

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
			if w.tty {
				w.measure()
			}
			return w.run(ctx)
		}),
	}
}

// watcher redraws the apps table on each event of the live stream.
type watcher struct {
	c      *ctl
	tty    bool
	width  int // the terminal's columns and rows (tty only; 0: unknown)
	height int
	recent []deploy.Event
	last   []byte // last frame printed (non-terminal output prints only changes)

	events <-chan deploy.Event
	errc   <-chan error
	retry  *time.Ticker // while the stream is down: when to open it again
}

// run watches until ctx ends (Ctrl-C: exit 0) or the supervisor cannot be
// reached. On a terminal it draws on the alternate screen and gives the
// screen back as it was when it ends: no frame is left behind.
func (w *watcher) run(ctx context.Context) int {
	if w.tty {
		io.WriteString(w.c.stdout, ansiEnter)
		defer io.WriteString(w.c.stdout, ansiLeave)
	}
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
	var resized chan os.Signal // the terminal's size changed
	if w.tty {
		resized = make(chan os.Signal, 1)
		signal.Notify(resized, syscall.SIGWINCH)
		defer signal.Stop(resized)
	}
	for {
		select {
		case <-ctx.Done():
			return ExitOK
		case <-resized:
			w.measure()
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
	if w.tty {
		frame := w.screen(apps)
		w.c.stdout.Write(frame)
		w.last = frame
		return 0, true
	}
	var frame bytes.Buffer
	if w.c.json {
		writeJSONLine(&frame, orEmpty(apps))
	} else {
		w.c.fmt.appsTable(&frame, apps)
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

// measure reads the terminal's size.
func (w *watcher) measure() {
	w.width, w.height = termWidth(w.c.stdout), termHeight(w.c.stdout)
}

// screen is a terminal frame: a title line, the apps table and the recent
// events, each line within the terminal's width (the table drops its least
// useful columns first) and no more lines than its height; drawn from the
// top left over the frame before.
func (w *watcher) screen(apps []deploy.AppStatus) []byte {
	var body bytes.Buffer
	fmt.Fprintf(&body, "bluegreen %s  %s  (Ctrl-C to quit)\n\n", w.c.addr, w.c.fmt.now().Format("15:04:05"))
	w.c.fmt.appsTableFit(&body, apps, w.width)
	if len(w.recent) > 0 {
		fmt.Fprintln(&body, "\nrecent events:")
		for _, ev := range w.recent {
			fmt.Fprintf(&body, "  %s\n", w.c.fmt.eventLine(ev))
		}
	}
	lines := strings.Split(strings.TrimSuffix(body.String(), "\n"), "\n")
	if w.height > 1 && len(lines) > w.height {
		more := len(lines) - (w.height - 1)
		lines = append(lines[:w.height-1], fmt.Sprintf("… %d more lines: a taller terminal shows them", more))
	}
	var frame bytes.Buffer
	frame.WriteString(ansiHome)
	for i, l := range lines {
		if w.width > 0 {
			l = cutRunes(l, w.width)
		}
		frame.WriteString(l)
		frame.WriteString(ansiClearLine)
		if i < len(lines)-1 {
			frame.WriteString("\n")
		}
	}
	frame.WriteString(ansiClearDown)
	return frame.Bytes()
}
