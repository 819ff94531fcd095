#!/usr/bin/env bash
# How evenly the agent spreads its probes, and what many checks cost it:
# builds bench/spread (release), then runs the agent's scheduler with
# $CHECKS checks at $INTERVAL s against a loopback HTTP target (a new
# connection per probe) for $INTERVALS intervals, counting probe starts per
# second; then $MEM_CHECKS checks with an instant stub probe for one
# interval (the scheduler's own memory). With COMPARE=1 (default) each run
# is repeated with one task per check, the shape before issue 10.
# Prints the command, date and machine, one JSON line per run and a table.
# Loopback only; every process it starts ends with it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
CHECKS=${CHECKS:-10000}
INTERVAL=${INTERVAL:-60}
INTERVALS=${INTERVALS:-2}
MEM_CHECKS=${MEM_CHECKS:-100000}
COMPARE=${COMPARE:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
echo "command: CHECKS=$CHECKS INTERVAL=$INTERVAL INTERVALS=$INTERVALS MEM_CHECKS=$MEM_CHECKS COMPARE=$COMPARE bench/spread.sh"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(uname -srm), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
cargo build --release --quiet --manifest-path "$root/bench/spread/Cargo.toml"
bin=$CARGO_TARGET_DIR/release/picket-spread
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
