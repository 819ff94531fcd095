#!/usr/bin/env bash
# How evenly the agent spreads its probes, and what many checks cost it:
# builds bench/spread (release), then runs the agent's scheduler with
# $CHECKS checks at $INTERVAL s against a loopback HTTP target (a new
# connection per probe) for $INTERVALS intervals, counting probe starts per
# second; then $MEM_CHECKS checks with an instant stub probe for one
# interval (the scheduler's own memory). With COMPARE=1 (default) each run
# is repeated with one task per check, the shape before issue 10.
# Prints the command, date and machine, one JSON line per run and a table.
# SMOKE=1: 200 checks at 2 s for one interval, 2000 for the memory run, no
# comparison, dev build (see bench/lib.sh).
# Loopback only; every process it starts ends with it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$PWD
if [ "$SMOKE" = 1 ]; then CHECKS=${CHECKS:-200}; INTERVAL=${INTERVAL:-2}; INTERVALS=${INTERVALS:-1}; MEM_CHECKS=${MEM_CHECKS:-2000}; COMPARE=${COMPARE:-0}; fi
CHECKS=${CHECKS:-10000}
INTERVAL=${INTERVAL:-60}
INTERVALS=${INTERVALS:-2}
MEM_CHECKS=${MEM_CHECKS:-100000}
COMPARE=${COMPARE:-1}
bench_header "CHECKS=$CHECKS INTERVAL=$INTERVAL INTERVALS=$INTERVALS MEM_CHECKS=$MEM_CHECKS COMPARE=$COMPARE"
bench_build --manifest-path "$root/bench/spread/Cargo.toml"
bin=$BIN/picket-spread
modes=("")
[ "$COMPARE" = 1 ] && modes+=(--tasks)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for mode in "${modes[@]}"; do
    "$bin" --checks "$CHECKS" --interval "$INTERVAL" --intervals "$INTERVALS" $mode
    "$bin" --checks "$MEM_CHECKS" --interval "$INTERVAL" --intervals 1 --stub $mode
done | tee "$tmp"
echo
printf '%-10s %7s %8s %7s %7s %7s %8s %8s %8s %8s\n' mode checks probes failed mean/s min/s max/s busiest1s max/mean RSS_MB
sed -E 's/[{}"]//g' "$tmp" | tr ',' ' ' | awk '{
    for (i = 1; i <= NF; i++) { split($i, kv, ":"); v[kv[1]] = kv[2] }
    printf "%-10s %7d %8d %7d %7.1f %7d %8d %8d %8.2f %8.1f\n", v["mode"], v["checks"], v["probes"], v["failed"],
        v["mean_per_s"], v["min_per_s"], v["max_per_s"], v["busiest_1s_window"], v["max_over_mean"], v["rss_end_kb"] / 1024
}'
