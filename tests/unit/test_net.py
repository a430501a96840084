"""free_port hands out ports no outbound connection can be given meanwhile."""

from __future__ import annotations

import socket

from augur.common.net import HEADROOM, LOWEST, _ephemeral_start, free_port


def test_free_ports_lie_below_the_ephemeral_range_and_bind() -> None:
    top = _ephemeral_start() - HEADROOM
    ports = {free_port() for _ in range(50)}
    assert all(LOWEST <= p < top for p in ports)
    assert len(ports) > 40  # drawn at random: concurrent callers rarely meet
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports.pop()))


def test_a_free_preferred_port_is_kept_and_a_taken_one_replaced() -> None:
    wanted = free_port()
    assert free_port(wanted) == wanted
    with socket.socket() as held:
        held.bind(("127.0.0.1", wanted))
        held.listen()
        assert free_port(wanted) != wanted
