#!/usr/bin/env bash
# What the status pages cost at 100k services: fills a store (SERVICES
# services, a day of rollups each, three agents, their latest results, 1 %
# of the services down with an open request) with picket-pages-bench, starts
# a release picket-collector on it, and times REQUESTS sequential GETs of
# `/` (the first page), `/?state=down` (a filtered page), page 2 of `/`
# (keyset: as fast as page 1) and `/services/ID`, printing p50 / p99 / max
# of each. Targets: `/` under 100 ms, `/services/ID` under 50 ms.
#
# Environment: SERVICES (100000), REQUESTS (200); SMOKE=1: 1000 services,
# 10 requests (see bench/lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ "$SMOKE" = 1 ]; then SERVICES=${SERVICES:-1000}; REQUESTS=${REQUESTS:-10}; fi

SERVICES=${SERVICES:-100000}
REQUESTS=${REQUESTS:-200}

bench_header "SERVICES=$SERVICES REQUESTS=$REQUESTS"
bench_build -p picket-bench --bin picket-pages-bench -p picket-collector --bin picket-collector

WORK=$(mktemp -d)
COLLECTOR=
cleanup() {
    if [ -n "$COLLECTOR" ]; then kill "$COLLECTOR" 2>/dev/null || true; wait "$COLLECTOR" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN/picket-pages-bench" fill --dir "$WORK" --services "$SERVICES"
PICKET_LOG=warn "$BIN/picket-collector" --config "$WORK/picket.toml" --ports-file "$WORK/ports.json" \
    2>"$WORK/collector.log" &
COLLECTOR=$!

measure() { "$BIN/picket-pages-bench" measure --ports-file "$WORK/ports.json" --requests "$REQUESTS" --path "$1"; }
measure "/"
measure "/?state=down"
measure "/?after=svc-000049"
measure "/?equipment=eq-0500&state=down"
# Two services from the middle of the store (ids as picket-pages-bench names them).
measure "/services/$(printf 'svc-%06d' $((SERVICES / 2 + 42)))"
measure "/services/$(printf 'svc-%06d' $((SERVICES / 2 + 43)))"
