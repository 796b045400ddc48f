#!/usr/bin/env bash
# Builds the demo images bluegreen-demo:v1 and bluegreen-demo:v2 (and
# bluegreen-demo:broken, whose health check fails, and bluegreen-demo:flaky,
# whose GET / answers 500 for 30% of requests while its health check
# passes: docs/verification.md) from testdata/testapp, FROM scratch,
# locally: no registry needed.
set -euo pipefail
cd "$(dirname "$0")/.."
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/testapp" ./testdata/testapp
build() { # tag, extra ENV lines
  printf 'FROM scratch\nCOPY testapp /testapp\nENV VERSION=%s\n%sEXPOSE 3000\nENTRYPOINT ["/testapp"]\n' "$2" "$3" >"$ctx/Dockerfile"
  if ! out=$(docker build -q -t "$1" "$ctx" 2>&1); then
    echo "$out" >&2
    exit 1
  fi
  echo "built $1"
}
build bluegreen-demo:v1 v1 ''
build bluegreen-demo:v2 v2 ''
build bluegreen-demo:broken broken $'ENV HEALTH_MODE=fail\n'
build bluegreen-demo:flaky flaky $'ENV FAIL_RATE=30\n'
