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
# BACKENDS ("sqlite postgres") runs each on both store engines side by
# side: for postgres one PostgreSQL 15 server (bench_postgres_start, not
# pinned, default durability) serves the whole script, a fresh database
# per run, and its CPU (every server process, from /proc, over the load)
# is reported next to the collector's.
# Loopback only; every process it starts ends with it. Needs Linux, jq and
# taskset (util-linux).
#
# Environment: AGENTS (30), RATE (5000; the rate run), BATCH (10), WINDOW
# (16), SECONDS_PER_RUN (20), RUNS (3), MODES ("rate saturated"),
# BACKENDS ("sqlite postgres"), SERVICES (50), COLLECTOR_CPU (0),
# BASELINE (unset). SMOKE=1: 3 agents, 2 s, one run each, dev build.
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
BACKENDS=${BACKENDS:-sqlite postgres}
SERVICES=${SERVICES:-50}
COLLECTOR_CPU=${COLLECTOR_CPU:-0}
BASELINE=${BASELINE:-}
TOKEN=bench-enroll

cd "$(dirname "$0")/.."
echo "command: SMOKE=${SMOKE:-0} AGENTS=$AGENTS RATE=$RATE BATCH=$BATCH WINDOW=$WINDOW SECONDS_PER_RUN=$SECONDS_PER_RUN RUNS=$RUNS MODES=\"$MODES\" BACKENDS=\"$BACKENDS\" SERVICES=$SERVICES COLLECTOR_CPU=$COLLECTOR_CPU BASELINE=$BASELINE bench/ingest.sh"
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
PG_PID=
cleanup() {
    if [ -n "$COLLECTOR_PID" ]; then
        kill "$COLLECTOR_PID" 2>/dev/null || true
        wait "$COLLECTOR_PID" 2>/dev/null || true
    fi
    bench_postgres_stop
    rm -rf "$WORK"
}
trap cleanup EXIT
case " $BACKENDS " in *" postgres "*) bench_postgres_start "$WORK/pg" ;; esac

# run LABEL BINARY MODE RUN BACKEND: one fresh collector (and database),
# one load; prints the loadgen's JSON report with the label, mode and
# backend added, and on postgres the server's CPU ticks over the load.
run() {
    local dir="$WORK/$1-$3-$4-$5" rate=$RATE pg_before=0 pg_after=0
    [ "$3" = saturated ] && rate=0
    BENCH_DATABASE=
    [ "$5" = postgres ] && BENCH_DATABASE=$(bench_postgres_database "b_$1_$3_$4")
    bench_collector_config "$dir" "$TOKEN" "$AGENTS" "$SERVICES"
    taskset -c "$COLLECTOR_CPU" "$2" --config "$dir/picket.toml" --ports-file "$dir/ports.json" \
        --log-level warn >"$dir/collector.log" 2>&1 &
    COLLECTOR_PID=$!
    bench_wait_ready "$dir" "$COLLECTOR_PID"
    [ "$5" = postgres ] && pg_before=$(bench_postgres_ticks)
    timeout $((SECONDS_PER_RUN + 120)) "$BIN/picket-loadgen" \
        --collector "http://$(jq -r .grpc "$dir/ports.json")" --enrollment-token "$TOKEN" \
        --agents "$AGENTS" --rate "$rate" --batch "$BATCH" --window "$WINDOW" \
        --seconds "$SECONDS_PER_RUN" --collector-pid "$COLLECTOR_PID" >"$dir/report.json"
    [ "$5" = postgres ] && pg_after=$(bench_postgres_ticks)
    jq -c --arg name "$1" --arg mode "$3" --arg run "$4" --arg backend "$5" --argjson pg $((pg_after - pg_before)) \
        '{label: $name, backend: $backend, mode: $mode, run: ($run | tonumber)} + . + {db_server_ticks: $pg}' "$dir/report.json"
    kill -0 "$COLLECTOR_PID" 2>/dev/null || { echo "collector died" >&2; cat "$dir/collector.log" >&2; exit 1; }
    kill "$COLLECTOR_PID"
    wait "$COLLECTOR_PID" || true
    COLLECTOR_PID=
}

for r in $(seq 1 "$RUNS"); do
    for mode in $MODES; do
        for c in "${COLLECTORS[@]}"; do
            for backend in $BACKENDS; do
                report=$(run "${c%%=*}" "${c#*=}" "$mode" "$r" "$backend")
                echo "$report"
                echo "$report" >>"$WORK/runs.jsonl"
                acked=$(jq -r '.acked // 0' <<<"$report" 2>/dev/null || true)
                if [ "${acked:-0}" -le 0 ] 2>/dev/null || [ -z "$acked" ]; then
                    echo "run ${c%%=*} $backend $mode $r acknowledged nothing (or loadgen failed)" >&2
                    exit 1
                fi
            done
        done
    done
done

# Per run, then the median (min-max) of each figure per collector, backend
# and mode. db_cpu: the PostgreSQL server's CPU (0 on SQLite, whose work is
# in the collector's figure).
echo
FIGURES='[.acked / .elapsed_s, .ack_latency_ms.p50, .ack_latency_ms.p99,
          .collector_ticks * 100 / $hz / .elapsed_s, .collector_ticks * 1e6 / $hz / .acked,
          .db_server_ticks * 100 / $hz / .elapsed_s, .db_server_ticks * 1e6 / $hz / .acked,
          .collector_rss_kb / 1024, .collector_hwm_kb / 1024]'
printf '%-9s %-8s %-9s %-4s %10s %8s %8s %7s %9s %8s %9s %7s %7s\n' collector backend mode run "results/s" "p50_ms" "p99_ms" "cpu_%" "us/result" "db_cpu_%" "db_us/res" "RSS_MB" "peak_MB"
jq -r --argjson hz "$HZ" "[.label, .backend, .mode, .run] + $FIGURES | @tsv" "$WORK/runs.jsonl" |
    awk -F'\t' '{printf "%-9s %-8s %-9s %-4s %10.0f %8.2f %8.2f %7.1f %9.2f %8.1f %9.2f %7.1f %7.1f\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13}'
echo
echo "medians over $RUNS run(s), (min-max):"
for c in "${COLLECTORS[@]}"; do
    for backend in $BACKENDS; do
        for mode in $MODES; do
            jq -s -r --argjson hz "$HZ" --arg name "${c%%=*}" --arg mode "$mode" --arg backend "$backend" "
                def med: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
                def fig(f): (map(f) | \"\\(med * 100 | round / 100) (\\(min * 100 | round / 100)-\\(max * 100 | round / 100))\");
                map(select(.label == \$name and .mode == \$mode and .backend == \$backend)) | map($FIGURES) as \$rows
                | \"\(\$name) \(\$backend) \(\$mode): results/s \(\$rows | fig(.[0])), ack p50 ms \(\$rows | fig(.[1])), p99 ms \(\$rows | fig(.[2])), cpu % \(\$rows | fig(.[3])), us/result \(\$rows | fig(.[4])), db cpu % \(\$rows | fig(.[5])), db us/result \(\$rows | fig(.[6])), RSS MB \(\$rows | fig(.[7])), peak MB \(\$rows | fig(.[8]))\"
            " "$WORK/runs.jsonl"
        done
    done
done
