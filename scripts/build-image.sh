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
# What a typical Debian host has besides what the roles install themselves: systemd, Python (with
# python3-apt, which Ansible's apt module needs for check mode), and the clients the tests use; and ccache, which
# the tests' containers put first on their PATH (molecule/resources/create.yml) so that a source build compiles each
# unchanged file once per machine, not once per run.
packages=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,iproute2,curl,procps,ccache
# The package list is recorded as a label, so that changing it rebuilds a cached image.
label="pqc-edge.packages=$packages"

if [ "$(docker image inspect -f '{{ index .Config.Labels "pqc-edge.packages" }}' "$tag" 2>/dev/null)" = "$packages" ]; then
  echo "build-image: $tag exists with the same packages, not rebuilding"
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
      -c 'CMD ["/sbin/init"]' -c 'ENV container=docker' -c "LABEL $label" - "$tag" >/dev/null
    ;;
  dockerfile)
    docker build --build-arg "SUITE=$suite" --build-arg "PACKAGES=${packages//,/ }" --label "$label" \
      -t "$tag" -f "$here/../molecule/resources/Dockerfile" "$here/../molecule/resources"
    ;;
  *)
    echo "build-image: unknown PQC_EDGE_IMAGE_METHOD '$method' (debootstrap or dockerfile)" >&2
    exit 2
    ;;
esac
echo "build-image: built $tag"
