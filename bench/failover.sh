#!/usr/bin/env bash
# Failover time (issue 11): two collectors on one PostgreSQL (leader_lease
# $LEASE), one agent given both URLs probing a service every second; $KILLS
# times: kill -9 the current leader, then measure until the other answers
# /readyz 200 (takeover) and until the agent's first result probed after the
# kill is in the store (first result); the killed one restarts as the new
# standby. Prints p50/p90/max of both against the bound, lease + 5 s.
# SMOKE=1: 2 kills, dev build. LEASE defaults to 2s (the collector's own
# default is 15s: LEASE=15s measures that).
# Loopback only; every process it starts (PostgreSQL too) ends with it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ "$SMOKE" = 1 ]; then KILLS=${KILLS:-2}; fi
KILLS=${KILLS:-10}
LEASE=${LEASE:-2s}
lease_s=${LEASE%s}
bench_header "KILLS=$KILLS LEASE=$LEASE"
bench_build -p picket-collector -p picket-agent
tmp=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    bench_postgres_stop
    rm -rf "$tmp"
}
trap cleanup EXIT
bench_postgres_start "$tmp/pg"
db="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
psql_n() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -At -c "$1"; }
now_ms() { date +%s%3N; }

# config NAME GRPC HTTP: the collector NAME's config (port 0: any).
config() {
    mkdir -p "$tmp/$1"
    cat >"$tmp/$1/picket.toml" <<TOML
[collector]
grpc_listen = "127.0.0.1:$2"
http_listen = "127.0.0.1:$3"
database = "$db"
admin_token = "bench-admin"
leader_lease = "$LEASE"
[agents]
enrollment_token = "bench-token"
auto_approve = true
heartbeat_interval = "1s"
[defaults]
interval = "1s"
timeout = "1s"
upgrade_to_https = false
[[equipment]]
id = "bench"
name = "Bench"
[[services]]
id = "svc"
equipment = "bench"
url = "http://127.0.0.1:9/"
TOML
}
declare -A pid grpc http
# start NAME: starts collector NAME (on its ports once known).
start() {
    rm -f "$tmp/$1/ports.json"
    "$BIN/picket-collector" --config "$tmp/$1/picket.toml" --ports-file "$tmp/$1/ports.json" >>"$tmp/$1/collector.log" 2>&1 &
    pid[$1]=$!
    pids+=("${pid[$1]}")
    bench_wait_ports "$tmp/$1" "${pid[$1]}"
    grpc[$1]=$(sed -E 's/.*"grpc": *"([^"]*)".*/\1/' "$tmp/$1/ports.json")
    http[$1]=$(sed -E 's/.*"http": *"([^"]*)".*/\1/' "$tmp/$1/ports.json")
    config "$1" "${grpc[$1]##*:}" "${http[$1]##*:}"
}
readyz() { curl -s -o /dev/null -m 1 -w '%{http_code}' "http://${http[$1]}/readyz" || true; }
# wait_code NAME CODE SECONDS: polls /readyz every 20 ms; false on timeout.
wait_code() {
    local until=$(($(now_ms) + $3 * 1000))
    while [ "$(now_ms)" -lt "$until" ]; do
        [ "$(readyz "$1")" = "$2" ] && return 0
        kill -0 "${pid[$1]}" 2>/dev/null || { tail -20 "$tmp/$1/collector.log" >&2; exit 1; }
        sleep 0.02
    done
    return 1
}

config a 0 0
config b 0 0
start a
wait_code a 200 30 || { echo "collector a did not lead" >&2; exit 1; }
start b
wait_code b 503 30 || { echo "collector b did not stand by" >&2; exit 1; }
"$BIN/picket-agent" --collector "http://${grpc[a]},http://${grpc[b]}" --enrollment-token bench-token \
    --region eu --name bench --state-dir "$tmp/agent" >"$tmp/agent.log" 2>&1 &
pids+=($!)
agent=$!
for _ in $(seq 1 300); do
    [ "$(psql_n 'SELECT count(*) FROM results')" -gt 0 ] && break
    kill -0 "$agent" || { cat "$tmp/agent.log" >&2; exit 1; }
    sleep 0.1
done
leader=a standby=b
bound_ms=$(((lease_s + 5) * 1000))
limit_s=$((lease_s + 30))
out=$tmp/runs.jsonl
for i in $(seq 1 "$KILLS"); do
    killed_at=$(now_ms)
    { kill -9 "${pid[$leader]}" && wait "${pid[$leader]}"; } 2>/dev/null || true
    takeover=null first=null
    if wait_code "$standby" 200 "$limit_s"; then takeover=$(($(now_ms) - killed_at)); fi
    until=$((killed_at + limit_s * 1000))
    while [ "$(now_ms)" -lt "$until" ]; do
        if [ "$(psql_n "SELECT count(*) FROM results WHERE time_ms >= $killed_at")" -gt 0 ]; then
            first=$(($(now_ms) - killed_at))
            break
        fi
        sleep 0.02
    done
    echo "{\"kill\":$i,\"lease_ms\":$((lease_s * 1000)),\"takeover_ms\":$takeover,\"first_result_ms\":$first,\"bound_ms\":$bound_ms}" | tee -a "$out"
    # The killed one comes back as the new standby.
    start "$leader"
    wait_code "$leader" 503 30 || { echo "collector $leader did not stand by" >&2; exit 1; }
    kill -0 "$agent" || { cat "$tmp/agent.log" >&2; exit 1; }
    tmp_name=$leader leader=$standby standby=$tmp_name
done
echo
printf '%-16s %8s %8s %8s %8s %10s\n' measure runs p50_ms p90_ms max_ms bound_ms
for key in takeover_ms first_result_ms; do
    vals=$(sed -nE "s/.*\"$key\":([0-9]+).*/\1/p" "$out" | sort -n)
    n=$(echo "$vals" | grep -c . || true)
    missed=$((KILLS - n))
    if [ "$n" -gt 0 ]; then
        echo "$vals" | awk -v k="$key" -v b="$bound_ms" -v m="$missed" '{v[NR]=$1} END {
            p50 = v[int((NR + 1) / 2)]; i90 = int(NR * 0.9 + 0.999); if (i90 < 1) i90 = 1
            printf "%-16s %8d %8d %8d %8d %10d%s\n", k, NR, p50, v[i90], v[NR], b, (m > 0 ? "  (" m " not reached)" : "")
        }'
    else
        printf '%-16s %8d %8s %8s %8s %10d  (none reached)\n' "$key" 0 - - - "$bound_ms"
    fi
done
