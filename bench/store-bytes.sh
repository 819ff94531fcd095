#!/usr/bin/env bash
# Bytes per stored result: the compact results layout (migration 0003,
# written through Store::record_batch with its rollups) against the layout
# before it (0001's results table and index, the old insert), side by side
# in one run, each VACUUMed. Also rows/s, statements per batch and the
# rollups' bytes per service-hour.
#
# Arguments go to picket-store-bytes (`--help`): --results (1000000),
# --services (1000), --agents (3), --interval-s (60), --failure-rate
# (0.01), --batch (1000), --dir (a temp dir, removed). SMOKE=1 adds
# --results 20000 (see bench/lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
args=("$@")
[ "$SMOKE" = 1 ] && args=(--results 20000 "${args[@]}")
bench_header "${args[*]}"
bench_build -p picket-bench --bin picket-store-bytes
exec "$BIN/picket-store-bytes" "${args[@]}"
