#!/usr/bin/env bash
# The agent's probe engine side by side with prometheus-blackbox-exporter
# (issue 10 item 6a): both probe the same local nginx over HTTP and HTTPS, a
# new connection per probe, at the same rate ($RATE probes/s) and pinned to
# the same core ($CORE), alternately, $RUNS times each; prints CPU ms per
# probe for each, the ratio agent/blackbox (target <= 0.25) and the RSS of
# each.
#
# Needs the Debian packages nginx (or nginx-light) and
# prometheus-blackbox-exporter, and openssl; installs nothing.
#
# The agent side is the agent's real prober (picket_agent::probe::probe, the
# agent's runtime from picket_agent::runtime(), its client cache and TLS
# configuration) driven at a fixed rate by bench/probe-cpu --url: the whole
# agent would need a collector, and its rate is only set indirectly by check
# count and interval; the issue compares the probe engines. The exporter is
# driven by bench/probe-cpu --drive (GET /probe?target=...&module=... over
# keep-alive connections) on another core ($DRIVER_CORE, with nginx); the
# driver's CPU is not charged to the exporter. CPU is user+system time from
# /proc/PID/stat over $SECONDS_PER_RUN s after 1 s of warm-up. nginx logs
# $connection_requests per request: the script checks that every probe of
# both engines came on a new connection.
#
# SMOKE=1: dev build, one short run at a low rate; skips (exit 0) when
# nginx or the exporter is missing. Loopback only; every process it starts
# ends with it; writes only in a temp dir.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
    RATE=${RATE:-100} SECONDS_PER_RUN=${SECONDS_PER_RUN:-2} RUNS=${RUNS:-1} profile=debug
else
    RATE=${RATE:-500} SECONDS_PER_RUN=${SECONDS_PER_RUN:-10} RUNS=${RUNS:-5} profile=release
fi
CORE=${CORE:-1}
DRIVER_CORE=${DRIVER_CORE:-0}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
echo "command: SMOKE=$SMOKE RATE=$RATE SECONDS_PER_RUN=$SECONDS_PER_RUN RUNS=$RUNS CORE=$CORE DRIVER_CORE=$DRIVER_CORE bench/blackbox.sh"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(uname -srm), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"

nginx_bin=$(command -v nginx || true)
[ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ] && nginx_bin=/usr/sbin/nginx
bb_bin=$(command -v prometheus-blackbox-exporter || true)
if [ -z "$nginx_bin" ] || [ -z "$bb_bin" ] || ! command -v openssl >/dev/null; then
    if [ "$SMOKE" = 1 ]; then
        echo "skipped: needs nginx, prometheus-blackbox-exporter"
        exit 0
    fi
    echo "bench/blackbox.sh needs the Debian packages nginx (or nginx-light), prometheus-blackbox-exporter and openssl:" >&2
    echo "  apt-get install nginx-light prometheus-blackbox-exporter openssl" >&2
    exit 1
fi
echo "versions: $("$nginx_bin" -v 2>&1), $("$bb_bin" --version 2>&1 | head -1)"

if [ "$profile" = release ]; then
    cargo build --release --quiet --manifest-path "$root/bench/probe-cpu/Cargo.toml"
else
    cargo build --quiet --manifest-path "$root/bench/probe-cpu/Cargo.toml"
fi
bench=$CARGO_TARGET_DIR/$profile/picket-probe-cpu

tmp=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
# nginx workers may run as another user: they read the body from here.
chmod 755 "$tmp"
base=$((20000 + RANDOM % 20000))
http_port=$base https_port=$((base + 1)) bb_port=$((base + 2))

# A throwaway CA and a leaf for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=picket-bench-ca -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj /CN=127.0.0.1 -keyout "$tmp/leaf.key" -out "$tmp/leaf.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/leaf.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
    -days 2 -extfile "$tmp/ext" -out "$tmp/leaf.pem" 2>/dev/null

mkdir -p "$tmp/www"
head -c 2048 /dev/zero | tr '\0' x >"$tmp/www/index.html"
chmod 644 "$tmp/www/index.html"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user nobody nogroup;"
cat >"$tmp/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 1024; }
http {
    log_format probe '\$connection_requests \$http_user_agent';
    access_log $tmp/access.log probe;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    keepalive_timeout 30s;
    server {
        listen 127.0.0.1:$http_port;
        listen 127.0.0.1:$https_port ssl;
        ssl_certificate $tmp/leaf.pem;
        ssl_certificate_key $tmp/leaf.key;
        root $tmp/www;
    }
}
EOF
taskset -c "$DRIVER_CORE" "$nginx_bin" -p "$tmp" -e "$tmp/nginx-error.log" -c "$tmp/nginx.conf" -g 'daemon off;' &
pids+=($!)

