#!/usr/bin/env bash
# Print a table of what real clients negotiate with a pqc.edge host running in a container:
# OpenSSL 3.5 and curl inside the container, and this machine's own curl through 127.0.0.1.
set -euo pipefail
name=${1:?container name}
port=8443

probe() {  # label, s_client arguments
  local out group sig
  out=$(docker exec "$name" sh -c "openssl s_client -connect 127.0.0.1:$port $2 </dev/null 2>&1" || true)
  group=$(printf '%s\n' "$out" | sed -n 's/^Negotiated TLS1.3 group: //p; s/^Peer Temp Key: \([^,]*\),.*/\1/p' | head -n1)
  sig=$(printf '%s\n' "$out" | sed -n 's/^Peer signature type: //p' | head -n1)
  [ -n "$group" ] && [ "$group" != "<NULL>" ] || group="refused"
  printf '%-54s %-20s %-22s %s\n' "$1" "$group" "${sig:--}" "$(safe "$group")"
}
safe() { case "$1" in *MLKEM*) echo yes ;; refused) echo - ;; *) echo no ;; esac; }
api_group() {  # label, curl command (run where given)
  local group
  group=$("${@:2}" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["group"], d.get("http_version") or "")' 2>/dev/null || echo refused)
  printf '%-54s %-20s %-22s %s\n' "$1" "${group%% *}" "(/api/tls: ${group#* })" "$(safe "${group%% *}")"
}

printf '%-54s %-20s %-22s %s\n' "client offer" "group" "certificate signature" "quantum safe"
probe "OpenSSL 3.5: X25519MLKEM768 only" "-groups X25519MLKEM768"
probe "OpenSSL 3.5: X25519 key share, hybrid also offered" "-groups X25519:X25519MLKEM768"
probe "OpenSSL 3.5: classical only (X25519, ECDSA)" "-groups X25519 -sigalgs ecdsa_secp256r1_sha256"
probe "OpenSSL 3.5: TLS 1.2 only" "-tls1_2"
api_group "curl in the host (Debian 13 defaults)" docker exec "$name" curl -sk "https://127.0.0.1:$port/api/tls"
api_group "curl in the host over HTTP/3 (QUIC, UDP $port)" docker exec "$name" curl -sk --http3-only "https://127.0.0.1:$port/api/tls"
api_group "curl in the host over HTTP/3, classical only (X25519)" docker exec "$name" curl -sk --http3-only --curves X25519 "https://127.0.0.1:$port/api/tls"
api_group "curl on this machine ($(openssl version | cut -d' ' -f1-2)) via 127.0.0.1" curl -sk --max-time 5 "https://127.0.0.1:$port/api/tls"
