#!/usr/bin/env bash
# Detection time (issue 10, 6d): a failure injected at a target -> the
# request.opened webhook received, over TRIALS trials, through the real
# binaries: a release picket-collector, AGENTS picket-agents (a region each;
# quorum: their majority), a loopback HTTP target and a webhook receiver
# (picket-detect-bench, on the e2e harness). Each trial makes the target
# answer 503, waits for request.opened, then heals it and waits for
# request.closed. Prints p50 / p99 / max from the injection (which includes
# the wait for the next scheduled probe, up to one INTERVAL) and from the
# first failing probe, against the bound recheck_delay + probe time + 1 s.
# Loopback only; every process it starts ends with it.
#
# Environment: TRIALS (50), AGENTS (3), INTERVAL (1s), RECHECK_DELAY (2s,
# the default); SMOKE=1: 3 trials (see bench/lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ "$SMOKE" = 1 ] && TRIALS=${TRIALS:-3}
TRIALS=${TRIALS:-50}
AGENTS=${AGENTS:-3}
INTERVAL=${INTERVAL:-1s}
RECHECK_DELAY=${RECHECK_DELAY:-2s}
bench_header "TRIALS=$TRIALS AGENTS=$AGENTS INTERVAL=$INTERVAL RECHECK_DELAY=$RECHECK_DELAY"
bench_build -p picket-collector -p picket-agent -p picket-cli -p picket-bench --bins
# The harness finds the binaries next to picket-detect-bench, and keeps its
# processes' temp dirs and logs in TMPDIR, removed when they end.
PICKET_E2E_BIN_DIR=$BIN "$BIN/picket-detect-bench" --trials "$TRIALS" --agents "$AGENTS" \
    --interval "$INTERVAL" --recheck-delay "$RECHECK_DELAY" --json
