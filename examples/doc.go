// Package examples holds no code: its tests check the examples beside it
// (the Grafana dashboard and the Prometheus scrape configurations) against
// the metrics bluegreen exports. The Ansible role and the s3dock poller are
// tested in internal/release.
package examples
