#!/usr/bin/env bash
# The main job: make sure Docker runs, build the demo images and bluegreen,
# then run the supervisor with the demo app of apps.d/ (proxy on :8080,
# management API on 127.0.0.1:7070). Ctrl-C stops it; containers keep running.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-docker.sh
scripts/demo-images.sh
go build -ldflags "-X github.com/bluegreen/bluegreen/cli.Version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o bluegreen .
echo "bluegreen built; try in another shell: ./bluegreen ctl status   |   curl localhost:8080/"
exec ./bluegreen serve --apps apps.d --db bluegreen.db "$@"
