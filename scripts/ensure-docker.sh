#!/usr/bin/env bash
# Makes sure a Docker daemon answers. Installs Debian's docker.io when dockerd is
# missing and starts dockerd in the background when `docker info` fails. Does
# nothing when Docker already works.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "Docker is not installed. Install it (Debian/Ubuntu: sudo apt-get install docker.io) and start it (sudo systemctl start docker), then try again." >&2
    exit 1
  fi
  echo "installing docker.io with apt-get ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if [ -n "${DOCKER_HOST:-}" ]; then
  echo "DOCKER_HOST=$DOCKER_HOST does not answer: start the daemon it names, or unset DOCKER_HOST." >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "The Docker daemon is not running. Start it (sudo systemctl start docker or sudo dockerd &), then try again." >&2
  exit 1
fi

# Under systemd, prefer the service; otherwise run dockerd in the background.
if [ -d /run/systemd/system ] && systemctl start docker >/dev/null 2>&1; then
  :
else
  echo "starting dockerd in the background (log: /var/log/dockerd.log) ..." >&2
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "dockerd did not answer within 60s; see /var/log/dockerd.log" >&2
exit 1
