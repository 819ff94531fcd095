#!/usr/bin/env bash
# The extra CPU per probe result that TLS on the agent link costs.
#
# Builds release binaries, makes a CA and a server certificate with
# openssl, then runs the same load (picket-loadgen: fake agents streaming
# results over the real agent link) against a fresh picket-collector,
# alternating plaintext and TLS, RUNS times each. For each run it reports
# the CPU time (utime + stime from /proc/PID/stat, over the streaming phase
# only) per acknowledged result, in µs, of the collector and of the load
# generator (the client side, which an agent pays), then the medians and
# the TLS / plaintext ratios. Loopback only; every process it starts is
# stopped at the end. Needs Linux, openssl and jq.
#
# Environment: AGENTS (4), RATE (5000 results/s in total), BATCH (25
# results per message), SECONDS_PER_RUN (20), RUNS (3), SERVICES (20);
# SMOKE=1: one 3 s run of each at 500 results/s (see bench/lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ "$SMOKE" = 1 ]; then RATE=${RATE:-500}; SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}; RUNS=${RUNS:-1}; fi

AGENTS=${AGENTS:-4}
RATE=${RATE:-5000}
BATCH=${BATCH:-25}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
RUNS=${RUNS:-3}
SERVICES=${SERVICES:-20}
TOKEN=bench-enroll

bench_header "AGENTS=$AGENTS RATE=$RATE BATCH=$BATCH SECONDS_PER_RUN=$SECONDS_PER_RUN RUNS=$RUNS SERVICES=$SERVICES"
bench_build -p picket-collector -p picket-bench --bins
HZ=$(getconf CLK_TCK)

WORK=$(mktemp -d)
COLLECTOR_PID=
cleanup() {
    if [ -n "$COLLECTOR_PID" ]; then
        kill "$COLLECTOR_PID" 2>/dev/null || true
        wait "$COLLECTOR_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# A CA and a certificate for 127.0.0.1 signed by it (P-256, as README shows).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=Bench CA" -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
openssl req -x509 -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -newkey ec \
    -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -keyout "$WORK/collector.key" -out "$WORK/collector.crt" \
    -addext "subjectAltName=IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" \
    -addext "extendedKeyUsage=serverAuth" 2>/dev/null

# run MODE RUN: one collector, one load; prints the loadgen's JSON report.
run() {
    local dir="$WORK/$1-$2" scheme ca=() tls=()
    [ "$1" = tls ] && tls=("tls_cert = \"$WORK/collector.crt\"" "tls_key = \"$WORK/collector.key\"")
    bench_collector_config "$dir" "$TOKEN" "$AGENTS" "$SERVICES" "${tls[@]}"
    "$BIN/picket-collector" --config "$dir/picket.toml" --ports-file "$dir/ports.json" \
        --log-level warn >"$dir/collector.log" 2>&1 &
    COLLECTOR_PID=$!
    bench_wait_ports "$dir" "$COLLECTOR_PID"
    scheme=http
    if [ "$1" = tls ]; then
        scheme=https
        ca=(--ca-cert "$WORK/ca.crt")
    fi
    timeout 120 "$BIN/picket-loadgen" --collector "$scheme://$(jq -r .grpc "$dir/ports.json")" \
        "${ca[@]}" --enrollment-token "$TOKEN" --agents "$AGENTS" --rate "$RATE" \
        --batch "$BATCH" --seconds "$SECONDS_PER_RUN" --collector-pid "$COLLECTOR_PID"
    kill "$COLLECTOR_PID"
    wait "$COLLECTOR_PID" || true
    COLLECTOR_PID=
}

echo "load: $AGENTS agents, $RATE results/s in total, batches of $BATCH, ${SECONDS_PER_RUN}s per run; CPU in µs per acked result"
printf '%-6s %-4s %9s %9s %8s %12s %12s\n' mode run sent acked "rate/s" "collector" "loadgen"
for r in $(seq 1 "$RUNS"); do
    for mode in plain tls; do
        report=$(run "$mode" "$r")
        echo "$report" >>"$WORK/$mode.jsonl"
        jq -r --arg mode "$mode" --arg run "$r" --argjson hz "$HZ" '
            [$mode, $run, .sent, .acked, (.acked / .elapsed_s | floor),
             (.collector_ticks * 1e6 / $hz / .acked * 100 | round / 100),
             (.loadgen_ticks * 1e6 / $hz / .acked * 100 | round / 100)]
            | @tsv' <<<"$report" |
            awk -F'\t' '{printf "%-6s %-4s %9s %9s %8s %12s %12s\n", $1, $2, $3, $4, $5, $6, $7}'
    done
done

per_result() { jq -r --argjson hz "$HZ" ".$2_ticks * 1e6 / \$hz / .acked" "$WORK/$1.jsonl" | median_min_max; }
echo
for side in collector loadgen; do
    read -r p pmin pmax < <(per_result plain "$side")
    read -r t tmin tmax < <(per_result tls "$side")
    awk -v s="$side" -v p="$p" -v t="$t" -v a="$pmin" -v b="$pmax" -v c="$tmin" -v d="$tmax" 'BEGIN {
        printf "median %-9s plaintext %.2f µs (%.2f-%.2f)  TLS %.2f µs (%.2f-%.2f)  TLS/plaintext %.2f  extra %+.2f µs per result\n",
            s, p, a, b, t, c, d, t / p, t - p }'
done