cat >"$tmp/blackbox.yml" <<EOF
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      valid_status_codes: [200]
  https_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      valid_status_codes: [200]
      fail_if_not_ssl: true
      tls_config:
        ca_file: $tmp/ca.pem
EOF
taskset -c "$CORE" "$bb_bin" --config.file "$tmp/blackbox.yml" \
    --web.listen-address "127.0.0.1:$bb_port" --log.level warn 2>"$tmp/blackbox.log" &
bb_pid=$!
pids+=("$bb_pid")

# Wait for both to answer (a probe of each scheme through the exporter).
ready=0
for _ in $(seq 100); do
    if curl -sf "http://127.0.0.1:$bb_port/probe?target=https://127.0.0.1:$https_port/&module=https_2xx" 2>/dev/null |
        grep -q '^probe_success 1' &&
        curl -sf "http://127.0.0.1:$http_port/" >/dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.1
done
if [ "$ready" != 1 ]; then
    echo "nginx or blackbox_exporter did not come up:" >&2
    cat "$tmp/nginx-error.log" "$tmp/blackbox.log" >&2 || true
    curl -s "http://127.0.0.1:$bb_port/probe?target=https://127.0.0.1:$https_port/&module=https_2xx&debug=true" >&2 || true
    exit 1
fi

runs=$tmp/runs.jsonl
for run in $(seq "$RUNS"); do
    for scheme in http https; do
        port=$http_port
        [ "$scheme" = https ] && port=$https_port
        url="$scheme://127.0.0.1:$port/"
        line=$(taskset -c "$CORE" "$bench" --url "$url" --ca "$tmp/ca.pem" --rate "$RATE" --seconds "$SECONDS_PER_RUN")
        echo "{\"engine\":\"agent\",\"scheme\":\"$scheme\",\"run\":$run,${line#\{}" | tee -a "$runs"
        kill -0 "$bb_pid" 2>/dev/null || { echo "blackbox_exporter died" >&2; exit 1; }
        line=$(taskset -c "$DRIVER_CORE" "$bench" --drive "http://127.0.0.1:$bb_port/probe?target=$url&module=${scheme}_2xx" \
            --pid "$bb_pid" --rate "$RATE" --seconds "$SECONDS_PER_RUN")
        echo "{\"engine\":\"blackbox\",\"scheme\":\"$scheme\",\"run\":$run,${line#\{}" | tee -a "$runs"
    done
done

# Every request nginx saw came on a new connection (connection_requests 1).
reused=$(awk '$1 != 1' "$tmp/access.log" | wc -l)
total=$(wc -l <"$tmp/access.log")
echo "nginx: $total requests, $reused on a reused connection (want 0)"
echo "user agents: $(awk '{$1=""; print}' "$tmp/access.log" | sort | uniq -c | sort -rn | head -3 | tr -s ' ' | paste -sd ';')"

echo
echo "median of $RUNS runs (range) at $RATE probes/s, core $CORE, $SECONDS_PER_RUN s each; shared machine"
printf '%-8s %-6s %22s %16s %12s %8s\n' engine scheme "cpu_ms/probe" "rss_MB" "min_rate/s" failed
sed -E 's/[{}"]//g' "$runs" | tr ',' ' ' | awk '{
    for (i = 1; i <= NF; i++) { split($i, kv, ":"); v[kv[1]] = kv[2] }
    print v["engine"], v["scheme"], v["cpu_ms_per_probe"], v["rss_kb"] / 1024, v["rate"], v["failed"] + v["probes_failed"]
}' | sort -k1,1 -k2,2 -k3,3n | awk '
    { k = $1 " " $2; n[k]++; c[k, n[k]] = $3; r[k] = r[k] " " $4; if (!(k in rate) || $5 < rate[k]) rate[k] = $5; f[k] += $6 }
    END {
        for (k in n) {
            m = c[k, int((n[k] + 1) / 2)]; med[k] = m
            m2 = split(substr(r[k], 2), rs, " ")
            for (i = 2; i <= m2; i++) for (j = i; j > 1 && rs[j - 1] + 0 > rs[j] + 0; j--) { t = rs[j]; rs[j] = rs[j - 1]; rs[j - 1] = t }
            printf "%-15s %8.3f (%.3f-%.3f) %6.1f (%.1f-%.1f) %12.1f %8d\n", k, m, c[k, 1], c[k, n[k]],
                rs[int((n[k] + 1) / 2)], rs[1], rs[n[k]], rate[k], f[k]
        }
        split("http https", schemes, " ")
        for (i = 1; i <= 2; i++) {
            a = med["agent " schemes[i]]; b = med["blackbox " schemes[i]]
            if (b > 0) printf "ratio agent/blackbox %-5s %.2f (target <= 0.25)\n", schemes[i], a / b
        }
    }'
[ "$reused" = 0 ] || echo "warning: $reused probes reused a connection" >&2
