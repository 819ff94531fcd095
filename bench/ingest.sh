#!/usr/bin/env bash
# What ingest costs the collector (issue 10, items 4 and 6b): starts a fresh
# picket-collector per run (SQLite in a temp dir, port 0, --ports-file,
# agents auto-approved) and drives it with picket-loadgen, N fake agents on
# the real agent link: a rate run (RATE results/s in total, BATCH results
# per message) and a saturated run (RATE 0: each agent keeps WINDOW batches
# unacknowledged in flight). The collector is pinned to one core
# (taskset -c COLLECTOR_CPU) in every run, so the saturated figure is what
# one core does. Per run: results/s acknowledged, ack latency (a batch's
# send to the Ack covering it) p50/p99, collector CPU in % of one core and
# µs per result, collector RSS at the end and its peak. With BASELINE=path
# to another picket-collector binary (e.g. one built from main), every run
# is repeated with it, side by side. Targets: ≤ 10 % of a core at 5,000
# results/s from 30 agents; ≥ 100k results/s saturated on one core.
# Loopback only; every process it starts ends with it. Needs Linux, jq and
# taskset (util-linux).
#
# Environment: AGENTS (30), RATE (5000; the rate run), BATCH (10), WINDOW
# (16), SECONDS_PER_RUN (20), RUNS (3), MODES ("rate saturated"),
# SERVICES (50), COLLECTOR_CPU (0), BASELINE (unset). SMOKE=1: 3 agents,
# 2 s, one run each, dev build.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ "${SMOKE:-0}" = 1 ]; then
    AGENTS=${AGENTS:-3} RATE=${RATE:-300} SECONDS_PER_RUN=${SECONDS_PER_RUN:-2} RUNS=${RUNS:-1}
    SERVICES=${SERVICES:-5}
fi
AGENTS=${AGENTS:-30}
RATE=${RATE:-5000}
BATCH=${BATCH:-10}
WINDOW=${WINDOW:-16}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
RUNS=${RUNS:-3}
MODES=${MODES:-rate saturated}
SERVICES=${SERVICES:-50}
COLLECTOR_CPU=${COLLECTOR_CPU:-0}
BASELINE=${BASELINE:-}
TOKEN=bench-enroll

cd "$(dirname "$0")/.."
echo "command: SMOKE=${SMOKE:-0} AGENTS=$AGENTS RATE=$RATE BATCH=$BATCH WINDOW=$WINDOW SECONDS_PER_RUN=$SECONDS_PER_RUN RUNS=$RUNS MODES=\"$MODES\" SERVICES=$SERVICES COLLECTOR_CPU=$COLLECTOR_CPU BASELINE=$BASELINE bench/ingest.sh"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(uname -srm), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
if [ "${SMOKE:-0}" = 1 ]; then
    cargo build --quiet -p picket-collector -p picket-bench --bins
    BIN=${CARGO_TARGET_DIR:-target}/debug
else
    cargo build --release --quiet -p picket-collector -p picket-bench --bins
    BIN=${CARGO_TARGET_DIR:-target}/release
fi
HZ=$(getconf CLK_TCK)
COLLECTORS=("current=$BIN/picket-collector")
[ -n "$BASELINE" ] && COLLECTORS+=("baseline=$BASELINE")

WORK=$(mktemp -d)
COLLECTOR_PID=
cleanup() {
    if [ -n "$COLLECTOR_PID" ]; then
        kill "$COLLECTOR_PID" 2>/dev/null || true
        wait "$COLLECTOR_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# run LABEL BINARY MODE RUN: one fresh collector, one load; prints the
# loadgen's JSON report with the label and mode added.
run() {
    local dir="$WORK/$1-$3-$4" rate=$RATE
    [ "$3" = saturated ] && rate=0
    bench_collector_config "$dir" "$TOKEN" "$AGENTS" "$SERVICES"
    taskset -c "$COLLECTOR_CPU" "$2" --config "$dir/picket.toml" --ports-file "$dir/ports.json" \
        --log-level warn >"$dir/collector.log" 2>&1 &
    COLLECTOR_PID=$!
    bench_wait_ports "$dir" "$COLLECTOR_PID"
    timeout $((SECONDS_PER_RUN + 120)) "$BIN/picket-loadgen" \
        --collector "http://$(jq -r .grpc "$dir/ports.json")" --enrollment-token "$TOKEN" \
        --agents "$AGENTS" --rate "$rate" --batch "$BATCH" --window "$WINDOW" \
        --seconds "$SECONDS_PER_RUN" --collector-pid "$COLLECTOR_PID" |
        jq -c --arg name "$1" --arg mode "$3" --arg run "$4" '{label: $name, mode: $mode, run: ($run | tonumber)} + .'
    kill -0 "$COLLECTOR_PID" 2>/dev/null || { echo "collector died" >&2; cat "$dir/collector.log" >&2; exit 1; }
    kill "$COLLECTOR_PID"
    wait "$COLLECTOR_PID" || true
    COLLECTOR_PID=
}

for r in $(seq 1 "$RUNS"); do
    for mode in $MODES; do
        for c in "${COLLECTORS[@]}"; do
            report=$(run "${c%%=*}" "${c#*=}" "$mode" "$r")
            echo "$report"
            echo "$report" >>"$WORK/runs.jsonl"
            acked=$(jq -r '.acked // 0' <<<"$report" 2>/dev/null || true)
            if [ "${acked:-0}" -le 0 ] 2>/dev/null || [ -z "$acked" ]; then
                echo "run ${c%%=*} $mode $r acknowledged nothing (or loadgen failed)" >&2
                exit 1
            fi
        done
    done
done

# Per run, then the median (min-max) of each figure per collector and mode.
echo
FIGURES='[.acked / .elapsed_s, .ack_latency_ms.p50, .ack_latency_ms.p99,
          .collector_ticks * 100 / $hz / .elapsed_s, .collector_ticks * 1e6 / $hz / .acked,
          .collector_rss_kb / 1024, .collector_hwm_kb / 1024]'
printf '%-9s %-9s %-4s %10s %9s %9s %9s %9s %8s %8s\n' collector mode run "results/s" "p50_ms" "p99_ms" "cpu_%" "us/result" "RSS_MB" "peak_MB"
jq -r --argjson hz "$HZ" "[.label, .mode, .run] + $FIGURES | @tsv" "$WORK/runs.jsonl" |
    awk -F'\t' '{printf "%-9s %-9s %-4s %10.0f %9.2f %9.2f %9.1f %9.2f %8.1f %8.1f\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}'
echo
echo "medians over $RUNS run(s), (min-max):"
for c in "${COLLECTORS[@]}"; do
    for mode in $MODES; do
        jq -s -r --argjson hz "$HZ" --arg name "${c%%=*}" --arg mode "$mode" "
            def med: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
            def fig(f): (map(f) | \"\\(med * 100 | round / 100) (\\(min * 100 | round / 100)-\\(max * 100 | round / 100))\");
            map(select(.label == \$name and .mode == \$mode)) | map($FIGURES) as \$rows
            | \"\(\$name) \(\$mode): results/s \(\$rows | fig(.[0])), ack p50 ms \(\$rows | fig(.[1])), p99 ms \(\$rows | fig(.[2])), cpu % \(\$rows | fig(.[3])), us/result \(\$rows | fig(.[4])), RSS MB \(\$rows | fig(.[5])), peak MB \(\$rows | fig(.[6]))\"
        " "$WORK/runs.jsonl"
    done
done
