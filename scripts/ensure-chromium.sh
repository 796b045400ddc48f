#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the dashboard's browser test
# (dashboard/browser_test.go drives it headless over the DevTools protocol).
# Installs it with apt-get when it is missing and this runs as root; otherwise
# says how, and the test skips (or fails under CI=true).
set -euo pipefail

for exe in chromium chromium-browser google-chrome; do
  if command -v "$exe" >/dev/null 2>&1; then
    exit 0
  fi
done

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is not installed: the dashboard's browser test needs it (Debian/Ubuntu: sudo apt-get install chromium)." >&2
  exit 0
fi
echo "installing chromium with apt-get ..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
