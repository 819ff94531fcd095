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
# added to `[collector]` (e.g. TLS settings). BENCH_DATABASE, when set, is
# the `database` URL instead (e.g. from bench_postgres_database).
bench_collector_config() {
    local dir=$1 token=$2 agents=$3 services=$4 i
    shift 4
    mkdir -p "$dir"
    {
        echo '[collector]'
        echo 'grpc_listen = "127.0.0.1:0"'
        echo 'http_listen = "127.0.0.1:0"'
        echo "database = \"${BENCH_DATABASE:-sqlite://$dir/picket.db}\""
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

# bench_postgres_start DIR: starts a PostgreSQL 15 server (PICKET_PG_BIN,
# default /usr/lib/postgresql/15/bin; as the `postgres` user when run as
# root, which initdb and postgres require) with a fresh data directory in
# DIR, on 127.0.0.1 at a random free port (a taken port makes it fail to
# bind; the next try takes another), default durability (fsync and
# synchronous_commit on). Sets PG_PID (the postmaster, read from
# postmaster.pid) and PG_PORT. Stop it with bench_postgres_stop.
bench_postgres_start() {
    local dir=$1 bin=${PICKET_PG_BIN:-/usr/lib/postgresql/15/bin} i
    PG_AS=()
    PG_BIN=$bin
    PG_DIR=$dir
    [ -x "$bin/postgres" ] || { echo "PostgreSQL server binaries not found in $bin (install postgresql-15 or set PICKET_PG_BIN)" >&2; exit 1; }
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
        chmod a+x "$(dirname "$dir")"
        PG_AS=(runuser -u postgres --)
    fi
    "${PG_AS[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    for i in $(seq 1 20); do
        PG_PORT=$((20000 + RANDOM % 40000))
        "${PG_AS[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
            -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null 2>&1 || continue
        PG_PID=$(head -1 "$dir/data/postmaster.pid")
        return 0
    done
    echo "PostgreSQL did not start on a free port" >&2
    cat "$dir/postgres.log" >&2
    exit 1
}

# bench_postgres_database NAME: creates database NAME on the server
# bench_postgres_start started and prints its URL.
bench_postgres_database() {
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1" >&2
    echo "postgres://postgres@127.0.0.1:$PG_PORT/$1"
}

# bench_postgres_ticks: CPU clock ticks (utime + stime) the server has used
# so far: the postmaster, the children it reaped, and those alive.
bench_postgres_ticks() {
    local total child
    total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$PG_PID/stat")
    for child in $(cat "/proc/$PG_PID/task/$PG_PID/children" 2>/dev/null); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# bench_postgres_stop: stops the server bench_postgres_start started (by
# its pid: a fast shutdown, then waits for it to exit).
bench_postgres_stop() {
    [ -n "${PG_PID:-}" ] || return 0
    kill -INT "$PG_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do
        kill -0 "$PG_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$PG_PID" 2>/dev/null || true
    PG_PID=
}

# bench_wait_ready DIR PID: bench_wait_ports, then waits (30 s at most)
# for the collector's /readyz to answer 200: it leads (its store's lease)
# and accepts agents; before that an agent is told "standby".
bench_wait_ready() {
    local i
    bench_wait_ports "$1" "$2"
    for i in $(seq 1 300); do
        curl -sf -o /dev/null "http://$(jq -r .http "$1/ports.json")/readyz" && return 0
        kill -0 "$2" 2>/dev/null || { cat "$1/collector.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "collector did not become ready" >&2
    exit 1
}
