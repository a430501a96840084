"""The deployment files, checked offline: the Dockerfile (hadolint), the Compose file (the
Compose schema and its references), every Kubernetes manifest (the API schemas, strict),
the Prometheus configuration and rules (promtool check and promtool test) and the Grafana
dashboard (every query parses, every metric it names is one Augur exports)."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from augur.common import settings as settings_module

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV_BIN = ROOT / ".venv" / "bin"
K8S_VERSION = "1.30"
METRIC = re.compile(r"\b(augur_[a-z_]+)\b")


def _tool(name: str) -> str:
    path = shutil.which(name) or str(VENV_BIN / name)
    if not Path(path).exists():
        pytest.fail(f"{name} is missing: `make install` installs it")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=120)


def _settings_variables() -> set[str]:
    names = set()
    for value in vars(settings_module).values():
        if isinstance(value, type) and hasattr(value, "model_fields"):
            names |= {f"AUGUR_{n.upper()}" for n in value.model_fields}
    return names


def _exported_metrics() -> set[str]:
    """Every metric name the code registers, with the suffixes Prometheus exposes."""
    names = set()
    for path in (ROOT / "services").rglob("*.py"):
        if "generated" in path.parts:
            continue
        text = path.read_text()
        for m in re.finditer(r'(?:Counter|Gauge|Histogram|Summary)\(\s*"(augur_[a-z_]+)"', text):
            base = m.group(1).removesuffix("_total")
            names |= {base, f"{base}_total", f"{base}_bucket", f"{base}_sum", f"{base}_count"}
    return names


def test_the_dockerfile_passes_hadolint_and_its_roles_exist() -> None:
    result = _run(_tool("hadolint"), "deploy/Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr
    text = (DEPLOY / "Dockerfile").read_text()
    assert "USER 10001" in text and text.count("FROM ") == 2
    entry = (DEPLOY / "entrypoint.sh").read_text()
    from augur.cli.main import build_parser

    serve = next(
        a
        for a in build_parser()._subparsers._group_actions[0].choices["serve"]._actions  # type: ignore[union-attr]
        if a.dest == "service"
    )
    for role in serve.choices:
        assert re.search(rf"\b{role}\b", entry.split("case", 1)[1].split("esac")[0]), role


def test_the_compose_file_is_valid_and_consistent() -> None:
    schema_path = ROOT / ".venv" / "share" / "augur" / "compose_spec.json"
    if not schema_path.exists():
        pytest.fail("the Compose schema is missing: `make install` fetches it")
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    errors = list(jsonschema.Draft7Validator(json.loads(schema_path.read_text())).iter_errors(doc))
    assert not errors, [e.message for e in errors]
    services = doc["services"]
    known = _settings_variables()
    for name, service in services.items():
        for other in service.get("depends_on", {}):
            assert other in services, f"{name} depends on unknown {other}"
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in doc["volumes"], f"{name} uses undeclared volume {source}"
        for variable in service.get("environment", {}):
            if variable.startswith("AUGUR_") and variable != "AUGUR_SHARD":
                assert variable in known, f"{name}: {variable} is not a setting"
    backends = services["gateway"]["environment"]["AUGUR_GATEWAY_BACKENDS"]
    for part in backends.split(","):
        service, _, address = part.partition("=")
        assert address.split(":")[0] in services and service in services


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _render(overlay: Path) -> list[dict[str, Any]]:
    """The overlay applied to its base, for the fields the overlays use (namespace,
    images, replicas, JSON 6902 patches with a target); anything else in an overlay fails
    here, so this stays honest."""
    kust = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    known = {"apiVersion", "kind", "namespace", "resources", "images", "replicas", "patches"}
    unknown = set(kust) - known
    assert not unknown, f"{overlay.name} uses {unknown}: extend the test's renderer"
    docs: list[dict[str, Any]] = []
    for resource in kust["resources"]:
        docs += _base((overlay / resource).resolve())
    docs = copy.deepcopy(docs)
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for d in docs:
        if "namespace" in kust:
            d["metadata"]["namespace"] = kust["namespace"]
    for r in kust.get("replicas", []):
        assert ("Deployment", r["name"]) in names, f"{overlay.name}: no Deployment {r['name']}"
        for d in docs:
            if d["kind"] == "Deployment" and d["metadata"]["name"] == r["name"]:
                d["spec"]["replicas"] = r["count"]
    for image in kust.get("images", []):
        hits = 0
        for d in docs:
            spec = d.get("spec", {})
            pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get(
                "spec", {}
            ).get("template", {}).get("spec")
            for c in (pod or {}).get("containers", []):
                if c["image"].split(":")[0] == image["name"]:
                    c["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
                    hits += 1
        assert hits, f"{overlay.name}: image {image['name']} is used nowhere"
    for patch in kust.get("patches", []):
        target = patch["target"]
        assert set(target) <= {"kind", "name"}, f"{overlay.name}: extend the renderer"
        hits = [
            d
            for d in docs
            if d["kind"] == target["kind"]
            and target.get("name", d["metadata"]["name"]) == d["metadata"]["name"]
        ]
        assert hits, f"{overlay.name}: patch target {target} matches nothing"
        for d in hits:
            for op in yaml.safe_load(patch["patch"]):
                _json6902(d, op)
    return docs


def _json6902(doc: dict[str, Any], op: dict[str, Any]) -> None:
    """One operation (add, replace, remove) on an object path."""
    *parents, leaf = op["path"].strip("/").split("/")
    node = doc
    for part in parents:
        node = node[part]
    if op["op"] == "remove":
        assert leaf in node, f"remove of missing {op['path']}"
        del node[leaf]
    elif op["op"] in ("add", "replace"):
        assert op["op"] == "add" or leaf in node, f"replace of missing {op['path']}"
        node[leaf] = op["value"]
    else:
        raise AssertionError(f"unsupported patch operation {op['op']}")


def _base(directory: Path) -> list[dict[str, Any]]:
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
    docs = []
    for resource in kust["resources"]:
        assert (directory / resource).exists(), resource
        docs += _documents(directory / resource)
    on_disk = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
    assert on_disk == set(kust["resources"]), "every manifest is listed in the kustomization"
    return docs


def _scaling_is_consistent(label: str, docs: list[dict[str, Any]]) -> None:
    """An autoscaler never starts above the replicas the overlay asks for, and a disruption
    budget never forbids every eviction of a deployment at its smallest size."""
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    replicas = {d["metadata"]["name"]: d["spec"].get("replicas", 1) for d in deployments}
    smallest = dict(replicas)
    for d in docs:
        if d["kind"] == "HorizontalPodAutoscaler":
            name = d["spec"]["scaleTargetRef"]["name"]
            assert d["spec"]["minReplicas"] <= replicas[name], (label, name, "minReplicas")
            smallest[name] = d["spec"]["minReplicas"]
    for d in docs:
        if d["kind"] == "PodDisruptionBudget":
            component = d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
            name = f"augur-{component}"
            if "minAvailable" in d["spec"]:
                assert d["spec"]["minAvailable"] < smallest[name], (label, name, "drain blocked")


def test_every_kubernetes_manifest_validates() -> None:
    base = _base(DEPLOY / "k8s" / "base")
    overlays = sorted((DEPLOY / "k8s" / "overlays").iterdir())
    assert overlays
    rendered = [("base", base)] + [(o.name, _render(o)) for o in overlays]
    for label, docs in rendered:
        for doc in docs:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        kinds = {d["kind"] for d in docs}
        assert {
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Ingress",
            "ConfigMap",
            "Secret",
            "CronJob",
        } <= kinds, label
        _scaling_is_consistent(label, docs)
    services = {d["metadata"]["name"] for d in base if d["kind"] == "Service"}
    known = _settings_variables()
    for d in base:
        if d["kind"] != "Deployment":
            continue
        c = d["spec"]["template"]["spec"]["containers"][0]
        for variable in [e["name"] for e in c.get("env", [])]:
            assert variable in known | {"AUGUR_SHARD"}, variable
        if d["metadata"]["name"] in services:  # served: gRPC probes on the gRPC port
            grpc_port = next(p["containerPort"] for p in c["ports"] if p["name"] == "grpc")
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                assert c[probe]["grpc"]["port"] == grpc_port, (d["metadata"]["name"], probe)
        assert c["resources"]["requests"] and c["resources"]["limits"]
        assert d["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]
        for e in c.get("env", []):
            if e["name"] == "AUGUR_GATEWAY_BACKENDS":
                for part in e["value"].split(","):
                    host = part.split("=")[1].split(":")[0]
                    assert host in services, host
    config = next(d for d in base if d["kind"] == "ConfigMap")
    assert set(config["data"]) <= known


def test_prometheus_config_and_rules_check_and_their_unit_tests_pass() -> None:
    promtool = _tool("promtool")
    for args in (
        ("check", "config", "deploy/prometheus/prometheus.yml"),
        ("check", "rules", "deploy/prometheus/rules.yml"),
        ("test", "rules", "deploy/prometheus/rules_test.yml"),
    ):
        result = _run(promtool, *args)
        assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tested = (DEPLOY / "prometheus" / "rules_test.yml").read_text()
    assert {a for a in alerts if f"alertname: {a}" in tested} >= {
        "AugurHighErrorRatio",
        "AugurServiceNotReady",
        "AugurGatewayBackendDown",
        "AugurIngestionLag",
        "AugurFeaturesStale",
    }
    exported = _exported_metrics()
    text = (DEPLOY / "prometheus" / "rules.yml").read_text()
    for name in set(METRIC.findall(text)):
        assert name in exported, f"rules.yml names {name}, which nothing exports"


def test_the_dashboard_queries_parse_and_name_exported_metrics(tmp_path: Path) -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "augur.json").read_text())
    assert dashboard["uid"] and dashboard["title"]
    exprs = [
        t["expr"] for p in dashboard["panels"] if p["type"] != "row" for t in p.get("targets", [])
    ]
    assert len(exprs) >= 15
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("requests", "error", "latency", "model", "feature", "lag", "delivery"):
        assert topic in titles, topic
    checks = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(checks))
    result = _run(_tool("promtool"), "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = {
        r["record"]
        for g in yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())["groups"]
        for r in g["rules"]
        if "record" in r
    }
    exported = _exported_metrics()
    for expr in exprs:
        for name in re.findall(r"\b(augur[:_][a-z_:0-9]+)\b", expr):
            assert name in exported or name in recorded, f"the dashboard queries unknown {name}"
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = datasource["datasources"][0]["uid"]
    assert all(
        t["datasource"]["uid"] == uid
        for p in dashboard["panels"]
        if p["type"] != "row"
        for t in p["targets"]
    )
