"""N server processes share one port (SO_REUSEPORT) and stop together on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc

from augur.common.settings import ServerSettings
from augur.common.v1 import common_pb2, common_pb2_grpc
from augur.devtools.runtime import free_port, is_alive, wait_serving


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(x) for x in out.stdout.split()]


def test_two_processes_share_the_port(settings: ServerSettings, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "AUGUR_REDIS_URL": settings.redis_url,
        "AUGUR_REDIS_PREFIX": settings.redis_prefix,
        "AUGUR_GRPC_PORT": str(port),
        "AUGUR_METRICS_PORT": str(free_port()),
        "AUGUR_PROCESSES": "2",
        "AUGUR_GRACE_SECONDS": "2",
    }
    log = (tmp_path / "features.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "augur.cli", "serve", "features"], env=env, stdout=log, stderr=log
    )
    try:
        assert wait_serving(port, 20), (tmp_path / "features.log").read_text()
        workers = children(proc.pid)
        assert len(workers) == 2
        for _ in range(20):  # new connections are spread over the workers by the kernel
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = common_pb2_grpc.DiagnosticsServiceStub(channel)
                assert stub.Echo(common_pb2.EchoRequest(payload=b"x"), timeout=5).payload == b"x"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert not any(is_alive(w) for w in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
