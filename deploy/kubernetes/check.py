#!/usr/bin/env python3
"""Renders every overlay of deploy/kubernetes and checks it offline.

usage: python3 deploy/kubernetes/check.py [--kubernetes-version X.Y.Z]

Rendering implements the part of kustomize these manifests use, and nothing else (an unknown
kustomization field is an error, so a manifest cannot quietly outgrow the renderer): `resources`
(files and directories), `namespace`, `images` (newTag) and `patches` with a `target` and an
inline RFC 6902 JSON patch (applied with the `jsonpatch` library). Where `kubectl` is on PATH,
the rendering is also compared with `kubectl kustomize`, object by object.

Then, for every rendered object:
  - built-in kinds are validated strictly against the Kubernetes OpenAPI schemas
    (`kubernetes-validate`, offline);
  - the Prometheus Operator objects are checked by shape (their schemas are CRDs, not shipped);
  - the deployment rules: probes on /livez and /readyz, requests and limits, a restricted
    security context, secrets only as mounted files (no secretKeyRef, no envFrom secret, no
    Secret object), APP_ENV equal to the overlay's name, a grace period longer than the drain
    deadline, Services/PDBs/ServiceMonitors selecting existing pods and ports, the ConfigMaps'
    registries identical to the examples' files, and a PrometheusRule identical to the
    committed rules when one exists.

Exit 0 when everything holds, 1 when a check fails, 2 when an input is unusable. Each failure
is one line naming the overlay, the object and the rule.
"""
import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile

import jsonpatch
import yaml

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(ROOT))
OVERLAYS = ["staging", "production"]
CLUSTER_SCOPED = {"Namespace"}
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
KNOWN_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
# The services' drain deadline on SIGTERM, in seconds (stanchion::DEFAULT_DRAIN_TIMEOUT).
DRAIN_DEADLINE_SECS = 20
REGISTRIES = {
    "backend-config": {"tools.toml": "examples/backend/config/tools.toml"},
    "agent-config": {
        "tools.toml": "examples/agent/config/tools.toml",
        ".env": "examples/agent/config/.env",
    },
}
RULES_FILE = "examples/backend/ops/rules.yml"


class Unusable(Exception):
    pass


