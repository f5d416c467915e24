#!/usr/bin/env bash
# Fetch an upstream source tarball through Debian's source archive, for tests on machines that cannot
# reach upstream: Debian's <package>_<version>.orig.tar.gz is the upstream release tarball.
#   scripts/fetch-debian-source.sh <debian source package> <upstream name> <dest dir> [upstream version]
# Writes <dest dir>/<upstream name>-<version>.tar.gz (skips when it is there). Without a version it takes the
# archive's newest; with one, the Debian version of the package built from that upstream release. The roles still check
# the archive against their pinned upstream sha256.
set -euo pipefail
package=${1:?debian source package, e.g. nginx}
name=${2:?upstream name, e.g. nginx}
dest=${3:?destination directory}
want=${4:-}
image=${PQC_EDGE_IMAGE:-pqc-edge/debian:13}
mkdir -p "$dest"

# The deb-src line is derived from the image's own sources list, not written here.
out=$(docker run --rm -v "$(cd "$dest" && pwd):/out" "$image" sh -ec "
  sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/pqc-edge-src.list
  apt-get update -qq >/dev/null
  # Only the upstream tarball is needed; the Debian packaging files may have moved on in the archive.
  spec=$package
  if [ -n \"$want\" ]; then
    debian_version=\$(apt-cache showsrc $package | sed -n 's/^Version: //p' | grep -m1 \"^\\([0-9]*:\\)\\?${want}-\")
    [ -n \"\$debian_version\" ] || { echo \"no Debian source of $package $want\" >&2; exit 1; }
    spec=\"$package=\$debian_version\"
  fi
  line=\$(apt-get source --print-uris -qq \"\$spec\" | grep -m1 \"_[^ ]*[.]orig[.]tar[.]gz' \")
  uri=\$(echo \"\$line\" | cut -d\"'\" -f2)
  orig=\$(echo \"\$line\" | cut -d' ' -f2)
  version=\${orig#${package}_}; version=\${version%.orig.tar.gz}
  target=/out/${name}-\$version.tar.gz
  [ -f \"\$target\" ] || curl -fsS -o \"\$target\" \"\$uri\"
  echo \"\$target\"
")
echo "fetch-debian-source: ${out/\/out/$dest}"
