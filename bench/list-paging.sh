#!/usr/bin/env bash
# What listing services costs at scale (issue 10): fills a store with
# SERVICES services (plain SQL, picket-list-bench fill), starts a release
# picket-collector on it and times ListServices through its gRPC API
# (REQUESTS first pages, then a walk over every page) at page sizes 500 and
# 1000, then `picketctl services --json` end to end (it follows every
# page). With BIG (e.g. 1000000) it also fills a store of BIG services and
# times pages of 1000 on the store directly (the query under the API),
# without starting a collector on it. Target: a page of 1000 under 50 ms
# p99 at 1M services.
#
# Environment: SERVICES (100000), REQUESTS (200), BIG (unset: skipped);
# SMOKE=1: 2000 services, 20 requests (see bench/lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ "$SMOKE" = 1 ]; then SERVICES=${SERVICES:-2000}; REQUESTS=${REQUESTS:-20}; fi

SERVICES=${SERVICES:-100000}
REQUESTS=${REQUESTS:-200}
BIG=${BIG:-}

bench_header "SERVICES=$SERVICES REQUESTS=$REQUESTS BIG=${BIG:-}"
bench_build -p picket-bench --bin picket-list-bench \
    -p picket-collector --bin picket-collector -p picket-cli --bin picketctl

WORK=$(mktemp -d)
COLLECTOR=
cleanup() {
    if [ -n "$COLLECTOR" ]; then kill "$COLLECTOR" 2>/dev/null || true; wait "$COLLECTOR" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN/picket-list-bench" fill --dir "$WORK/small" --services "$SERVICES"
PICKET_LOG=warn "$BIN/picket-collector" --config "$WORK/small/picket.toml" \
    --ports-file "$WORK/ports.json" 2>"$WORK/collector.log" &
COLLECTOR=$!

"$BIN/picket-list-bench" api --ports-file "$WORK/ports.json" --page-size 500 --requests "$REQUESTS"
"$BIN/picket-list-bench" api --ports-file "$WORK/ports.json" --page-size 1000 --requests "$REQUESTS"
GRPC=$(sed -n 's/.*"grpc": *"\([^"]*\)".*/\1/p' "$WORK/ports.json")
start=$(date +%s.%N)
"$BIN/picketctl" --collector "http://$GRPC" services --json >"$WORK/services.json"
end=$(date +%s.%N)
rows=$(grep -o '"id":' "$WORK/services.json" | wc -l)
awk -v r="$rows" -v s="$start" -v e="$end" 'BEGIN { printf "picketctl services --json: %d services in %.2f s\n", r, e - s }'
kill "$COLLECTOR"; wait "$COLLECTOR" 2>/dev/null || true; COLLECTOR=

if [ -n "$BIG" ]; then
    rm -rf "$WORK/small"
    "$BIN/picket-list-bench" fill --dir "$WORK/big" --services "$BIG"
    "$BIN/picket-list-bench" store --db "$WORK/big/picket.db" --page-size 1000 --requests "$REQUESTS"
fi
