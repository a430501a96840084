"""Erasure across owners: ``ForgetCustomer`` (the contact service) erases what it holds itself
and asks every other owner of customer data to erase theirs. Each owner implements
``Eraser`` next to the keys it owns; the contact service's wiring (``contact/main.py``) lists
them, so no service reaches into another's keys."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis


@dataclass(frozen=True)
class Known:
    """What the contact service knew of the customer before erasing it, which other owners
    need to find their records (plans by campaign, deliveries by contact id)."""

    customer_id: str
    experiments: Sequence[str]
    contact_ids: Sequence[str]


class Eraser(Protocol):
    """One owner's erasure: removes every record of the customer; returns how many."""

    @property
    def kind(self) -> str:
        """The name reported in ForgetCustomer's answer (e.g. "churn-snapshot")."""

    def forget(self, known: Known) -> int: ...


STREAM_SCAN = 1000
"""Stream entries read per XRANGE while looking for a customer's entries."""
# keys looked at per SCAN step when erasure looks for snapshots and streams: the default (10)
# made ForgetCustomer take over 10 s on a Redis holding 300,000 other keys
KEY_SCAN = 10_000


def stream_entries(client: redis.Redis, stream: str) -> Iterator[tuple[bytes, dict[bytes, bytes]]]:
    """Every entry of a stream, oldest first, read STREAM_SCAN at a time."""
    start = "-"
    while True:
        entries: Any = client.xrange(stream, start, "+", STREAM_SCAN)
        yield from entries
        if len(entries) < STREAM_SCAN:
            return
        start = "(" + entries[-1][0].decode()


def glob_escape(text: str) -> str:
    """A literal for a Redis MATCH pattern."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