def load_yaml_docs(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        raise Unusable(f"{os.path.relpath(path, REPO)}: {e}")


def render(directory):
    """The objects of the kustomization in `directory`, as kustomize would build them."""
    path = os.path.join(directory, "kustomization.yaml")
    docs = load_yaml_docs(path)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise Unusable(f"{os.path.relpath(path, REPO)}: not one mapping")
    k = docs[0]
    unknown = set(k) - KNOWN_FIELDS
    if unknown:
        raise Unusable(
            f"{os.path.relpath(path, REPO)}: fields this renderer does not implement: "
            f"{sorted(unknown)}"
        )
    objects = []
    for resource in k.get("resources", []):
        target = os.path.normpath(os.path.join(directory, resource))
        if os.path.isdir(target):
            objects.extend(render(target))
        else:
            objects.extend(load_yaml_docs(target))
    for patch in k.get("patches", []):
        target = patch.get("target", {})
        ops = yaml.safe_load(patch["patch"])
        matched = False
        for i, obj in enumerate(objects):
            if target.get("kind") not in (None, obj["kind"]):
                continue
            if target.get("name") not in (None, obj["metadata"]["name"]):
                continue
            objects[i] = jsonpatch.apply_patch(obj, ops)
            matched = True
        if not matched:
            raise Unusable(f"{os.path.relpath(path, REPO)}: patch target {target} matches nothing")
    for image in k.get("images", []):
        for obj in objects:
            for c in containers(obj):
                name = c["image"].rsplit(":", 1)[0]
                if name == image["name"]:
                    c["image"] = f"{name}:{image['newTag']}"
    if "namespace" in k:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = k["namespace"]
    return objects


def containers(obj):
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", []) + spec.get("initContainers", [])


def key(obj):
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def compare_with_kubectl(overlay, objects, failures):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print(f"note: kubectl not on PATH; {overlay} not compared with `kubectl kustomize`")
        return
    out = subprocess.run(
        [kubectl, "kustomize", os.path.join(ROOT, "overlays", overlay)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        failures.append(f"{overlay}: kubectl kustomize failed: {out.stderr.strip()[:300]}")
        return
    theirs = {key(o): o for o in yaml.safe_load_all(out.stdout) if o}
    ours = {key(o): o for o in objects}
    if set(theirs) != set(ours):
        failures.append(
            f"{overlay}: objects differ from kubectl kustomize: "
            f"only ours {sorted(set(ours) - set(theirs))}, only theirs {sorted(set(theirs) - set(ours))}"
        )
        return
    for k in ours:
        if json.dumps(ours[k], sort_keys=True) != json.dumps(theirs[k], sort_keys=True):
            failures.append(f"{overlay}: {k} differs from kubectl kustomize's rendering")


def validate_schemas(overlay, objects, version, failures):
    builtin = [o for o in objects if o["kind"] not in CRD_KINDS]
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, obj in enumerate(builtin):
            p = os.path.join(tmp, f"{i:02}-{obj['kind']}-{obj['metadata']['name']}.yaml")
            with open(p, "w", encoding="utf-8") as f:
                yaml.safe_dump(obj, f)
            files.append(p)
        out = subprocess.run(
            [sys.executable, "-m", "kubernetes_validate", "--strict", "--no-warn",
             "-k", version, *files],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            for line in (out.stdout + out.stderr).strip().splitlines():
                if line.startswith("INFO"):
                    continue
                failures.append(f"{overlay}: schema: {line.replace(tmp + os.sep, '')}")


def check_crds(overlay, objects, failures):
    for obj in objects:
        where = f"{overlay}: {obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "ServiceMonitor":
            if obj.get("apiVersion") != "monitoring.coreos.com/v1":
                failures.append(f"{where}: apiVersion must be monitoring.coreos.com/v1")
            spec = obj.get("spec", {})
            if not spec.get("endpoints") or not spec.get("selector", {}).get("matchLabels"):
                failures.append(f"{where}: needs endpoints and selector.matchLabels")
            services = [o for o in objects if o["kind"] == "Service"
                        and selects(spec["selector"]["matchLabels"], o["metadata"].get("labels", {}))]
            if not services:
                failures.append(f"{where}: selects no Service")
            for ep in spec.get("endpoints", []):
                for s in services:
                    if ep.get("port") not in [p.get("name") for p in s["spec"]["ports"]]:
                        failures.append(f"{where}: Service {s['metadata']['name']} has no port {ep.get('port')!r}")
        elif obj["kind"] == "PrometheusRule":
            if obj.get("apiVersion") != "monitoring.coreos.com/v1":
                failures.append(f"{where}: apiVersion must be monitoring.coreos.com/v1")
            rules_path = os.path.join(REPO, RULES_FILE)
            committed = load_yaml_docs(rules_path)[0] if os.path.exists(rules_path) else None
            if committed is None:
                failures.append(f"{where}: {RULES_FILE} does not exist")
            elif obj.get("spec", {}).get("groups") != committed.get("groups"):
                failures.append(f"{where}: spec.groups differ from {RULES_FILE} (copy them again)")


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def check_rules(overlay, objects, failures):
    kinds = {o["kind"] for o in objects}
    if "Secret" in kinds:
        failures.append(f"{overlay}: a Secret object is committed; secrets come from the platform")
    pods = {}
    for obj in objects:
        where = f"{overlay}: {obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "Namespace":
            labels = obj["metadata"].get("labels", {})
            if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
                failures.append(f"{where}: must enforce the restricted Pod Security Standard")
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] in REGISTRIES:
            for data_key, path in REGISTRIES[obj["metadata"]["name"]].items():
                with open(os.path.join(REPO, path), encoding="utf-8") as f:
                    expected = f.read()
                if obj.get("data", {}).get(data_key) != expected:
                    failures.append(f"{where}: data[{data_key!r}] differs from {path} (copy it again)")
        if obj["kind"] != "Deployment":
            continue
        spec = obj["spec"]["template"]["spec"]
        pods[obj["metadata"]["name"]] = obj["spec"]["template"]["metadata"].get("labels", {})
        pre_stop = max((c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
                        for c in containers(obj)), default=0)
        if spec.get("terminationGracePeriodSeconds", 30) <= pre_stop + DRAIN_DEADLINE_SECS:
            failures.append(f"{where}: terminationGracePeriodSeconds must exceed the preStop sleep "
                            f"({pre_stop} s) plus the {DRAIN_DEADLINE_SECS} s drain deadline")
        if spec.get("automountServiceAccountToken") is not False:
            failures.append(f"{where}: automountServiceAccountToken must be false")
        psc = spec.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True or psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            failures.append(f"{where}: pod securityContext must set runAsNonRoot and seccompProfile RuntimeDefault")
        secret_volumes = {v["name"]: v["secret"] for v in spec.get("volumes", []) if "secret" in v}
        for c in containers(obj):
            cw = f"{where} container {c['name']}"
            for probe, path in [("startupProbe", "/livez"), ("livenessProbe", "/livez"), ("readinessProbe", "/readyz")]:
                if c.get(probe, {}).get("httpGet", {}).get("path") != path:
                    failures.append(f"{cw}: {probe} must GET {path}")
            res = c.get("resources", {})
            for part in ["requests", "limits"]:
                if not {"cpu", "memory"} <= set(res.get(part, {})):
                    failures.append(f"{cw}: resources.{part} needs cpu and memory")
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False or sc.get("readOnlyRootFilesystem") is not True \
                    or sc.get("capabilities", {}).get("drop") != ["ALL"]:
                failures.append(f"{cw}: securityContext must forbid privilege escalation, drop ALL, read-only root")
            env = {e["name"]: e for e in c.get("env", [])}
            for e in env.values():
                if "secretKeyRef" in e.get("valueFrom", {}):
                    failures.append(f"{cw}: {e['name']} takes a secret as an environment value")
            for source in c.get("envFrom", []):
                if "secretRef" in source:
                    failures.append(f"{cw}: envFrom a Secret puts secrets in the environment")
            if env.get("APP_ENV", {}).get("value") != overlay:
                failures.append(f"{cw}: APP_ENV must be {overlay!r}, is {env.get('APP_ENV', {}).get('value')!r}")
            mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
            for name, secret in secret_volumes.items():
                mount = mounts.get(name)
                if mount is None or mount.get("readOnly") is not True:
                    failures.append(f"{cw}: secret volume {name} must be mounted read-only")
                    continue
                for item in secret.get("items", []):
                    file_var = f"{item['key']}_FILE"
                    want = f"{mount['mountPath']}/{item['path']}"
                    if env.get(file_var, {}).get("value") != want:
                        failures.append(f"{cw}: {file_var} must point at the mounted file {want}")
    for obj in objects:
        where = f"{overlay}: {obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "Service":
            if not any(selects(obj["spec"]["selector"], labels) for labels in pods.values()):
                failures.append(f"{where}: selects no Deployment's pods")
        if obj["kind"] == "PodDisruptionBudget":
            sel = obj["spec"]["selector"]["matchLabels"]
            if not any(selects(sel, labels) for labels in pods.values()):
                failures.append(f"{where}: selects no Deployment's pods")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kubernetes-version", default="1.30.0")
    args = parser.parse_args()
    failures = []
    try:
        for overlay in OVERLAYS:
            objects = render(os.path.join(ROOT, "overlays", overlay))
            compare_with_kubectl(overlay, copy.deepcopy(objects), failures)
            validate_schemas(overlay, objects, args.kubernetes_version, failures)
            check_crds(overlay, objects, failures)
            check_rules(overlay, objects, failures)
            print(f"{overlay}: {len(objects)} objects rendered and checked")
    except Unusable as e:
        print(f"unusable input: {e}")
        return 2
    for f in failures:
        print(f"FAIL {f}")
    print(f"{len(failures)} failed" if failures else "all manifests pass")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
