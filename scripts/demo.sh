#!/usr/bin/env bash
# make demo: create (or reuse) the systemd container pqc-edge-demo, converge it with site.yml,
# and show what real clients negotiate with it.
set -euo pipefail
cd "$(dirname "$0")/.."
name=pqc-edge-demo
image=${PQC_EDGE_IMAGE:-pqc-edge/debian:13}

# A demo container from before HTTP/3 does not publish UDP 8443: make it anew.
if docker container inspect "$name" >/dev/null 2>&1 && [ -z "$(docker port "$name" 8443/udp 2>/dev/null)" ]; then
  echo "demo: $name does not publish UDP 8443 (HTTP/3); making it anew"
  docker rm -f "$name" >/dev/null
fi
if ! docker container inspect "$name" >/dev/null 2>&1; then
  echo "demo: creating container $name from $image (ports 8443 TCP and UDP, 8080, on 127.0.0.1 only)"
  privileged_flags=(--cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined)
  if [ "${PQC_EDGE_PRIVILEGED:-false}" = true ]; then privileged_flags=(--privileged); fi
  docker run -d --name "$name" --hostname "$name" "${privileged_flags[@]}" \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /tmp \
    -p 127.0.0.1:8443:8443 -p 127.0.0.1:8443:8443/udp -p 127.0.0.1:8080:8080 "$image" /sbin/init >/dev/null
elif [ "$(docker container inspect -f '{{.State.Running}}' "$name")" != true ]; then
  docker start "$name" >/dev/null
fi
for _ in $(seq 1 30); do
  state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 1
done

ansible-playbook -i inventories/demo/hosts.yml playbooks/site.yml "$@"

echo
echo "What real clients negotiate with $name:"
started=$(date -u +%Y-%m-%dT%H:%M:%S)
sleep 1  # the log's times are to the second: start counting after the playbook's own requests
scripts/show-negotiation.sh "$name"
echo
echo "The share of those requests that was quantum-safe, read from the access log by pqc.edge.tls_traffic:"
ansible-playbook -i inventories/demo/hosts.yml playbooks/traffic.yml -e pqc_edge_traffic_since="$started" \
  | awk '/^TASK \[Show/ {show = 1; next} /^(PLAY|TASK)/ {show = 0} show && NF'
echo
echo "Try it: curl -k https://127.0.0.1:8443/api/tls    (remove with: make demo-clean)"
echo "HTTP/3: docker exec $name curl -sk --http3-only https://127.0.0.1:8443/api/tls"
