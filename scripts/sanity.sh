#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection in an ansible_collections/pqc/edge tree, offline.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /var/tmp/pqc-edge-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT

# ansible-test downloads get-pip.py from a host this machine cannot reach; it looks in its cache
# first. This stand-in bootstraps pip with the standard library's ensurepip instead.
cache=${HOME}/.ansible/test/cache
mkdir -p "$cache"
cat >"$cache/get_pip_24_2.py" <<'PY'
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY

dest="$work/ansible_collections/pqc/edge"
mkdir -p "$dest"
# Only what git tracks (or would track): no virtualenv, caches or built artefacts.
(cd "$here" && git ls-files -co --exclude-standard -z) | (cd "$here" && xargs -0 cp --parents -t "$dest" 2>/dev/null || true)
cd "$dest"
git init -q .   # ansible-test lists files through git when it can
git add -A
ansible-test sanity --local --python "${PQC_EDGE_SANITY_PYTHON:-3.11}" --color no "$@"
