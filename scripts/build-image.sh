#!/usr/bin/env bash
# Build a systemd-capable Debian base image locally, unless the tag already exists.
#   scripts/build-image.sh <suite> <tag>      e.g. trixie pqc-edge/debian:13
# PQC_EDGE_IMAGE_METHOD=debootstrap (default, works without any container registry)
#                      =dockerfile  (FROM debian:<suite>, where a registry is reachable)
set -euo pipefail

suite=${1:?suite, e.g. trixie}
tag=${2:?image tag, e.g. pqc-edge/debian:13}
method=${PQC_EDGE_IMAGE_METHOD:-debootstrap}
here=$(cd "$(dirname "$0")" && pwd)
# Packages the molecule tests use inside the host besides what the roles install themselves.
packages=systemd,systemd-sysv,dbus,python3,ca-certificates,iproute2,curl,procps

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "build-image: $tag exists, not rebuilding"
  exit 0
fi

case "$method" in
  debootstrap)
    if ! command -v debootstrap >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    root=$(mktemp -d /var/tmp/pqc-edge-rootfs.XXXXXX)
    trap 'rm -rf "$root"' EXIT
    echo "build-image: debootstrap $suite into $root"
    debootstrap --variant=minbase --include="$packages" "$suite" "$root" >"$root.log" 2>&1 \
      || { tail -n 30 "$root.log" >&2; exit 1; }
    rm -f "$root.log"
    # A container has no console to log in on and no hardware clock to set.
    rm -f "$root"/etc/systemd/system/getty.target.wants/* 2>/dev/null || true
    : >"$root/etc/machine-id"
    tar -C "$root" -c . | docker import \
      -c 'CMD ["/sbin/init"]' -c 'ENV container=docker' - "$tag" >/dev/null
    ;;
  dockerfile)
    docker build --build-arg "SUITE=$suite" --build-arg "PACKAGES=${packages//,/ }" \
      -t "$tag" -f "$here/../molecule/resources/Dockerfile" "$here/../molecule/resources"
    ;;
  *)
    echo "build-image: unknown PQC_EDGE_IMAGE_METHOD '$method' (debootstrap or dockerfile)" >&2
    exit 2
    ;;
esac
echo "build-image: built $tag"
