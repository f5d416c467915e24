#!/usr/bin/env bash
# Run molecule scenarios in lanes side by side: the scenarios of one lane one after another, the lanes at the
# same time. Scenarios share no port on this machine (each host is its own container; `existing` publishes SSH on
# 127.0.0.1 only), so two lanes use the two cores where one alone waits on Ansible and docker exec.
#   scripts/molecule-lanes.sh "default options" "source fleet"
# Each scenario's output goes to $PQC_EDGE_MOLECULE_LOGS/<scenario>.log and is printed whole when it ends, with
# its time; the exit status is non-zero when any scenario failed.
set -uo pipefail
logs=${PQC_EDGE_MOLECULE_LOGS:-.cache/molecule-logs}
mkdir -p "$logs"
rm -f "$logs"/*.log "$logs"/*.status

run_lane() {
  local scenario start rc
  for scenario in $1; do
    start=$(date +%s)
    molecule test -s "$scenario" >"$logs/$scenario.log" 2>&1
    rc=$?
    echo "$rc $(( $(date +%s) - start ))" >"$logs/$scenario.status"
    # One scenario's output at a time, whole, so that lanes do not interleave their lines.
    (
      flock 9
      echo "=== molecule scenario $scenario (lane: $1) ==="
      cat "$logs/$scenario.log"
      echo "=== molecule scenario $scenario: $([ "$rc" = 0 ] && echo PASSED || echo "FAILED (exit $rc)") in $(( $(date +%s) - start )) s ==="
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
    if [ -f "$logs/$scenario.status" ]; then
      read -r rc seconds <"$logs/$scenario.status"
    else
      rc=missing seconds=-
    fi
    printf '  %-16s %s (%s s)\n' "$scenario" "$([ "$rc" = 0 ] && echo passed || echo "FAILED ($rc)")" "$seconds"
    [ "$rc" = 0 ] || failed=1
  done
done
exit "$failed"
