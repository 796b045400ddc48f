package api

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// handleMetrics serves GET /metrics (docs/metrics.md, "Families"): what the backend's
// registry gathers, through promhttp, in the Prometheus text format (or in
// what the scraper asks for with Accept: OpenMetrics, protobuf), gzipped
// when it accepts that. The route has the API's loopback Host rule.
func (s *server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(s.b.Metrics(), promhttp.HandlerOpts{
		ErrorLog:      errorLog{s.log},
		ErrorHandling: promhttp.ContinueOnError, // a failing collector costs its series, not the scrape
	}).ServeHTTP(w, r)
}

// errorLog is promhttp's error log on the API's logger.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) { l.log.Error("metrics", "err", fmt.Sprint(v...)) }
