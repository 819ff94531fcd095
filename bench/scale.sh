#!/usr/bin/env bash
# A collector with many services (issue 10, item 6c). For each size in
# SIZES: writes a config of SERVICES services in included files
# (picket-scale-bench config: 1000 per file in services.d), starts
# picket-collector on it (SQLite, port 0) and measures
#   - start-up: process start → /readyz answers 200 (the API serves), and
#     the collector's CPU time by then;
#   - RSS after start-up, after ListServices pages, after the load;
#   - ListServices, a page of 1000 through gRPC (picket-list-bench api):
#     first page p50/p99 over REQUESTS calls, then a walk over every page;
#   - the assignment of a new agent in region `assign` (min(300k, 30 % of
#     SERVICES) checks): connect → every part of its full set;
#   - collector CPU at the 60 s rate: picket-loadgen, 3 fake agents
#     streaming SERVICES × 3 / 60 results/s in batches of BATCH for
#     LOAD_SECONDS.
# Prints the command, date and machine, one JSON line per size and a
# table. Targets (issue 10): start-up < 15 s and RSS < 1.5 GB at 1M; a page
# of 1000 < 50 ms p99 at 1M; the 300k assignment < 10 s; collector under
# one core at 1M × 3 / 60 s. A missed target is printed, not a failure; a
# run that did not work (collector died, not ready, nothing acknowledged)
# is.
#
# Environment: SIZES ("100000 1000000"), REQUESTS (200), LOAD_SECONDS
# (30), BATCH (25), ENROLL_TIMEOUT (300 s, loadgen's per agent).
# SMOKE=1: SIZES=2000, short runs, dev build.
# Loopback only; every process it starts ends with it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
    SIZES=${SIZES:-2000}; REQUESTS=${REQUESTS:-20}; LOAD_SECONDS=${LOAD_SECONDS:-3}
    profile=debug; build=()
else
    SIZES=${SIZES:-"100000 1000000"}; REQUESTS=${REQUESTS:-200}; LOAD_SECONDS=${LOAD_SECONDS:-30}
    profile=release; build=(--release)
fi
BATCH=${BATCH:-25}
# A fake agent of the load gets up to 700k checks at 1M services: its
# first assignment part takes longer than loadgen's default 15 s.
ENROLL_TIMEOUT=${ENROLL_TIMEOUT:-300}
echo "command: SMOKE=$SMOKE SIZES=\"$SIZES\" REQUESTS=$REQUESTS LOAD_SECONDS=$LOAD_SECONDS BATCH=$BATCH ENROLL_TIMEOUT=$ENROLL_TIMEOUT bench/scale.sh"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(uname -srm), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
cargo build "${build[@]}" --quiet --manifest-path "$root/Cargo.toml" \
    -p picket-collector --bin picket-collector \
    -p picket-bench --bin picket-scale-bench --bin picket-list-bench --bin picket-loadgen
bin=$CARGO_TARGET_DIR/$profile
tck=$(getconf CLK_TCK)

work=$(mktemp -d)
collector=
cleanup() {
    if [ -n "$collector" ]; then kill "$collector" 2>/dev/null || true; wait "$collector" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "scale.sh: $*" >&2; [ -f "$dir/collector.log" ] && tail -5 "$dir/collector.log" >&2; exit 1; }
rss_mb() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$collector/status"; }
alive() { kill -0 "$collector" 2>/dev/null || fail "the collector died"; }

