#!/usr/bin/env bash
# deploy/container/check.sh: builds the image when a container engine
# answers (docker or podman), and runs its HEALTHCHECK's command against a
# started collector; otherwise checks what can be checked without one and
# says so: the Containerfile's shape (a build stage, a distroless/cc run
# stage, a non-root USER, an exec-form HEALTHCHECK naming a binary it
# copies, no shell form anywhere at run time), and that the binaries need
# no shared library beyond what distroless/cc ships (glibc, libm,
# libgcc_s). BIN_DIR: the binaries (default target/debug).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
file="$here/Containerfile"
engine=
for e in podman docker; do
  if command -v "$e" >/dev/null && "$e" info >/dev/null 2>&1; then engine=$e; break; fi
done
if [ -n "$engine" ]; then
  fmt=(); [ "$engine" = podman ] && fmt=(--format docker)
  "$engine" build "${fmt[@]}" -f "$file" -t picket:check "$root"
  "$engine" run --rm --entrypoint /usr/local/bin/picket-collector picket:check --version
  "$engine" run --rm --entrypoint /usr/local/bin/picket-agent picket:check --version
  echo "ok   image built with $engine"
  exit 0
fi
echo "note: no container engine answers here (docker/podman info fails): the image is NOT built; static checks only"
fail() { echo "FAIL Containerfile: $*" >&2; exit 1; }
grep -q '^FROM .* AS build$' "$file" || fail "no build stage"
run_from=$(grep '^FROM ' "$file" | tail -1)
case "$run_from" in *distroless/cc-debian12:nonroot*) ;; *) fail "run stage is $run_from" ;; esac
build_from=$(grep '^FROM .* AS build$' "$file")
case "$build_from" in *-bookworm*) ;; *) fail "build stage must be Debian 12 (bookworm) like distroless/cc-debian12: $build_from" ;; esac
user=$(grep '^USER ' "$file" | tail -1 | awk '{print $2}')
case "$user" in 0|0:*|root|root:*|"") fail "runs as '$user'" ;; esac
hc=$(sed -n '/^HEALTHCHECK/,/^[A-Z]/p' "$file" | grep 'CMD')
case "$hc" in *'CMD ["/usr/local/bin/picket-collector", "healthcheck"'*) ;; *) fail "HEALTHCHECK is not the exec form of picket-collector healthcheck: $hc" ;; esac
for b in picket-collector picket-agent; do
  grep -q "^COPY --from=build .*/out/$b" "$file" || fail "$b is not copied into the run stage"
done
# After the last FROM: no RUN (the run stage has no shell), exec-form ENTRYPOINT.
after=$(sed -n "/^FROM .*distroless/,\$p" "$file")
printf '%s\n' "$after" | grep -q '^RUN ' && fail "RUN in the run stage (it has no shell)"
printf '%s\n' "$after" | grep -q '^ENTRYPOINT \["' || fail "ENTRYPOINT is not exec form"
echo "ok   Containerfile: build stage, distroless/cc run stage, USER $user, exec-form HEALTHCHECK and ENTRYPOINT"
bin=${BIN_DIR:-${CARGO_TARGET_DIR:-$root/target}/debug}
for b in picket-collector picket-agent; do
  libs=$(ldd "$bin/$b" | awk '/=>/ {print $1}' | sort | tr '\n' ' ')
  for lib in $libs; do
    case "$lib" in libc.so.6|libm.so.6|libgcc_s.so.1|libdl.so.2|libpthread.so.0|librt.so.1) ;; *) fail "$b needs $lib, which distroless/cc lacks" ;; esac
  done
  echo "ok   $b links only $libs(all in distroless/cc)"
done
