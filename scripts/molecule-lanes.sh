#!/usr/bin/env bash
# Run molecule scenarios in lanes side by side: the scenarios of one lane one after another, the lanes at the
# same time. Scenarios share no port on this machine (each host is its own container; `existing` publishes SSH on
# 127.0.0.1 only), so two lanes use the two cores where one alone waits on Ansible and docker exec.
#   scripts/molecule-lanes.sh "default options" "plain:aws-lc fleet"
# A scenario written plain:<name> runs without any of the variables the Makefile exports, as a user runs
# `molecule test -s <name>` in the checkout: its molecule.yml and dependency step must find everything themselves.
# An entry pytest:<dir> runs `python -m pytest -q <dir>` in its lane instead (the integration tests, which also start
# containers), under the name of the directory.
# Each scenario's output goes to $PQC_EDGE_MOLECULE_LOGS/<scenario>.log and is printed whole when it ends, with
# its time; the exit status is non-zero when any scenario failed.
set -uo pipefail
logs=${PQC_EDGE_MOLECULE_LOGS:-.cache/molecule-logs}
mkdir -p "$logs"
rm -f "$logs"/*.log "$logs"/*.status

# plain:default -> default, pytest:tests/integration -> integration
entry_name() {
  local name=${1#plain:}
  name=${name#pytest:}
  basename "$name"
}

run_lane() {
  local entry scenario start rc
  local -a plain command
  for entry in $1; do
    scenario=$(entry_name "$entry")
    plain=()
    command=(molecule test -s "$scenario")
    if [ "${entry#plain:}" != "$entry" ]; then
      plain=(env -u ANSIBLE_CONFIG -u PQC_EDGE_IMAGE -u PQC_EDGE_SOURCE_CACHE -u PQC_EDGE_BUILD_CACHE
             -u PQC_EDGE_OQS_SOURCES -u PQC_EDGE_LIBOQS_SHA256 -u PQC_EDGE_OQS_PROVIDER_SHA256
             -u PQC_EDGE_AWS_LC_ARCHIVE -u PQC_EDGE_AWS_LC_SHA256)
    elif [ "${entry#pytest:}" != "$entry" ]; then
      command=(python -m pytest -q "${entry#pytest:}")
    fi
    start=$(date +%s)
    "${plain[@]}" "${command[@]}" >"$logs/$scenario.log" 2>&1
    rc=$?
    echo "$rc $(( $(date +%s) - start ))" >"$logs/$scenario.status"
    # One scenario's output at a time, whole, so that lanes do not interleave their lines.
    (
      flock 9
      echo "=== $scenario (lane: $1${plain:+; run plain, without the variables of the Makefile}) ==="
      cat "$logs/$scenario.log"
      echo "=== $scenario: $([ "$rc" = 0 ] && echo PASSED || echo "FAILED (exit $rc)") in $(( $(date +%s) - start )) s ==="
    ) 9>"$logs/.print.lock"
  done
}

pids=()
for lane in "$@"; do
  run_lane "$lane" &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid"
done

failed=0
echo "molecule scenarios:"
for lane in "$@"; do
  for scenario in $lane; do
    scenario=$(entry_name "$scenario")
    if [ -f "$logs/$scenario.status" ]; then
      read -r rc seconds <"$logs/$scenario.status"
    else
      rc=missing seconds=-
    fi
    printf '  %-16s %s (%s s)\n' "$scenario" "$([ "$rc" = 0 ] && echo passed || echo "FAILED ($rc)")" "$seconds"
    [ "$rc" = 0 ] || failed=1
    # The tests that failed, by name, where a reader of the last lines alone (CI) will see them.
    if [ "$rc" != 0 ] && [ -f "$logs/$scenario.log" ]; then
      sed 's/\x1b\[[0-9;]*m//g' "$logs/$scenario.log" | grep -aoE '(FAILED|ERROR) [^ ]+::[^ ]+( - .{0,160})?' | head -n 20 |
        sed 's/^/      /'
    fi
  done
done
exit "$failed"
