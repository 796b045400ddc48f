package proxy

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// A dead container makes every request routed to it fail the same way:
// one warning per request would be thousands of lines a second. A
// warnLimiter lets one line of a kind (per app and color, since each
// target has its own) through per second and counts the rest; the count
// goes out as the attribute suppressed with the next line, or in a line of
// its own a second after the last one when no further line comes, so that
// every failure is accounted for. Only failing requests reach it.

// warnEvery is the least time between two lines of one kind.
const warnEvery = time.Second

// warnLimiter rate-limits one kind of warning.
type warnLimiter struct {
	log  *slog.Logger
	msg  string
	base []any // attributes of every line (color, addr)
	now  func() time.Time

	next       atomic.Int64 // Unix nanoseconds from which the next line may go
	suppressed atomic.Int64 // lines not logged since the last one
}

func newWarnLimiter(log *slog.Logger, msg string, base ...any) *warnLimiter {
	return &warnLimiter{log: log, msg: msg, base: base, now: time.Now}
}

// warn logs the limiter's message with its base attributes and args, or
// counts it when a line went out less than warnEvery ago.
func (l *warnLimiter) warn(args ...any) {
	if !l.take() {
		if l.suppressed.Add(1) == 1 {
			// The first line held back since the last one: make sure
			// the count goes out even when no further line comes.
			wait := time.Duration(l.next.Load() - l.now().UnixNano())
			time.AfterFunc(max(wait, 0), l.flush)
		}
		return
	}
	attrs := append(append(make([]any, 0, len(l.base)+len(args)+2), l.base...), args...)
	if n := l.suppressed.Swap(0); n > 0 {
		attrs = append(attrs, "suppressed", n)
	}
	l.log.Warn(l.msg, attrs...)
}

// take claims the slot of the next line; false when it is not due yet or
// another goroutine claimed it.
func (l *warnLimiter) take() bool {
	now := l.now().UnixNano()
	next := l.next.Load()
	return now >= next && l.next.CompareAndSwap(next, now+int64(warnEvery))
}

// flush logs the count of the lines held back, if no line took it since.
func (l *warnLimiter) flush() {
	if l.suppressed.Load() == 0 || !l.take() {
		return // a line carried the count, or will (it armed its own flush)
	}
	if n := l.suppressed.Swap(0); n > 0 {
		l.log.Warn(l.msg, append(append([]any{}, l.base...), "suppressed", n)...)
	}
}
