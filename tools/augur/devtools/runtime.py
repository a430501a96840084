"""The local stack: `augur up` / `augur down` / `augur status`.

``up`` reuses a reachable Redis or starts ``redis-server`` on a free port
(append-only file on, data under ``.augur/redis``), prepares the embedded
MLflow store (a sqlite file and an artifact folder), and starts every
service that has something real to serve, each as its own process with its
own log file. ``down`` stops exactly the processes recorded by ``up``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from augur.common.net import free_port
from augur.common.settings import ServerSettings, load_settings

MODEL_SERVICES = ("churn", "recommend", "contact")
SERVABLE = ("churn", "recommend", "contact")  # services whose implementation exists
# services that serve without a model: next-best-contact times decisions by the customers'
# activity profiles until a response model is trained on a contact log
WITHOUT_MODEL = ("contact",)
GATEWAY_PORT = 50050
GATEWAY_HTTP_PORT = 8080


def champion_of(tracking_uri: str, name: str, alias: str = "champion") -> str | None:
    """The version a registered model's alias (champion, challenger) points to, or None (also
    when no store exists)."""
    if (
        tracking_uri.startswith("sqlite:///")
        and not Path(tracking_uri.removeprefix("sqlite:///")).exists()
    ):
        return None
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def resolved_tracking_uri(uri: str) -> str:
    """An embedded sqlite store's path made absolute, so every process opens the same file."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return f"sqlite:///{Path(uri.removeprefix('sqlite:///')).resolve()}"
    return uri


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        ok = bool(client.ping())
        client.close()
        return ok
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return False


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def wait_serving(port: int, timeout: float) -> bool:
    """True once the server on ``port`` reports SERVING."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    return False


@dataclass
class Proc:
    """A process started by ``up``."""

    name: str
    pid: int
    log: str
    port: int = 0
    metrics_port: int = 0
    http_port: int = 0


@dataclass
class StackState:
    """What ``up`` started, saved in ``.augur/run/stack.json``."""

    redis_url: str
    redis_prefix: str
    mlflow_tracking_uri: str
    processes: list[Proc] = field(default_factory=list)

    def port_of(self, name: str) -> int:
        return next(p.port for p in self.processes if p.name == name)


class LocalStack:
    """Starts and stops the one-machine deployment."""

    def __init__(self, settings: ServerSettings, well_known_ports: bool = True) -> None:
        """``well_known_ports``: the gateway takes 50050/8080 when they are free. A stack
        that may run beside another (chaos, soak) takes any free ports instead, so that a
        client of one stack can never reach the other's gateway."""
        self.settings = settings
        self.well_known_ports = well_known_ports
        self.root = settings.state_dir.resolve()
        self.run_dir = self.root / "run"
        self.log_dir = self.root / "logs"
        self.state_file = self.run_dir / "stack.json"

    @classmethod
    def from_env(cls) -> LocalStack:
        return cls(load_settings(ServerSettings))

    def load(self) -> StackState | None:
        if not self.state_file.exists():
            return None
        raw = json.loads(self.state_file.read_text())
        raw["processes"] = [Proc(**p) for p in raw["processes"]]
        return StackState(**raw)

    def running(self) -> StackState | None:
        state = self.load()
        if state and all(is_alive(p.pid) for p in state.processes):
            return state
        return None

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str], port: int = 0, metrics_port: int = 0
    ) -> Proc:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                args,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=Path.cwd(),
            )
        return Proc(name, proc.pid, str(log), port, metrics_port)

    def up(self, quiet: bool = False) -> int:
        say = (lambda *_: None) if quiet else print
        existing = self.running()
        if existing:
            started = self._start_model_services(existing, say)
            if started < 0:
                return 1
            if started > 0 or "gateway" not in {p.name for p in existing.processes}:
                self._restart_gateway(existing, say)  # its backend list is fixed at start
            self._start_outreach(existing, say)
            say(
                f"already up ({len(existing.processes)} processes, {started} started now); "
                "`augur status` shows them"
            )
            return 0
        if self.load():
            self.down(quiet=True)  # a half-dead stack: clean it first
        for d in (self.run_dir, self.log_dir, self.root / "mlflow" / "artifacts"):
            d.mkdir(parents=True, exist_ok=True)
        procs: list[Proc] = []
        redis_url = self.settings.redis_url
        if redis_answers(redis_url):
            say(f"redis      reusing {redis_url}")
        else:
            binary = shutil.which("redis-server")
            if binary is None:
                print(
                    f"no Redis answers at {redis_url} and redis-server is not installed "
                    "(apt-get install redis-server)",
                    file=sys.stderr,
                )
                return 1
            port = free_port()
            data = self.root / "redis"
            data.mkdir(exist_ok=True)
            procs.append(
                self._spawn(
                    "redis",
                    [
                        binary,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--dir",
                        str(data),
                        "--appendonly",
                        "yes",
                        "--appendfsync",
                        "everysec",
                        "--save",
                        "",
                    ],
                    dict(os.environ),
                    port=port,
                )
            )
            redis_url = f"redis://127.0.0.1:{port}/0"
            deadline = time.monotonic() + 10
            while not redis_answers(redis_url):
                if time.monotonic() > deadline:
                    print("redis-server did not start; see .augur/logs/redis.log", file=sys.stderr)
                    return 1
                time.sleep(0.05)
            say(f"redis      started {redis_url} (append-only file in {data})")
        tracking = resolved_tracking_uri(self.settings.mlflow_tracking_uri)
        say(f"mlflow     store {tracking}, artifacts in {self.root / 'mlflow'}")
        state = StackState(redis_url, self.settings.redis_prefix, tracking, procs)
        env = self._env(state)
        port = free_port(self.settings.grpc_port)
        metrics = free_port(self.settings.metrics_port)
        cli = [sys.executable, "-m", "augur.cli"]
        procs.append(
            self._spawn(
                "features",
                [*cli, "serve", "features"],
                {
                    **env,
                    "AUGUR_GRPC_PORT": str(port),
                    "AUGUR_METRICS_PORT": str(metrics),
                },
                port,
                metrics,
            )
        )
        for shard in range(self.settings.ingest_shards):
            mport = free_port(self.settings.metrics_port + 10 + shard)
            procs.append(
                self._spawn(
                    f"consumer-{shard}",
                    [*cli, "consume", "--shard", str(shard), "--metrics-port", str(mport)],
                    env,
                    0,
                    mport,
                )
            )
        self._save(state)
        if not wait_serving(port, 30):
            print(
                "features service did not become SERVING; see .augur/logs/features.log",
                file=sys.stderr,
            )
            self.down(quiet=True)
            return 1
        say(f"features   gRPC 127.0.0.1:{port}, metrics :{metrics}/metrics")
        for shard in range(self.settings.ingest_shards):
            say(f"consumer   shard {shard}")
        if self._start_model_services(state, say) < 0:
            return 1
        self._restart_gateway(state, say)
        self._start_outreach(state, say)
        say(f"logs in {self.log_dir}; stop with `augur down`")
        return 0

    def _env(self, state: StackState) -> dict[str, str]:
        return {
            **os.environ,
            "AUGUR_REDIS_URL": state.redis_url,
            "AUGUR_REDIS_PREFIX": state.redis_prefix,
            "AUGUR_MLFLOW_TRACKING_URI": state.mlflow_tracking_uri,
            "AUGUR_STATE_DIR": str(self.root),
            "MLFLOW_TRACKING_URI": state.mlflow_tracking_uri,
        }

    def _serve(
        self, state: StackState, name: str, port: int, mport: int, env: dict[str, str]
    ) -> Proc:
        """Spawn `augur serve <name>` on the given ports and record it."""
        proc = self._spawn(
            name,
            [sys.executable, "-m", "augur.cli", "serve", name],
            {
                **self._env(state),
                "AUGUR_GRPC_PORT": str(port),
                "AUGUR_METRICS_PORT": str(mport),
                "AUGUR_PROCESSES": "1",
                **env,
            },
            port,
            mport,
        )
        state.processes.append(proc)
        self._save(state)
        return proc

    def _start_model_services(self, state: StackState, say: Callable[..., None]) -> int:
        """Start every model service that has a champion and is not running; -1 on failure."""
        running = {p.name for p in state.processes}
        started = 0
        for name in MODEL_SERVICES:
            if name in running:
                continue
            version = (
                champion_of(state.mlflow_tracking_uri, f"augur-{name}")
                if name in SERVABLE
                else None
            )
            if version is None and name not in WITHOUT_MODEL:
                challenger = (
                    champion_of(state.mlflow_tracking_uri, f"augur-{name}", "challenger")
                    if name in SERVABLE
                    else None
                )
                say(
                    f"{name:10s} not started: no champion model registered "
                    + (
                        f"(version {challenger} was refused by the quality gate: see `augur "
                        f"models list {name}`; `augur models promote {name} --version "
                        f"{challenger}` serves it anyway)"
                        if challenger
                        else f"(augur train {name} --data DIR)"
                    )
                )
                continue
            used = {p.port for p in state.processes}
            port = free_port(max(used | {self.settings.grpc_port}) + 1)
            mport = free_port(self.settings.metrics_port + MODEL_SERVICES.index(name) + 1)
            # AUGUR_<SERVICE>_PROCESSES sizes one service without touching the others
            processes = os.environ.get(
                f"AUGUR_{name.upper()}_PROCESSES", os.environ.get("AUGUR_PROCESSES", "1")
            )
            proc = self._serve(state, name, port, mport, {"AUGUR_PROCESSES": processes})
            if not wait_serving(port, 60):
                print(f"{name} service did not become SERVING; see {proc.log}", file=sys.stderr)
                return -1
            model = (
                f"model augur-{name} v{version}"
                if version is not None
                else "no model yet: decisions timed by the activity profiles "
                f"(augur train {name} --data DIR once there is a contact log)"
            )
            say(f"{name:10s} gRPC 127.0.0.1:{port}, metrics :{mport}/metrics, {model}")
            started += 1
        return started

    def _start_outreach(self, state: StackState, say: Callable[..., None]) -> None:
        """The outreach worker (triggers, webhook delivery) once churn is served."""
        running = {p.name for p in state.processes}
        if "outreach" in running or "churn" not in running:
            return
        port = free_port(max(p.port for p in state.processes) + 1)
        mport = free_port(self.settings.metrics_port + 8)
        proc = self._serve(state, "outreach", port, mport, {})
        if not wait_serving(port, 60):
            say(f"outreach   did not become SERVING; see {proc.log}")
            return
        hook = os.environ.get("AUGUR_OUTREACH_WEBHOOK_URL") or "none (deliveries wait)"
        say(f"outreach   triggers + delivery, health :{port}, metrics :{mport}/metrics")
        say(f"           webhook {hook}")

    def _restart_gateway(self, state: StackState, say: Callable[..., None]) -> None:
        """(Re)start the gateway in front of every running service; a gateway that cannot
        start (nginx missing) is reported, and the services keep running without it."""
        from augur.gateway.front import js_module_file, nginx_binary

        for proc in [p for p in state.processes if p.name == "gateway"]:
            if is_alive(proc.pid):
                os.kill(proc.pid, signal.SIGTERM)
                deadline = time.monotonic() + self.settings.grace_seconds + 5
                while is_alive(proc.pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
            state.processes.remove(proc)
        if nginx_binary() is None or js_module_file() is None:
            say("gateway    not started: nginx with its njs module is missing (make install)")
            self._save(state)
            return
        backends = self.backends_of(state)
        port = free_port(GATEWAY_PORT if self.well_known_ports else 0)
        http = free_port(GATEWAY_HTTP_PORT if self.well_known_ports else 0)
        mport = free_port(self.settings.metrics_port + 9)
        proc = self._serve(
            state,
            "gateway",
            port,
            mport,
            {"AUGUR_GATEWAY_HTTP_PORT": str(http), "AUGUR_GATEWAY_BACKENDS": backends},
        )
        proc.http_port = http
        self._save(state)
        if not wait_serving(port, 30):
            say(f"gateway    did not become SERVING; see {proc.log}")
            return
        say(
            f"gateway    gRPC 127.0.0.1:{port}, REST http://127.0.0.1:{http}/v1/ "
            f"(OpenAPI at /openapi.json), metrics :{mport}/metrics; keys: augur keys create"
        )

    @staticmethod
    def backends_of(state: StackState) -> str:
        """The running services as the gateway's backend list (service=host:port,...)."""
        return ",".join(
            f"{p.name}=127.0.0.1:{p.port}"
            for p in state.processes
            if p.port and p.name in ("features", *MODEL_SERVICES)
        )

    def _save(self, state: StackState) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.state_file)

    def down(self, quiet: bool = False) -> int:
        say = (lambda *_: None) if quiet else print
        state = self.load()
        if state is None:
            say("nothing to stop")
            return 0
        for proc in reversed(state.processes):  # services first, Redis last
            if is_alive(proc.pid):
                os.kill(proc.pid, signal.SIGTERM)
                deadline = time.monotonic() + self.settings.grace_seconds + 5
                while is_alive(proc.pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if is_alive(proc.pid):
                    os.kill(proc.pid, signal.SIGKILL)
                    say(f"{proc.name:10s} killed (did not stop within the grace period)")
                    continue
            say(f"{proc.name:10s} stopped")
        self.state_file.unlink(missing_ok=True)
        return 0

    def status(self) -> int:
        state = self.load()
        if state is None:
            print("not running")
            return 1
        print(f"redis {state.redis_url} prefix '{state.redis_prefix}'")
        print(f"mlflow {state.mlflow_tracking_uri}")
        for p in state.processes:
            alive = "up" if is_alive(p.pid) else "DOWN"
            where = f"port {p.port}" if p.port else ""
            print(f"  {p.name:12s} pid {p.pid:<8d} {alive:5s} {where:12s} log {p.log}")
        return 0 if all(is_alive(p.pid) for p in state.processes) else 1
