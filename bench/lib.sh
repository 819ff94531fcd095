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
