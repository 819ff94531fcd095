#!/usr/bin/env bash
# deploy/systemd/try.sh: starts the collector and an agent the way the units
# do (the same ExecStart flags, read from the .service files; the same
# environment files, from the *.env.example with loopback values; state
# directories in a temp dir) with NOTIFY_SOCKET pointing at this script's
# own datagram socket, and checks that each says READY=1, that /readyz
# answers and that the agent is connected. Port 0 everywhere (loopback).
# BIN_DIR: where the binaries are (default: target/debug, built if missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${BIN_DIR:-${CARGO_TARGET_DIR:-$root/target}/debug}
if [ -z "${BIN_DIR:-}" ]; then (cd "$root" && cargo build -q -p picket-collector -p picket-agent -p picket-cli --bins); fi
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done; exit 1; }

# The script's notify socket: a python3 receiver appends each datagram, one per line.
python3 - "$tmp/notify.sock" "$tmp/notify.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
PY
pids+=($!)
for _ in $(seq 100); do [ -S "$tmp/notify.sock" ] && break; sleep 0.1; done
[ -S "$tmp/notify.sock" ] || fail "notify receiver did not start"

# ExecStart lines, with /usr/local/bin replaced by BIN_DIR.
exec_start() { sed -n 's|^ExecStart=/usr/local/bin/|'"$bin"'/|p' "$here/$1"; }
mkdir -p "$tmp/state/picket-collector" "$tmp/state/picket-agent" "$tmp/etc"
cat >"$tmp/etc/collector.toml" <<TOML
[collector]
grpc_listen = "127.0.0.1:0"
http_listen = "127.0.0.1:0"
database = "sqlite://$tmp/state/picket-collector/picket.db"
admin_token = "try-admin"
[agents]
enrollment_token = "try-enroll"
auto_approve = true
[[equipment]]
id = "self"
name = "The collector"
[[services]]
id = "self-health"
equipment = "self"
url = "http://127.0.0.1:9/"
TOML
sed "s|^PICKET_CONFIG=.*|PICKET_CONFIG=$tmp/etc/collector.toml|" "$here/collector.env.example" >"$tmp/etc/collector.env"
(
  set -a; . "$tmp/etc/collector.env"; set +a
  cd "$tmp/state/picket-collector"
  # The unit's guard, then its command (the variable expanded as systemd does).
  eval "$(sed -n 's|^ExecStartPre=/usr/local/bin/|'"$bin"'/|p' "$here/picket-collector.service" | sed 's/\${PICKET_CONFIG}/"$PICKET_CONFIG"/')" >/dev/null
  export NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=2000000
  eval "exec $(exec_start picket-collector.service | sed 's/\${PICKET_CONFIG}/"$PICKET_CONFIG"/') --ports-file $tmp/ports.json"
) >"$tmp/collector.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -s "$tmp/ports.json" ] && break; sleep 0.1; done
[ -s "$tmp/ports.json" ] || fail "collector wrote no ports file"
grpc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["grpc"])' "$tmp/ports.json")
http=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$tmp/ports.json")
for _ in $(seq 300); do grep -q '^READY=1' "$tmp/notify.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^READY=1 STATUS=serving' "$tmp/notify.out" || fail "no READY=1 from the collector"
echo "ok   collector READY=1: $(grep -m1 '^READY=1' "$tmp/notify.out")"
"$bin/picket-collector" healthcheck "http://$http/readyz" >/dev/null || fail "/readyz"
echo "ok   collector /readyz (picket-collector healthcheck http://$http/readyz)"

sed -e "s|^PICKET_COLLECTOR=.*|PICKET_COLLECTOR=http://$grpc|" -e "s|^PICKET_ENROLLMENT_TOKEN=.*|PICKET_ENROLLMENT_TOKEN=try-enroll|" \
  "$here/agent.env.example" >"$tmp/etc/agent.env"
state=$(sed -n 's|^Environment=PICKET_STATE_DIR=/var/lib/|'"$tmp/state/"'|p' "$here/picket-agent.service")
(
  set -a; . "$tmp/etc/agent.env"; set +a
  export PICKET_STATE_DIR="$state" NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=2000000
  eval "exec $(exec_start picket-agent.service)"
) >"$tmp/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ "$(grep -c '^READY=1' "$tmp/notify.out")" -ge 2 ] && break; sleep 0.1; done
grep -q '^READY=1 STATUS=connected to the collector' "$tmp/notify.out" || fail "no READY=1 (connected) from the agent"
echo "ok   agent READY=1: $(grep '^READY=1' "$tmp/notify.out" | tail -1)"
[ -s "$state/agent.json" ] || fail "agent state file $state/agent.json missing"
echo "ok   agent identity in its state directory"
agents=$(PICKET_TOKEN=try-admin "$bin/picketctl" --collector "http://$grpc" agents --json 2>/dev/null || true)
case "$agents" in *probe-eu-1*) echo "ok   picketctl agents lists probe-eu-1" ;; *) fail "picketctl agents: $agents" ;; esac
# The watchdog (WATCHDOG_USEC=2 s): fed every second by both.
for _ in $(seq 50); do [ "$(grep -c '^WATCHDOG=1' "$tmp/notify.out")" -ge 3 ] && break; sleep 0.1; done
[ "$(grep -c '^WATCHDOG=1' "$tmp/notify.out")" -ge 3 ] || fail "watchdog not fed"
echo "ok   WATCHDOG=1 received $(grep -c '^WATCHDOG=1' "$tmp/notify.out") times"
