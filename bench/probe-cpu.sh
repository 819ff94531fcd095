#!/usr/bin/env bash
# CPU time per probe of the agent's prober, before and after a change, side
# by side: builds bench/probe-cpu (release) against the agent at $OLD (default:
# the merge base with main) and against this tree, then runs both
# alternately in three modes (HTTPS new connection per probe, plain HTTP,
# HTTPS with keep-alive reuse), $RUNS times each, $PROBES probes per run.
# Prints one JSON line per run, then the median per version and mode.
# SMOKE=1: 50 probes, one run, dev build of this tree only, run as both
# "old" and "new" (see bench/lib.sh).
# Loopback only; every process it starts ends with it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$PWD
if [ "$SMOKE" = 1 ]; then PROBES=${PROBES:-50}; RUNS=${RUNS:-1}; OLD=${OLD:-HEAD}; fi
OLD=${OLD:-$(git -C "$root" merge-base HEAD main)}
PROBES=${PROBES:-2000}
RUNS=${RUNS:-3}
bench_header "OLD=$OLD PROBES=$PROBES RUNS=$RUNS"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/old" "$tmp/bin"
build() {
    bench_build --manifest-path "$1/bench/probe-cpu/Cargo.toml"
    cp "$BIN/picket-probe-cpu" "$tmp/bin/$2"
}
if [ "$SMOKE" = 1 ]; then
    build "$root" new
    cp "$tmp/bin/new" "$tmp/bin/old"
else
    git -C "$root" archive "$OLD" | tar -x -C "$tmp/old"
    # The bench itself is the same for both; only the agent differs.
    rm -rf "$tmp/old/bench/probe-cpu"
    cp -r "$root/bench/probe-cpu" "$tmp/old/bench/probe-cpu"
    echo "building the agent at $OLD (old) and at the work tree (new)" >&2
    build "$tmp/old" old
    build "$root" new
fi
for mode in https http reuse; do
    case $mode in
        https) flags=() ;;
        http) flags=(--http) ;;
        reuse) flags=(--reuse) ;;
    esac
    for _ in $(seq "$RUNS"); do
        for version in old new; do
            line=$("$tmp/bin/$version" --probes "$PROBES" "${flags[@]}")
            echo "{\"version\":\"$version\",\"mode\":\"$mode\",${line#\{}"
        done
    done
done | tee "$tmp/runs.jsonl"
echo "median CPU µs per probe (version mode median min max):"
sed -E 's/.*"version":"([a-z]+)","mode":"([a-z]+)".*"cpu_us_per_probe":([0-9.]+).*/\1 \2 \3/' "$tmp/runs.jsonl" |
    sort -k1,1 -k2,2 -k3,3n |
    awk '{k=$1" "$2; v[k]=v[k]" "$3; n[k]++}
         END {for (k in v) {split(substr(v[k],2), a, " "); printf "%s %s %s %s\n", k, a[int((n[k]+1)/2)], a[1], a[n[k]]}}' |
    sort