lines=$work/lines.jsonl
for services in $SIZES; do
    dir=$work/$services
    assign=$((services * 3 / 10)); [ "$assign" -gt 300000 ] && assign=300000
    "$bin/picket-scale-bench" config --dir "$dir" --services "$services" --assign "$assign"
    t0=$(date +%s.%N)
    PICKET_LOG=warn "$bin/picket-collector" --config "$dir/picket.toml" \
        --ports-file "$dir/ports.json" 2>"$dir/collector.log" &
    collector=$!
    until [ -s "$dir/ports.json" ]; do alive; sleep 0.05; done
    http=$(jq -r .http "$dir/ports.json"); grpc=$(jq -r .grpc "$dir/ports.json")
    until curl -sf -o /dev/null "http://$http/readyz"; do
        alive
        awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { exit !(now - t0 > 600) }' && fail "not ready after 600 s"
        sleep 0.05
    done
    startup=$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.2f", now - t0 }')
    rss_start=$(rss_mb)
    cpu_ready=$(awk -v tck="$tck" '{ printf "%.2f", ($14 + $15) / tck }' "/proc/$collector/stat")

    list=$("$bin/picket-list-bench" api --ports-file "$dir/ports.json" --page-size 1000 --requests "$REQUESTS")
    echo "$list" >&2
    first=$(grep 'first page' <<<"$list")
    p50=$(sed -E 's/.*p50 ([0-9.]+) ms.*/\1/' <<<"$first")
    p99=$(sed -E 's/.*p99 ([0-9.]+) ms.*/\1/' <<<"$first")
    walk_p99=$(grep 'every page' <<<"$list" | sed -E 's/.*p99 ([0-9.]+) ms.*/\1/')
    alive; rss_list=$(rss_mb)

    assigned=$("$bin/picket-scale-bench" assign --collector "http://$grpc") || fail "the assignment failed"
    alive

    rate=$((services * 3 / 60))
    load=$("$bin/picket-loadgen" --collector "http://$grpc" --enrollment-token bench --agents 3 \
        --rate "$rate" --batch "$BATCH" --seconds "$LOAD_SECONDS" --collector-pid "$collector" \
        --enroll-timeout "$ENROLL_TIMEOUT") \
        || fail "the load generator failed"
    alive; rss_end=$(rss_mb)
    kill "$collector"; wait "$collector" 2>/dev/null || true; collector=

    jq -cn --argjson services "$services" --argjson startup "$startup" --argjson cpu_ready "$cpu_ready" \
        --argjson rss_start "$rss_start" --argjson rss_list "$rss_list" --argjson rss_end "$rss_end" \
        --argjson p50 "$p50" --argjson p99 "$p99" --argjson walk_p99 "$walk_p99" \
        --argjson assign "$assigned" --argjson load "$load" --argjson tck "$tck" '{
            services: $services, startup_s: $startup, startup_cpu_s: $cpu_ready,
            rss_mb: {started: $rss_start, after_listing: $rss_list, after_load: $rss_end},
            list_page_1000_ms: {p50: $p50, p99: $p99, walk_p99: $walk_p99},
            assignment: $assign,
            load: ($load + {acked_per_s: ($load.acked / $load.elapsed_s),
                collector_cpu_pct: ($load.collector_ticks / $tck / $load.elapsed_s * 100)})
        }' | tee -a "$lines"
    [ "$(jq .load.acked <<<"$(tail -1 "$lines")")" -gt 0 ] || fail "no result was acknowledged"
    rm -rf "$dir"
done

echo
printf '%9s %9s %7s %8s %8s %8s %9s %9s %8s %10s %9s %9s %7s\n' services startup_s cpu_s RSS_MB RSS_list RSS_load page_p50 page_p99 assigned assign_ms results/s acked/s CPU%
jq -r '[.services, .startup_s, .startup_cpu_s, .rss_mb.started, .rss_mb.after_listing, .rss_mb.after_load,
        .list_page_1000_ms.p50, .list_page_1000_ms.p99, .assignment.checks, .assignment.complete_ms,
        .load.target_rate, .load.acked_per_s, .load.collector_cpu_pct] | @tsv' "$lines" |
    awk -F'\t' '{ printf "%9d %9.2f %7.2f %8d %8d %8d %9.1f %9.1f %8d %10.0f %9d %9.0f %7.1f\n",
        $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }'
echo "targets at 1M: start-up < 15 s, RSS < 1536 MB, page p99 < 50 ms, 300k assignment < 10000 ms, CPU < 100 %"
