"""Networking helpers shared by the product and its tools."""

from __future__ import annotations

import random
import socket
from pathlib import Path

# Ports handed out by ``free_port`` come from below the kernel's ephemeral range: a port the
# kernel may give any outbound connection (a Redis client, an HTTP call) as its local port
# can be taken between the moment it was found free and the moment the process it was meant
# for binds it, which made a stack's service fail with "Address already in use" under load.
LOWEST = 10_000
RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
HEADROOM = 100  # callers add small offsets to a base port (metrics ports per service)


def _ephemeral_start() -> int:
    try:
        return int(RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _binds(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(preferred: int = 0) -> int:
    """``preferred`` when it is free, else a free port below the ephemeral range.

    For processes that must be told a port before they bind (nginx, MLflow, a child process);
    a server of our own binds port 0 and reports the port it got instead.
    """
    if preferred and _binds(preferred):
        return preferred
    top = _ephemeral_start() - HEADROOM
    if top <= LOWEST:  # an unusual range: fall back to what the kernel gives
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(LOWEST, top)
        if _binds(port):
            return port
    raise RuntimeError("no free port")
