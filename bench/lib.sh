# What every bench script shares; sourced (`. "$(dirname "$0")/lib.sh"`),
# never run. After sourcing, a script is at the repository root and has:
# - SMOKE: 1 for CI's smoke run (`SMOKE=1 bench/NAME.sh`): the script picks
#   tiny sizes, finishes within about a minute, and everything is built
#   with the dev profile so CI reuses its debug build; 0 otherwise.
# - bench_build ARGS: `cargo build --quiet ARGS` in the release profile, or
#   the dev profile under SMOKE=1; BIN: where those binaries are.
# - bench_header KNOBS: prints the command (with its knobs), the date and
#   the machine, the first three lines of every report.
# - median_min_max: the median, minimum and maximum of the numbers on stdin.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SMOKE=${SMOKE:-0}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
if [ "$SMOKE" = 1 ]; then
    BENCH_PROFILE=()
    BIN=$CARGO_TARGET_DIR/debug
else
    BENCH_PROFILE=(--release)
    BIN=$CARGO_TARGET_DIR/release
fi

bench_build() { cargo build "${BENCH_PROFILE[@]}" --quiet "$@"; }

bench_header() {
    local smoke=
    [ "$SMOKE" = 1 ] && smoke="SMOKE=1 "
    echo "command: $smoke$* bench/$(basename "$0")"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(uname -srm), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
    [ "$SMOKE" = 1 ] && echo "(smoke run: dev build, tiny sizes; not figures to quote)"
    return 0
}

median_min_max() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) exit 1; print ((NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2), v[1], v[NR]}'; }

# bench_collector_config DIR TOKEN AGENTS SERVICES [LINE...]: writes
# DIR/picket.toml, a collector on port 0 with a fresh SQLite database in
# DIR, agents auto-approved with enrollment token TOKEN, AGENTS agents per
# service and SERVICES plain-HTTP services of one equipment; each LINE is
# added to `[collector]` (e.g. TLS settings).
bench_collector_config() {
    local dir=$1 token=$2 agents=$3 services=$4 i
    shift 4
    mkdir -p "$dir"
    {
        echo '[collector]'
        echo 'grpc_listen = "127.0.0.1:0"'
        echo 'http_listen = "127.0.0.1:0"'
        echo "database = \"sqlite://$dir/picket.db\""
        echo 'admin_token = "bench-admin"'
        for i in "$@"; do echo "$i"; done
        echo '[agents]'
        echo "enrollment_token = \"$token\""
        echo 'auto_approve = true'
        echo 'heartbeat_interval = "60s"'
        echo "agents_per_service = $agents"
        echo '[[equipment]]'
        echo 'id = "bench"'
        echo 'name = "Bench"'
        for i in $(seq 1 "$services"); do
            echo '[[services]]'
            echo "id = \"svc-$i\""
            echo 'equipment = "bench"'
            echo "url = \"http://127.0.0.1:9/svc-$i\""
            echo 'upgrade_to_https = false'
        done
    } >"$dir/picket.toml"
}

# bench_wait_ports DIR PID: waits (30 s at most) for the collector PID to
# write DIR/ports.json; exits with its log if it died or never did.
bench_wait_ports() {
    local i
    for i in $(seq 1 300); do
        [ -s "$1/ports.json" ] && return 0
        kill -0 "$2" 2>/dev/null || { cat "$1/collector.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "collector did not start" >&2
    exit 1
}

# bench_pg_start DIR: starts a throwaway PostgreSQL 15 (Debian's, or
# PICKET_PG_BIN) in DIR/pg on a free loopback port, as the postgres user when
# run as root (initdb and postgres refuse root), with fsync off; sets
# PG_PORT and PG_PID. bench_pg_stop DIR stops it (call it from the EXIT trap).
bench_pg_start() {
    local dir=$1/pg bin=${PICKET_PG_BIN:-/usr/lib/postgresql/15/bin} as=() i
    [ -x "$bin/postgres" ] || { echo "PostgreSQL server binaries not found in $bin" >&2; exit 1; }
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$1" "$dir"; as=(runuser -u postgres --); fi
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync --locale=C >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    for i in $(seq 1 20); do
        PG_PORT=$((20000 + RANDOM % 40000))
        "${as[@]}" "$bin/postgres" -D "$dir/data" -p "$PG_PORT" -k "$dir" -c listen_addresses=127.0.0.1 \
            -c fsync=off -c full_page_writes=off >"$dir/postgres.log" 2>&1 &
        PG_PID=$!
        while kill -0 "$PG_PID" 2>/dev/null; do
            grep -q "ready to accept connections" "$dir/postgres.log" && return 0
            sleep 0.1
        done
    done
    cat "$dir/postgres.log" >&2
    exit 1
}
bench_pg_stop() {
    local pid
    pid=$(head -1 "$1/pg/data/postmaster.pid" 2>/dev/null) && kill -INT "$pid" 2>/dev/null
    [ -n "${PG_PID:-}" ] && wait "$PG_PID" 2>/dev/null
    return 0
}
