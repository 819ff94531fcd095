#!/usr/bin/env bash
# One-command quickstart: builds Picket, starts a collector (SQLite) and one
# local agent watching the example services, and shows `picketctl services`.
#
#   deploy/quickstart.sh          start (or restart) and show the services
#   deploy/quickstart.sh stop     stop both processes
#
# State, logs and the database live in .quickstart/ at the repo root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.quickstart"
bin="$root/target/debug"
mkdir -p "$dir"

stop() {
  for name in agent collector; do
    if [ -f "$dir/$name.pid" ]; then
      kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
}

if [ "${1:-}" = "stop" ]; then
  stop
  echo "stopped"
  exit 0
fi
stop

echo "building (the first build takes a few minutes)..."
cargo build --manifest-path "$root/Cargo.toml" --bins --quiet

cd "$dir"
"$bin/picket-collector" --config "$root/deploy/quickstart/picket.toml" >"$dir/collector.log" 2>&1 &
echo $! >"$dir/collector.pid"
ctl() { "$bin/picketctl" --collector http://127.0.0.1:7070 --token change-me "$@"; }
for _ in $(seq 1 100); do
  if ctl services >/dev/null 2>&1; then break; fi
  if ! kill -0 "$(cat "$dir/collector.pid")" 2>/dev/null; then
    echo "the collector exited:"; tail -n 20 "$dir/collector.log"; exit 1
  fi
  sleep 0.1
done

"$bin/picket-agent" --collector http://127.0.0.1:7070 --enrollment-token enroll-me \
  --region local --name quickstart-agent --state-dir "$dir/agent" >"$dir/agent.log" 2>&1 &
echo $! >"$dir/agent.pid"

# Wait until the agent has reported on every service (first probes are
# spread over at most 5 seconds).
for _ in $(seq 1 150); do
  services=$(ctl services --json 2>/dev/null || true)
  case "$services" in
    *'"last_check_at": null'*|"") sleep 0.1 ;;
    *) break ;;
  esac
done
ctl services
echo
echo "collector: http://127.0.0.1:8080 (logs: .quickstart/collector.log)"
echo "try:       target/debug/picketctl --token change-me requests"
echo "stop:      deploy/quickstart.sh stop"
