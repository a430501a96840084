"""The stack ``augur chaos`` breaks: its own Redis server and MLflow tracking server (so they
can be stopped and started again), three trained models, the features loaded, and the
services started by ``LocalStack`` exactly as ``augur up`` starts them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import pandas as pd

from augur.common.settings import ServerSettings, load_settings
from augur.devtools.runtime import (
    LocalStack,
    Proc,
    StackState,
    free_port,
    is_alive,
    redis_answers,
    wait_serving,
)
from augur.features.store import RedisFeatureStore
from augur.gateway.keys import KeyStore
from augur.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from augur.training.data.synthetic import SyntheticConfig, generate
from augur.training.offline.materialise import load_online
from augur.training.retrain import retrain_all

PREFIX = "augur-chaos"


class Server:
    """An external server the scenarios stop and start again with the same arguments."""

    def __init__(self, name: str, args: list[str], log: Path, ready: Callable[[], bool]) -> None:
        self.name, self.args, self.log, self.ready = name, args, log, ready
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, within: float = 60) -> float:
        """Start and wait until it answers; seconds it took."""
        started = time.monotonic()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        while not self.ready():
            if time.monotonic() - started > within or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} did not start; see {self.log}")
            time.sleep(0.05)
        return time.monotonic() - started

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """The signal to its whole process group (MLflow's server runs worker children)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            self.proc.wait(30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


@dataclass
class ChaosStack:
    root: Path
    data: Path
    settings: ServerSettings
    redis: Server
    mlflow: Server
    local: LocalStack
    state: StackState
    token: str  # an API key with every scope the scenarios use

    def port(self, name: str) -> int:
        return self.state.port_of(name)

    def proc(self, name: str) -> Proc:
        return next(p for p in self.state.processes if p.name == name)

    def restart_service(self, name: str, within: float = 60) -> float:
        """Stop a service (SIGTERM) and start it again on its port; seconds until SERVING."""
        old = self.proc(name)
        with contextlib.suppress(ProcessLookupError):
            os.kill(old.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while is_alive(old.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.state.processes.remove(old)
        started = time.monotonic()
        self.local._serve(self.state, name, old.port, old.metrics_port, {})
        if not wait_serving(old.port, within):
            raise RuntimeError(f"{name} did not come back; see {self.proc(name).log}")
        return time.monotonic() - started

    def down(self) -> None:
        self.local.down(quiet=True)
        self.mlflow.stop()
        self.redis.stop()


def customers_of(stack: ChaosStack, n: int) -> list[str]:
    """Up to ``n`` customers with online features."""
    store = RedisFeatureStore.from_settings(stack.settings)
    out = []
    for key in store.client.scan_iter(match=store.keys.features_pattern(), count=1000):
        out.append(store.keys.customer_of(key.decode()))
        if len(out) >= n:
            break
    return out


def prepare(root: Path, customers: int, say: Callable[[str], None]) -> ChaosStack:
    """Everything from nothing: servers, data, models, features, services."""
    if root.exists():
        shutil.rmtree(root)
    (root / "logs").mkdir(parents=True)
    redis_port, mlflow_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    (root / "redis").mkdir()
    redis = Server(
        "redis",
        [
            *(binary, "--port", str(redis_port), "--bind", "127.0.0.1"),
            *("--dir", str(root / "redis"), "--appendonly", "yes"),
            *("--appendfsync", "everysec", "--save", ""),
        ],
        root / "logs" / "redis-server.log",
        lambda: redis_answers(redis_url),
    )
    redis.start()
    tracking = f"http://127.0.0.1:{mlflow_port}"
    mlflow_bin = shutil.which("mlflow") or str(Path(sys.executable).parent / "mlflow")
    mlflow = Server(
        "mlflow",
        [
            *(mlflow_bin, "server", "--host", "127.0.0.1", "--port", str(mlflow_port)),
            *("--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"),
            *("--artifacts-destination", str(root / "artifacts"), "--workers", "1"),
        ],
        root / "logs" / "mlflow-server.log",
        lambda: _http_ok(f"{tracking}/health"),
    )
    say(f"redis-server on :{redis_port}, MLflow tracking server on :{mlflow_port}")
    mlflow.start(120)
    os.environ.update(
        {
            "AUGUR_STATE_DIR": str(root / "state"),
            "AUGUR_REDIS_URL": redis_url,
            "AUGUR_REDIS_PREFIX": PREFIX,
            "AUGUR_MLFLOW_TRACKING_URI": tracking,
            "MLFLOW_TRACKING_URI": tracking,
            "AUGUR_GRPC_PORT": str(free_port()),
            "AUGUR_METRICS_PORT": str(free_port()),
            "AUGUR_MODEL_POLL_SECONDS": "1",
        }
    )
    settings = load_settings(ServerSettings)
    data = root / "data"
    today = pd.Timestamp.now(tz="UTC").normalize()
    start = (today - pd.Timedelta(days=365)).strftime("%Y-%m-%d")
    generate(data, SyntheticConfig(customers=customers, days=365, start=start), progress=False)
    say(f"synthetic shop of {customers:,} customers; training the three models")
    summary = retrain_all(
        data, tracking, settings.state_dir, None, progress=False, say=lambda _: None
    )
    if not summary.ok:
        raise RuntimeError(f"training failed: {[s.error for s in summary.steps if s.error]}")
    refused = [s.kind for s in summary.steps if s.report is None or not s.report.promoted]
    if refused:
        raise RuntimeError(f"no champion for {refused} on this shop: try more customers")
    store = RedisFeatureStore.from_settings(settings)
    loaded = load_online(data, store)
    say(f"features of {loaded.customers:,} customers in Redis; starting the services")
    local = LocalStack(settings, well_known_ports=False)
    if local.up(quiet=True) != 0:
        raise RuntimeError(f"the stack did not start; see {local.log_dir}")
    state = local.running()
    assert state is not None
    _, token = KeyStore(store).create("chaos", ["admin"])
    stack = ChaosStack(root, data, settings, redis, mlflow, local, state, token)
    answered = _answers_in_full(stack, customers_of(stack, 1)[0], within=30)
    if answered is not True:
        raise RuntimeError(f"the stack's gateway does not answer in full ({answered}); see logs")
    return stack


def _answers_in_full(stack: ChaosStack, customer: str, within: float) -> str | bool:
    """True once the gateway answers CustomerInsight with every part (the scenarios start
    from a healthy stack); else the last answer, described."""
    names = {p.name for p in stack.state.processes}
    lacking = {"gateway", "churn", "recommend", "contact"} - names
    if lacking:
        return f"not started: {sorted(lacking)}"
    last = "no answer"
    deadline = time.monotonic() + within
    with grpc.insecure_channel(f"127.0.0.1:{stack.port('gateway')}") as channel:
        gateway = gateway_pb2_grpc.GatewayServiceStub(channel)
        request = gateway_pb2.CustomerInsightRequest(customer_id=customer)
        while time.monotonic() < deadline:
            try:
                reply = gateway.CustomerInsight(
                    request, timeout=2, metadata=(("x-api-key", stack.token),)
                )
                if not reply.missing:
                    return True
                last = f"missing {[m.part for m in reply.missing]}"
            except grpc.RpcError as err:
                last = f"{err.code().name}: {err.details()}"
            time.sleep(0.25)
    return last
