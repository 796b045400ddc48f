#!/usr/bin/env bash
# The tests: make sure Docker runs (installing and starting it where it can)
# and chromium is installed (for the dashboard's browser test), then run every
# test with the race detector against the real daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-docker.sh
scripts/ensure-chromium.sh
go vet ./... ./testdata/testapp
go test -race -count=1 -v -timeout 40m "$@" ./... ./testdata/testapp
