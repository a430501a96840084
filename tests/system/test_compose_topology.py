"""deploy/compose.yaml run as plain processes (no Docker engine here): every Augur service of
the file is started through deploy/entrypoint.sh with the role, environment and health check
the file gives it; MLflow's tracking server through the same entrypoint on PostgreSQL; the
one-off jobs as `compose run` would start them; Prometheus with deploy/prometheus. The only
changes are addresses: each compose host:port becomes a local port (containers each own
50051/9100, processes cannot), Redis is the test server under a fresh key prefix, and the
state volume is a temporary directory.

Checked: the models get trained and promoted through the MLflow server, every service passes
its compose health check, the gateway answers a composed CustomerInsight over REST with a key
made by `augur keys create`, and Prometheus scrapes every target of the shipped scrape config.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from augur.common.net import free_port
from tests.conftest import REDIS_URL
from tests.integration.gateway_stack import http
from tests.stack_fixtures import start_prometheus, wait_http

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
INTERPOLATION = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's ``${NAME:-default}`` from this environment."""
    return INTERPOLATION.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), value)


class Topology:
    """The compose services with local addresses."""

    def __init__(self, tmp: Path, prefix: str, mlflow_db: str) -> None:
        self.spec = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
        self.tmp = tmp
        self.prefix = prefix
        redis_at = REDIS_URL.split("//", 1)[1].split("/", 1)[0]
        self.address: dict[str, str] = {"redis:6379": redis_at}
        self.ports: dict[str, tuple[int, int]] = {}  # service -> (gRPC, metrics)
        self.mlflow_port = free_port()
        self.address["mlflow:5000"] = f"127.0.0.1:{self.mlflow_port}"
        self.mlflow_db = mlflow_db
        for name in self.augur_services():
            env = self.spec[name]["environment"]
            grpc_port, metrics_port = free_port(), free_port()
            self.ports[name] = (grpc_port, metrics_port)
            self.address[f"{name}:{env['AUGUR_GRPC_PORT']}"] = f"127.0.0.1:{grpc_port}"
            self.address[f"{name}:{env['AUGUR_METRICS_PORT']}"] = f"127.0.0.1:{metrics_port}"
        self.http_port = free_port()
        self.procs: list[asyncio.subprocess.Process] = []

    def augur_services(self) -> list[str]:
        return [
            n
            for n, s in self.spec.items()
            if str(s.get("image", "")).startswith("augur:") and s["command"] != ["mlflow"]
        ]

    def local(self, value: str) -> str:
        value = interpolate(str(value))
        for remote, here in self.address.items():
            value = re.sub(rf"(?<![\w.-]){re.escape(remote)}(?!\d)", here, value)
        return value

    def env(self, name: str) -> dict[str, str]:
        env = {k: self.local(v) for k, v in self.spec[name].get("environment", {}).items()}
        if name in self.ports:
            grpc_port, metrics_port = self.ports[name]
            env["AUGUR_GRPC_PORT"], env["AUGUR_METRICS_PORT"] = str(grpc_port), str(metrics_port)
            env["AUGUR_GRPC_HOST"] = "127.0.0.1"
            env["AUGUR_REDIS_PREFIX"] = self.prefix
            if "AUGUR_GATEWAY_HTTP_PORT" in env:
                env["AUGUR_GATEWAY_HTTP_PORT"] = str(self.http_port)
        if name == "mlflow":
            env["MLFLOW_BACKEND_STORE_URI"] = self.mlflow_db
            env["MLFLOW_ARTIFACTS_DESTINATION"] = str(self.tmp / "artifacts")
            env["MLFLOW_PORT"] = str(self.mlflow_port)
        bin_dir = str(Path(sys.executable).parent)
        return {
            **os.environ,
            **env,
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
            "AUGUR_STATE_DIR": str(self.tmp / "volume"),  # the shared augur-state volume
            "PYTHONUNBUFFERED": "1",
        }

    async def entrypoint(self, name: str, args: list[str], out: Any) -> asyncio.subprocess.Process:
        """deploy/entrypoint.sh with ``args``, in the environment of service ``name``."""
        return await asyncio.create_subprocess_exec(
            "sh",
            str(ENTRYPOINT),
            *args,
            env=self.env(name),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT if out == asyncio.subprocess.PIPE else out,
        )

    async def start(self, name: str, *extra: str) -> asyncio.subprocess.Process:
        log = (self.tmp / f"{name}.log").open("wb")
        command = [str(self.local(c)) for c in self.spec[name]["command"]]
        proc = await self.entrypoint(name, [*command, *extra], log)
        self.procs.append(proc)
        return proc

    async def run(self, name: str, *args: str, within: float = 600) -> str:
        """A one-off command in a service's container (``compose run --rm <name> ...``)."""
        proc = await self.entrypoint(name, list(args), asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(proc.communicate(), within)
        text = out.decode(errors="replace")
        assert proc.returncode == 0, f"{' '.join(args)} failed:\n{text[-3000:]}"
        return text

    async def healthy(self, name: str, within: float) -> None:
        """The service's compose health check, until it passes."""
        check = self.spec[name].get("healthcheck", {})
        if check.get("disable"):
            return
        args = [self.local(a) for a in check["test"][2:]]  # after "CMD", "augur-entrypoint"
        grpc_port = self.ports[name][0]
        compose_port = str(self.spec[name]["environment"]["AUGUR_GRPC_PORT"])
        args = [str(grpc_port) if a == compose_port else a for a in args]
        deadline = time.monotonic() + within
        while True:
            proc = await self.entrypoint(name, args, asyncio.subprocess.DEVNULL)
            if await proc.wait() == 0:
                return
            if time.monotonic() > deadline:
                log = (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"{name} never passed its health check:\n{log}")
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.returncode is None:
                proc.terminate()
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()


def startup_order(spec: dict[str, Any], names: list[str]) -> list[str]:
    """Services after the ones they depend on (compose's depends_on)."""
    done: list[str] = []

    def visit(name: str) -> None:
        if name in done or name not in names:
            return
        for dep in spec[name].get("depends_on", {}):
            visit(dep)
        done.append(name)

    for name in names:
        visit(name)
    return done


async def test_the_compose_topology_runs_as_processes(
    mlflow_database: str,
    prefix: str,
    redis_client: redis.Redis,
    shop_data: Path,
    tmp_path: Path,
) -> None:
    topo = Topology(tmp_path, prefix, mlflow_database)
    try:
        mlflow = await topo.start("mlflow", "--workers", "1")
        await wait_http(
            f"http://127.0.0.1:{topo.mlflow_port}/health", 90, mlflow, tmp_path / "mlflow.log"
        )
        # the one-off jobs of the compose file's header, data mounted at its path here
        await topo.run("churn", "augur", "features", "materialise", "--data", str(shop_data))
        retrained = await topo.run("churn", "augur", "retrain", "--all", "--data", str(shop_data))
        assert "FAILED" not in retrained and "at-risk snapshot" in retrained, retrained
        services = startup_order(topo.spec, topo.augur_services())
        assert services[-1] == "gateway" and {"features", "consumer", "outreach"} <= set(services)
        for name in services:
            await topo.start(name)
            if name != "gateway":
                await topo.healthy(name, 90)
        await topo.healthy("gateway", 60)

        created = await topo.run(
            "gateway",
            "augur",
            "keys",
            "create",
            "--name",
            "e2e",
            "--scope",
            "gateway",
            "--scope",
            "churn",
        )
        token = created.split("token (shown once, store it now): ", 1)[1].split()[0]
        # the gateway re-reads keys every second and reloads nginx gracefully: until the old
        # workers (with the old key map) have exited, a new connection may still reach one of
        # them, so the key counts as live once it has worked five times in a row
        status, body, in_a_row = 0, b"", 0
        for _ in range(80):
            status, _, body = http(topo.http_port, "/v1/churn/ListAtRisk", {"page_size": 1}, token)
            in_a_row = in_a_row + 1 if status == 200 else 0
            if in_a_row == 5 or status not in (200, 401):
                break
            await asyncio.sleep(0.25)
        assert status == 200 and in_a_row == 5, body
        customer = json.loads(body)["customers"][0]["customerId"]
        status, _, body = http(
            topo.http_port,
            "/v1/gateway/CustomerInsight",
            {"customer_id": customer},
            token,
        )
        assert status == 200, body
        insight = json.loads(body)
        assert insight.get("churn") and insight.get("recommendations"), insight
        assert not insight.get("missing"), insight

        # Prometheus with the shipped scrape config and rules, targets made local
        config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(DEPLOY / "prometheus" / "rules.yml")]
        shipped = config["scrape_configs"][0]["static_configs"][0]["targets"]
        config["scrape_configs"][0]["static_configs"][0]["targets"] = [
            topo.local(t) for t in shipped
        ]
        scraper, port = await start_prometheus(config, tmp_path)
        topo.procs.append(scraper)
        deadline = time.monotonic() + 45
        while True:
            try:
                reply = json.loads(http(port, "/api/v1/targets")[2])
                active = reply["data"]["activeTargets"]
                if len(active) == len(shipped) and all(t["health"] == "up" for t in active):
                    break
            except (OSError, ValueError, KeyError):
                active = []
            if time.monotonic() > deadline:
                seen = [(t["scrapeUrl"], t["health"]) for t in active]
                pytest.fail(f"targets not all up: {seen}")
            await asyncio.sleep(0.5)
    finally:
        await topo.stop()
