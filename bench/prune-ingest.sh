#!/usr/bin/env bash
# What retention pruning costs ingest: the latency of the collector's
# ingest write (Store::record_batch) without pruning, then while the
# pruner deletes 10 million old results.
#
# Builds picket-prune-bench in release mode and runs it on a fresh SQLite
# file in a temp dir (removed at the end): it fills the store with
# OLD_ROWS results 20 days old plus a day of fresh ones (one a minute per
# service), times BASELINE_BATCHES ingest batches of BATCH results (one
# every INTERVAL_MS) with nothing else running, then times the same
# batches while the collector's pruner (RetentionHandle, results kept 7d)
# deletes every old row, and prints p50 / p99 / max of both phases, the
# p99 ratio (target <= 2) and the rows deleted per second. Runs RUNS times.
#
# Environment: OLD_ROWS (10000000), SERVICES (1000), BATCH (200),
# INTERVAL_MS (50; 0 = back to back), BASELINE_BATCHES (600), RUNS (1);
# PRUNE_BATCH_ROWS and PRUNE_PAUSE_MS override the pruner's pacing.
# SMOKE=1: 20000 old rows, 50 batches (see bench/lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ "$SMOKE" = 1 ]; then OLD_ROWS=${OLD_ROWS:-20000}; SERVICES=${SERVICES:-100}; BASELINE_BATCHES=${BASELINE_BATCHES:-50}; fi

OLD_ROWS=${OLD_ROWS:-10000000}
SERVICES=${SERVICES:-1000}
BATCH=${BATCH:-200}
INTERVAL_MS=${INTERVAL_MS:-50}
BASELINE_BATCHES=${BASELINE_BATCHES:-600}
RUNS=${RUNS:-1}

bench_header "OLD_ROWS=$OLD_ROWS SERVICES=$SERVICES BATCH=$BATCH INTERVAL_MS=$INTERVAL_MS BASELINE_BATCHES=$BASELINE_BATCHES RUNS=$RUNS${PRUNE_BATCH_ROWS:+ PRUNE_BATCH_ROWS=$PRUNE_BATCH_ROWS}${PRUNE_PAUSE_MS:+ PRUNE_PAUSE_MS=$PRUNE_PAUSE_MS}"
bench_build -p picket-bench --bin picket-prune-bench

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

pacing=()
[ -n "${PRUNE_BATCH_ROWS:-}" ] && pacing+=(--prune-batch-rows "$PRUNE_BATCH_ROWS")
[ -n "${PRUNE_PAUSE_MS:-}" ] && pacing+=(--prune-pause-ms "$PRUNE_PAUSE_MS")
for r in $(seq 1 "$RUNS"); do
    echo "run $r"
    "$BIN/picket-prune-bench" --db "$WORK/picket-$r.db" --old-rows "$OLD_ROWS" \
        --services "$SERVICES" --batch "$BATCH" --interval-ms "$INTERVAL_MS" \
        --baseline-batches "$BASELINE_BATCHES" "${pacing[@]}"
    rm -f "$WORK/picket-$r.db"*
done
