#!/usr/bin/env bash
# What /metrics costs at scale, and whether it holds ingest back.
#
# Builds picket-metrics-bench in release mode and runs it on a fresh
# SQLite file in a temp dir (removed at the end): SERVICES services x
# AGENTS agents of latest probes (phases and a certificate each) in the
# collector's in-memory tables, every agent assigned to every service.
# It streams SCRAPES scrapes of the text exposition as the HTTP handler
# does (a blocking thread, 256 KiB chunks through a bounded channel),
# timed until the last chunk is drained, with probe_series = "agent" and
# "service" (p50 / p99 / max and a cold scrape, size, largest chunk, the
# most text held at once, the rise of peak RSS), then an ingest-like loop
# (Store::record_batch of BATCH results + the probe table's update, one
# every INTERVAL_MS) with no scrape and with scrapes back to back, side by
# side.
#
# Environment: SERVICES (100000), AGENTS (3), SCRAPES (10), BATCH (1000),
# INTERVAL_MS (50), BATCHES (200); BEFORE, the path of an older
# picket-metrics-bench binary to run first with the same flags; SMOKE=1:
# 1000 services, 2 scrapes, 20 batches (see bench/lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ "$SMOKE" = 1 ]; then SERVICES=${SERVICES:-1000}; SCRAPES=${SCRAPES:-2}; BATCHES=${BATCHES:-20}; fi

SERVICES=${SERVICES:-100000}
AGENTS=${AGENTS:-3}
SCRAPES=${SCRAPES:-10}
BATCH=${BATCH:-1000}
INTERVAL_MS=${INTERVAL_MS:-50}
BATCHES=${BATCHES:-200}

bench_build -p picket-bench --bin picket-metrics-bench

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

FLAGS=(--services "$SERVICES" --agents "$AGENTS" --scrapes "$SCRAPES"
    --batch "$BATCH" --interval-ms "$INTERVAL_MS" --batches "$BATCHES")
bench_header "SERVICES=$SERVICES AGENTS=$AGENTS SCRAPES=$SCRAPES BATCH=$BATCH INTERVAL_MS=$INTERVAL_MS BATCHES=$BATCHES${BEFORE:+ BEFORE=$BEFORE}"
if [ -n "${BEFORE:-}" ]; then
    echo "## before: $BEFORE"
    "$BEFORE" --db "$WORK/before.db" "${FLAGS[@]}"
    echo "## this tree"
fi
"$BIN/picket-metrics-bench" --db "$WORK/picket.db" "${FLAGS[@]}"
