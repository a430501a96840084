"""Networking helpers shared by the product and its tools."""

from __future__ import annotations

import socket


def free_port(preferred: int = 0) -> int:
    """``preferred`` when it is free, else a port the kernel says is free now.

    For processes that must be told a port before they bind (nginx, MLflow, a child process);
    a server of our own binds port 0 and reports the port it got instead.
    """
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")
