#!/usr/bin/env bash
# What a molecule scenario needs that molecule cannot make itself: a docker engine, the scenario's base image and
# the source archives. Run as each scenario's `dependency` step, the first of its sequence, so that
# `molecule test -s <scenario>` fails before anything is created, naming the missing input and the make target
# that provides it. The defaults are the Makefile's, so plain molecule and make look in the same places.
#   scripts/check-molecule-inputs.sh <scenario>
set -euo pipefail
scenario=${1:?usage: check-molecule-inputs.sh <scenario>}
project=$(cd "$(dirname "$0")/.." && pwd)
source_cache=${PQC_EDGE_SOURCE_CACHE:-$HOME/.cache/pqc-edge/sources}
image_trixie=${PQC_EDGE_IMAGE:-pqc-edge/debian:13}
image_bookworm=${PQC_EDGE_IMAGE_BOOKWORM:-pqc-edge/debian:12}
shared_sources="$project/../shared/sources"
if [ -z "${PQC_EDGE_OQS_SOURCES:-}" ] && [ -f "$shared_sources/liboqs-0.15.0.tar.gz" ]; then
  oqs_sources=$(cd "$shared_sources" && pwd)
else
  oqs_sources=${PQC_EDGE_OQS_SOURCES:-$source_cache}
fi

missing=()
need_image() {  # image, make target
  docker image inspect "$1" >/dev/null 2>&1 || missing+=("image $1 (make $2)")
}
need_file() {  # path, how to get it
  [ -f "$1" ] || missing+=("$1 ($2)")
}

if ! docker info >/dev/null 2>&1; then
  echo "check-molecule-inputs: no docker engine answers (make docker starts one)" >&2
  exit 1
fi
case $scenario in
  default | options | existing | ca)
    need_image "$image_trixie" image ;;
  fleet)
    need_image "$image_trixie" image
    need_file "$source_cache/nginx-1.26.3.tar.gz" "make source-cache" ;;
  static-openssl)
    need_image "$image_bookworm" image-bookworm
    need_file "$source_cache/nginx-1.26.3.tar.gz" "make source-cache"
    need_file "$source_cache/openssl-3.5.7.tar.gz" "make source-cache" ;;
  aws-lc)
    need_image "$image_trixie" image
    need_file "$source_cache/nginx-1.26.3.tar.gz" "make source-cache"
    # No make target can fetch it here: the operator's own archive goes in PQC_EDGE_AWS_LC_ARCHIVE with its digest in
    # PQC_EDGE_AWS_LC_SHA256.
    need_file "${PQC_EDGE_AWS_LC_ARCHIVE:-$shared_sources/aws-lc-5.1.0.tar.gz}" "AWS-LC 5.1.0 archive; see make test-aws-lc" ;;
  aws-lc-bookworm)
    need_image "$image_bookworm" image-bookworm
    need_file "$source_cache/nginx-1.26.3.tar.gz" "make source-cache"
    need_file "$source_cache/openssl-3.5.7.tar.gz" "make source-cache"
    need_file "${PQC_EDGE_AWS_LC_ARCHIVE:-$shared_sources/aws-lc-5.1.0.tar.gz}" "AWS-LC 5.1.0 archive; see make test-aws-lc" ;;
  oqs)
    need_image "$image_bookworm" image-bookworm
    # No make target can fetch these here: no upstream downloads. The operator's own archives go in
    # PQC_EDGE_OQS_SOURCES with their digests, as the Makefile's test-oqs says.
    need_file "$oqs_sources/liboqs-0.15.0.tar.gz" "liboqs 0.15.0 archive; see make test-oqs"
    need_file "$oqs_sources/oqs-provider-0.11.0.tar.gz" "oqs-provider 0.11.0 archive; see make test-oqs"
    if [ "$oqs_sources" != "$(cd "$shared_sources" 2>/dev/null && pwd)" ] && [ -z "${PQC_EDGE_OQS_PROVIDER_SHA256:-}" ]; then
      missing+=("PQC_EDGE_OQS_PROVIDER_SHA256, the digest of your oqs-provider archive (see make test-oqs)")
    fi ;;
  *)
    echo "check-molecule-inputs: unknown scenario $scenario" >&2
    exit 2 ;;
esac

if [ ${#missing[@]} -gt 0 ]; then
  echo "check-molecule-inputs: molecule scenario $scenario cannot run, missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "check-molecule-inputs: $scenario has its image and archives"
