#!/usr/bin/env bash
# bluegreen-s3dock-poll: one poll of s3dock for one app on this VM.
#
#   bluegreen-s3dock-poll.sh [--wait] APP ENVIRONMENT
#
# Runs `s3dock --json pull APP ENVIRONMENT`, which loads the image the
# environment points at into the local Docker (or finds it already loaded)
# and prints it as JSON, then asks bluegreen to deploy it:
#   POST /api/apps/APP/deploy {"desired_image": IMAGE, "trigger_source": "s3dock"}
# bluegreen answers "unchanged" when that image already serves, so calling
# this every minute (cron, or the systemd timer beside this script) deploys
# each new release once.
#
# Environment:
#   BLUEGREEN_API       the management API: 127.0.0.1:7070 (default) or unix:/path/to.sock
#   S3DOCK              the s3dock executable (default: s3dock on PATH)
#   S3DOCK_FLAGS        global flags for s3dock, e.g. "--profile prod --config /etc/s3dock/config.json5"
#   BLUEGREEN_TIMEOUT   seconds to wait for the API (default 30; with --wait 900)
#
# Exit status: 0 the image is deployed, queued or already serving (with
# --wait: the deployment completed); 1 s3dock, the API or the deployment
# failed (the reason on stderr); 2 bad usage.
set -euo pipefail

prog=bluegreen-s3dock-poll
usage() {
  echo "usage: $prog [--wait] APP ENVIRONMENT" >&2
  exit 2
}
fail() {
  echo "$prog: $*" >&2
  exit 1
}

wait=false
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --wait) wait=true ;;
    -h | --help) usage ;;
    --) shift; args+=("$@"); break ;;
    -*) echo "$prog: unknown flag $1" >&2; usage ;;
    *) args+=("$1") ;;
  esac
  shift
done
[ ${#args[@]} -eq 2 ] || usage
app=${args[0]}
environment=${args[1]}
# The app name rule of bluegreen's configs; it also keeps the URL safe.
[[ $app =~ ^[a-z0-9][a-z0-9_.-]{0,62}$ ]] || { echo "$prog: app name \"$app\": use a-z, 0-9, _ . - (as in apps.d)" >&2; exit 2; }
[ -n "$environment" ] || usage

for tool in curl jq; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (Debian: apt-get install $tool)"
done
s3dock=${S3DOCK:-s3dock}
command -v "$s3dock" >/dev/null 2>&1 || fail "s3dock executable \"$s3dock\" not found: install it or set S3DOCK"

api=${BLUEGREEN_API:-127.0.0.1:7070}
if $wait; then timeout=${BLUEGREEN_TIMEOUT:-900}; else timeout=${BLUEGREEN_TIMEOUT:-30}; fi
[[ $timeout =~ ^[1-9][0-9]*$ ]] || fail "BLUEGREEN_TIMEOUT \"$timeout\": want whole seconds"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. s3dock: load the environment's image and say which it is.
# shellcheck disable=SC2086 # S3DOCK_FLAGS is a list of words
if ! "$s3dock" ${S3DOCK_FLAGS:-} --json pull "$app" "$environment" >"$tmp/pull.json"; then
  why=$(jq -r '.error // empty' "$tmp/pull.json" 2>/dev/null || true)
  fail "s3dock pull $app $environment failed${why:+: $why}"
fi
# {"success": true, "command": "pull", "data": {"image_ref": "web-api:20250701-0915-c0ffee1", ...}}
if ! image=$(jq -er 'if type != "object" or .success == false then empty
                     else .data.image_ref // .image_ref // empty end | strings' "$tmp/pull.json" 2>/dev/null); then
  why=$(jq -r '.error // empty' "$tmp/pull.json" 2>/dev/null || true)
  fail "s3dock pull $app $environment gave no image${why:+: $why} (output: $(head -c 300 "$tmp/pull.json"))"
fi
[[ $image =~ ^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}$ ]] || fail "s3dock named the image \"$image\": not an image reference"

# 2. bluegreen: deploy it (nothing happens when it already serves).
jq -n --arg image "$image" '{desired_image: $image, trigger_source: "s3dock"}' >"$tmp/body.json"
curl_args=(-sS --max-time "$timeout" -o "$tmp/answer.json" -w '%{http_code}'
  -X POST -H 'Content-Type: application/json' --data-binary "@$tmp/body.json")
case $api in
  unix:*) curl_args+=(--unix-socket "${api#unix:}"); base=http://localhost ;;
  *) base=http://$api ;;
esac
url="$base/api/apps/$app/deploy"
$wait && url="$url?wait=true"
rc=0
code=$(curl "${curl_args[@]}" "$url" 2>"$tmp/curl.err") || rc=$?
if [ "$rc" -eq 28 ]; then
  fail "bluegreen at $api did not answer within ${timeout}s (BLUEGREEN_TIMEOUT); the deployment of $image may still run: see bluegreen ctl status $app"
elif [ "$rc" -ne 0 ]; then
  fail "cannot reach bluegreen at $api: is \"bluegreen serve\" running? ($(tr '\n' ' ' <"$tmp/curl.err"))"
fi

status=$(jq -r '.status // empty' "$tmp/answer.json" 2>/dev/null || true)
id=$(jq -r '.deployment_id // empty' "$tmp/answer.json" 2>/dev/null || true)
case $code in
  200 | 202) ;;
  *)
    why=$(jq -r '.error.message // empty' "$tmp/answer.json" 2>/dev/null || true)
    fail "bluegreen answered $code to the deployment of $image to $app: ${why:-$(head -c 300 "$tmp/answer.json")}"
    ;;
esac

case $status in
  started | queued | unchanged | completed)
    echo "$app: $image: deployment ${id:-?} $status"
    ;;
  failed | rolled_back | superseded | interrupted)
    why=$(jq -r '.error // empty' "$tmp/answer.json" 2>/dev/null || true)
    fail "$app: $image: deployment ${id:-?} $status${why:+: $why}"
    ;;
  *)
    fail "bluegreen answered $code with an unexpected body: $(head -c 300 "$tmp/answer.json")"
    ;;
esac
