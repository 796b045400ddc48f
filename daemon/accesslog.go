package daemon

import (
	"fmt"
	"log/slog"

	"github.com/bluegreen/bluegreen/internal/logsink"
	"github.com/bluegreen/bluegreen/proxy"
)

// accessLog is where the proxies write their access log (docs/traffic.md,
// "Access log"): the file of serve --access-log, or serve's log output.
type accessLog struct {
	sink   *logsink.Sink
	file   string // --access-log; "" for the log output
	format proxy.LogFormat
	closed bool
}

// openAccessLog opens the access log of o: its --access-log FILE
// (appended), else out, the log output, in o's log format.
func openAccessLog(o Options, out *logsink.Sink) (*accessLog, error) {
	al := &accessLog{sink: out, file: o.AccessLog, format: proxy.LogText}
	if o.LogFormat == "json" {
		al.format = proxy.LogJSON
	}
	if o.AccessLog == "" {
		return al, nil
	}
	sink, err := logsink.OpenFile(o.AccessLog, logsink.Options{})
	if err != nil {
		return nil, fmt.Errorf("--access-log %s: %w", o.AccessLog, err)
	}
	al.sink = sink
	return al, nil
}

// reopen opens the --access-log FILE again by its name (SIGHUP), for
// logrotate; it does nothing for the log output.
func (al *accessLog) reopen(log *slog.Logger) {
	if al.file == "" {
		return
	}
	if err := al.sink.Reopen(); err != nil {
		log.Error("reopen the access log (SIGHUP): records go to the file as it was", "file", al.file, "err", err)
		return
	}
	log.Info("access log reopened", "file", al.file)
}

// close writes what is buffered and closes the --access-log FILE, saying
// how many records were dropped; the log output is closed by Run. Safe to
// call twice.
func (al *accessLog) close(log *slog.Logger) {
	if al.file == "" || al.closed {
		return
	}
	al.closed = true
	if err := al.sink.Close(); err != nil {
		log.Warn("close the access log", "file", al.file, "err", err)
	}
	if n := al.sink.Dropped(); n > 0 {
		log.Warn("access log records dropped: the file was too slow or failing", "file", al.file, "dropped", n)
	}
}
