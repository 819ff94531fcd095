#!/usr/bin/env bash
# deploy/systemd/check.sh: the units through `systemd-analyze verify` (no
# warnings) and `systemd-analyze security --offline=true` (exposure at most
# MAX_EXPOSURE, default 2.0). The binaries the units name need not be
# installed: verify runs against a temp root holding stand-ins.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
max=${MAX_EXPOSURE:-2.0}
command -v systemd-analyze >/dev/null || { echo "check.sh: systemd-analyze missing (apt-get install systemd)" >&2; exit 1; }
echo "systemd: $(systemd-analyze --version | head -1)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify checks that ExecStart's binary exists: stand-ins under --root.
mkdir -p "$tmp/usr/local/bin" "$tmp/bin" "$tmp/etc/systemd/system"
for b in picket-collector picket-agent; do printf '#!/bin/sh\n' >"$tmp/usr/local/bin/$b"; chmod +x "$tmp/usr/local/bin/$b"; done
cp /bin/kill "$tmp/bin/kill" 2>/dev/null || printf '#!/bin/sh\n' >"$tmp/bin/kill"
chmod +x "$tmp/bin/kill"
# ... and the system's own units (sysinit.target, network-online.target).
mkdir -p "$tmp/usr/lib/systemd"
cp -r /usr/lib/systemd/system "$tmp/usr/lib/systemd/system" 2>/dev/null || cp -r /lib/systemd/system "$tmp/usr/lib/systemd/system"
fail=0
for unit in "$here"/*.service; do
  name=$(basename "$unit")
  cp "$unit" "$tmp/etc/systemd/system/$name"
  out=$(systemd-analyze verify --root="$tmp" "$tmp/etc/systemd/system/$name" 2>&1 || echo "verify exited $?")
    ours=$(printf '%s\n' "$out" | grep -F "$name" || true)
  if [ -n "$ours" ]; then echo "FAIL verify $name:"; printf '%s\n' "$ours"; fail=1; else echo "ok   verify $name"; fi
  score=$(systemd-analyze security --offline=true --root="$tmp" "$tmp/etc/systemd/system/$name" 2>/dev/null \
    | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  if [ -z "$score" ]; then echo "FAIL security $name: no exposure score"; fail=1; continue; fi
  if awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'; then
    echo "ok   security $name: exposure $score <= $max"
  else
    echo "FAIL security $name: exposure $score > $max"
    systemd-analyze security --offline=true --root="$tmp" "$tmp/etc/systemd/system/$name" | grep -v '^  ✓' | head -40
    fail=1
  fi
done
exit $fail
