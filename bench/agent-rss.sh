#!/usr/bin/env bash
# The whole agent's memory at 0, 10k and 100k checks (issue 10, item 5:
# RSS <= 20 MB idle, <= 32 MB with 10k checks, <= 256 MB with 100k). For
# each N in CHECKS: a real picket-collector (SQLite in a temp dir, port 0)
# with N services (picket-scale-bench config), all in region `assign`,
# every one an `http://127.0.0.1:PORT/s{i}` URL of one loopback target
# (picket-scale-bench target: `200 ok`, a new connection per probe), every
# INTERVAL seconds; and ONE real picket-agent in that region, enrolled with
# the enrollment token. Once the collector's ListAgents shows the agent's
# heartbeat with all N checks assigned (`picketctl agents --json`,
# stats.checks_assigned), it waits one more INTERVAL (the agent probes every
# check once) and over that interval counts the agent's CPU (utime + stime
# in /proc/PID/stat) and the results the collector ingested
# (picket_results_ingested_total on its /metrics); at its end it reads the
# agent's VmRSS and VmHWM (/proc/PID/status), and how many services the
# collector holds in each state (picket_service_state).
# Prints the command, date and machine, one JSON line per N and a table. A
# missed target is printed, not a failure; a broken run is one (a process
# died, the assignment never completed, no result ingested with N > 0).
#
# Environment: CHECKS ("0 10000 100000"), INTERVAL (60, seconds),
# ASSIGN_TIMEOUT (300 s). SMOKE=1: CHECKS="0 500", INTERVAL=5, dev build.
# Loopback only; every process it starts ends with it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ "$SMOKE" = 1 ]; then CHECKS=${CHECKS:-"0 500"}; INTERVAL=${INTERVAL:-5}; fi
CHECKS=${CHECKS:-"0 10000 100000"}
INTERVAL=${INTERVAL:-60}
ASSIGN_TIMEOUT=${ASSIGN_TIMEOUT:-300}
bench_header "CHECKS=\"$CHECKS\" INTERVAL=$INTERVAL ASSIGN_TIMEOUT=$ASSIGN_TIMEOUT"
bench_build -p picket-collector --bin picket-collector -p picket-agent --bin picket-agent \
    -p picket-cli --bin picketctl -p picket-bench --bin picket-scale-bench
tck=$(getconf CLK_TCK)
heartbeat=$((INTERVAL < 10 ? 1 : 5))

work=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
dir=$work
fail() {
    echo "agent-rss.sh: $*" >&2
    local log
    for log in "$dir/collector.log" "$dir/agent.log"; do [ -f "$log" ] && tail -5 "$log" >&2; done
    exit 1
}
alive() { kill -0 "$1" 2>/dev/null || fail "the $2 died"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$agent/stat"; }
kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$agent/status"; }
ingested() { curl -sf "http://$http/metrics" | awk '$1 == "picket_results_ingested_total" { print $2 }'; }
# stop PID: ends one process this script started.
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

"$BIN/picket-scale-bench" target --url-file "$work/target.url" &
target=$!
pids+=("$target")
until [ -s "$work/target.url" ]; do alive "$target" target; sleep 0.05; done
target_url=$(cat "$work/target.url")

lines=$work/lines.jsonl
for n in $CHECKS; do
    dir=$work/$n
    "$BIN/picket-scale-bench" config --dir "$dir" --services "$n" --assign "$n" \
        --url "$target_url/s{i}" --interval "${INTERVAL}s" --heartbeat-interval "${heartbeat}s"
    PICKET_LOG=warn "$BIN/picket-collector" --config "$dir/picket.toml" \
        --ports-file "$dir/ports.json" >"$dir/collector.log" 2>&1 &
    collector=$!
    pids+=("$collector")
    bench_wait_ready "$dir" "$collector"
    http=$(jq -r .http "$dir/ports.json"); grpc=$(jq -r .grpc "$dir/ports.json")
    t0=$(date +%s.%N)
    PICKET_LOG=warn "$BIN/picket-agent" --collector "http://$grpc" --enrollment-token bench \
        --region assign --name rss --state-dir "$dir/agent" >"$dir/agent.log" 2>&1 &
    agent=$!
    pids+=("$agent")
    # The whole assignment: the agent's heartbeat says it has all N.
    deadline=$(($(date +%s) + ASSIGN_TIMEOUT))
    until [ "$("$BIN/picketctl" --collector "http://$grpc" --token bench-admin --json agents 2>/dev/null |
        jq '[.[] | .stats.checks_assigned // empty] | first // -1')" = "$n" ]; do
        alive "$collector" collector; alive "$agent" agent
        [ "$(date +%s)" -lt "$deadline" ] || fail "the agent did not report $n checks within $ASSIGN_TIMEOUT s"
        sleep 0.5
    done
    assigned_s=$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - t0 }')
    ticks0=$(ticks); results0=$(ingested); s0=$(date +%s.%N)
    sleep "$INTERVAL"
    alive "$collector" collector; alive "$agent" agent
    ticks1=$(ticks); results1=$(ingested); s1=$(date +%s.%N)
    rss=$(kb VmRSS); hwm=$(kb VmHWM)
    states=$(curl -sf "http://$http/metrics" | sed -nE 's/^picket_service_state\{.*,state="([a-z_]+)"\} 1$/\1/p' |
        jq -Rn '[inputs] | group_by(.) | map({key: .[0], value: length}) | from_entries')
    stop "$agent"; stop "$collector"
    case $n in 0) target_mb=20 ;; *) target_mb=$((n <= 10000 ? 32 : 256)) ;; esac
    jq -cn --argjson checks "$n" --argjson interval "$INTERVAL" --argjson assigned_s "$assigned_s" \
        --argjson rss "$rss" --argjson hwm "$hwm" --argjson target "$target_mb" \
        --argjson results "$((results1 - results0))" --argjson ticks "$((ticks1 - ticks0))" \
        --argjson states "$states" --argjson tck "$tck" --argjson elapsed "$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')" '{
            checks: $checks, interval_s: $interval, assigned_after_s: $assigned_s,
            rss_mb: ($rss / 1024 * 10 | round / 10), hwm_mb: ($hwm / 1024 * 10 | round / 10),
            target_mb: $target, met: ($hwm / 1024 <= $target),
            services: $states, results: $results, probes_per_s: ($results / $elapsed * 10 | round / 10),
            agent_cpu_pct: ($ticks / $tck / $elapsed * 100 * 10 | round / 10),
            agent_cpu_ms_per_probe: (if $results > 0 then ($ticks / $tck * 1000 / $results * 1000 | round / 1000) else null end)
        }' | tee -a "$lines"
    [ "$n" = 0 ] || [ "$((results1 - results0))" -gt 0 ] || fail "no result ingested with $n checks"
    rm -rf "$dir"
done

echo
printf '%8s %8s %8s %9s %4s %9s %7s %11s\n' checks RSS_MB HWM_MB target_MB met probes/s CPU% cpu_ms/probe
jq -r '[.checks, .rss_mb, .hwm_mb, .target_mb, (if .met then "yes" else "no" end), .probes_per_s,
        .agent_cpu_pct, (.agent_cpu_ms_per_probe // "-")] | @tsv' "$lines" |
    awk -F'\t' '{ printf "%8d %8.1f %8.1f %9d %4s %9.1f %7.1f %11s\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
echo "met: the peak (VmHWM) within the target; targets (issue 10): 20 MB idle, 32 MB at <= 10k checks, 256 MB above"
