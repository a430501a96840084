"""The fast lane stays pure: a unit test that opens a TCP connection or starts a process fails
at once, naming what it tried (such a test belongs in tests/integration or tests/system)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_network_or_processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family != socket.AF_UNIX:
            raise AssertionError(
                f"a unit test connected to {address}: move it to an integration lane"
            )
        return connect(self, address)

    def no_process(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a unit test started a process {args[1:2]}: move it to tests/system")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(subprocess.Popen, "_execute_child", no_process)
    yield
