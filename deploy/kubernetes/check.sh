#!/usr/bin/env bash
# deploy/kubernetes/check.sh: every manifest against the Kubernetes OpenAPI
# schemas offline (PyPI kubernetes-validate, which ships them; strict: an
# unknown field fails), pinned to K8S_VERSION (default 1.33.0), plus what
# the schemas cannot see: each kustomization's resources exist, every pod
# meets Pod Security "restricted", liveness never asks the store (/healthz,
# not /readyz), the SQLite collector has one replica, the PostgreSQL one
# two, and each collector config is TOML. kustomize itself is not run
# (no kubectl here): the overlays only add whole resources, no patches.
# PYTHON: a python3 with kubernetes-validate and PyYAML (default python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
version=${K8S_VERSION:-1.33.0}
cd "$here"
manifests=$(find base overlays -name '*.yaml' ! -name kustomization.yaml | sort)
"$(dirname "$py")/kubernetes-validate" --strict --quiet -k "$version" $manifests
echo "ok   $(echo "$manifests" | wc -l) manifests valid against Kubernetes $version (strict)"
"$py" - <<'PY'
import glob, os, sys, tomllib, yaml
fail = []
for k in glob.glob("**/kustomization.yaml", recursive=True):
    d = os.path.dirname(k)
    for r in yaml.safe_load(open(k))["resources"]:
        if not os.path.exists(os.path.join(d, r)):
            fail.append(f"{k}: resource {r} missing")
def pods(doc):
    if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet"):
        yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]
workloads = {}
for f in sorted(glob.glob("**/*.yaml", recursive=True)):
    for doc in yaml.safe_load_all(open(f)):
        if not doc or "kind" not in doc or doc["kind"] == "Kustomization":
            continue
        if doc["kind"] == "Secret" and "collector.toml" in doc.get("stringData", {}):
            tomllib.loads(doc["stringData"]["collector.toml"])
        for name, spec in pods(doc):
            workloads[f] = doc
            psc = spec.get("securityContext", {})
            if psc.get("runAsNonRoot") is not True: fail.append(f"{f}: runAsNonRoot")
            if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault": fail.append(f"{f}: seccomp RuntimeDefault")
            for c in spec["containers"]:
                sc = c.get("securityContext", {})
                if sc.get("allowPrivilegeEscalation") is not False: fail.append(f"{f}/{c['name']}: allowPrivilegeEscalation")
                if sc.get("capabilities", {}).get("drop") != ["ALL"]: fail.append(f"{f}/{c['name']}: drop ALL")
                if sc.get("readOnlyRootFilesystem") is not True: fail.append(f"{f}/{c['name']}: readOnlyRootFilesystem")
                live = c.get("livenessProbe")
                if live and live.get("httpGet", {}).get("path") != "/healthz": fail.append(f"{f}: liveness must be /healthz")
sqlite = workloads.get("overlays/sqlite-statefulset/collector-statefulset.yaml")
pg = workloads.get("overlays/postgres-deployment/collector-deployment.yaml")
if not sqlite or sqlite["kind"] != "StatefulSet" or sqlite["spec"]["replicas"] != 1: fail.append("sqlite: a StatefulSet of 1")
if not pg or pg["kind"] != "Deployment" or pg["spec"]["replicas"] != 2: fail.append("postgres: a Deployment of 2")
if fail:
    sys.exit("FAIL " + "\nFAIL ".join(fail))
print(f"ok   Pod Security restricted, liveness on /healthz, replicas: {len(workloads)} workloads")
PY
