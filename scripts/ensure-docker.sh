#!/usr/bin/env bash
# Make sure a Docker engine answers. Installs Debian's docker.io and starts dockerd in the
# background when none runs (CI machines start without one).
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-docker: installing docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

# A dockerd that was killed (as at the end of a session) leaves its pid file behind.
if ! pgrep -x dockerd >/dev/null 2>&1; then
  rm -f /var/run/docker.pid
fi
echo "ensure-docker: starting dockerd" >&2
log=${PQC_EDGE_DOCKERD_LOG:-/var/log/pqc-edge-dockerd.log}
nohup dockerd >"$log" 2>&1 &

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "ensure-docker: dockerd did not answer within 60 s; see $log" >&2
exit 1
