"""The batch-scored at-risk snapshot in Redis, and its paging.

``augur score --all`` scores every customer with online features and writes
two sorted sets under a new snapshot id (by value at risk, by probability),
then points ``<prefix>:churn:snapshot`` at it and deletes the previous one.
``ListAtRisk`` pages through the value-at-risk order with an opaque token
bound to the snapshot id.

``AtRiskSnapshots`` is what the churn core needs of it; ``RedisSnapshots`` keeps it in Redis
(the service), ``MemorySnapshots`` in a list (unit tests of the core).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import redis

from augur.churn.bands import RiskBands
from augur.churn.model import ChurnModel
from augur.common.erasure import KEY_SCAN, Known
from augur.common.errors import FailedPrecondition, InvalidArgument
from augur.common.keys import Keys
from augur.features.codec import decode_vector


@dataclass
class AtRisk:
    customer_id: str
    probability: float
    value_at_risk: float
    rank: int


@dataclass
class Page:
    customers: list[AtRisk]
    next_token: str
    total: int
    scored_at: float
    model_version: str
    model_name: str
    bands: RiskBands
    """The thresholds the snapshot was scored with: its rows are banded by these."""


class AtRiskSnapshots(Protocol):
    """The current at-risk snapshot, paged by value at risk."""

    def page(
        self, min_probability: float, page_size: int, token: str, bands: Sequence[int]
    ) -> Page: ...


def iter_customers(client: redis.Redis, keys: Keys, chunk: int = 2000) -> Iterator[list[str]]:
    """Customer ids with an online record, in chunks."""
    batch: list[str] = []
    for raw in client.scan_iter(match=keys.features_pattern(), count=chunk):
        batch.append(keys.customer_of(raw.decode()))
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def _token(snapshot: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{snapshot}:{offset}".encode()).decode().rstrip("=")


def _untoken(token: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        snapshot, offset = raw.rsplit(":", 1)
        return snapshot, int(offset)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("page_token is not a token returned by ListAtRisk") from None


class RedisSnapshots:
    """Snapshots in Redis: a meta hash and two sorted sets per snapshot id."""

    kind = "churn-snapshot"
    """Its name as an eraser (ForgetCustomer)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def forget(self, known: Known) -> int:
        """The customer's rows in every snapshot (current or being written)."""
        removed = 0
        for key in list(self.client.scan_iter(self.keys.churn_pattern(), count=KEY_SCAN)):
            if self.client.type(key) == b"zset":
                removed += int(self.client.zrem(key, known.customer_id))  # type: ignore[arg-type]
        return removed

    def publish(self, model: ChurnModel, model_name: str, model_version: str) -> tuple[str, int]:
        """Score every customer with online features into a new snapshot and make it current;
        (snapshot id, customers)."""
        client, keys = self.client, self.keys
        snapshot = uuid.uuid4().hex[:12]
        rank_key, prob_key = keys.churn_rank(snapshot), keys.churn_probability(snapshot)
        count = 0
        for ids in iter_customers(client, keys):
            raws: Any = client.mget([keys.features(c) for c in ids])
            present = [
                (c, decode_vector(r)) for c, r in zip(ids, raws, strict=True) if r is not None
            ]
            if not present:
                continue
            X = np.stack([v.values for _, v in present]).astype(np.float64)
            p = model.probability(X)
            var = p * model.expected_value(X)
            pipe = client.pipeline(transaction=False)
            pipe.zadd(rank_key, {c: float(v) for (c, _), v in zip(present, var, strict=True)})
            pipe.zadd(prob_key, {c: float(q) for (c, _), q in zip(present, p, strict=True)})
            pipe.execute()
            count += len(present)
        old: Any = client.hget(keys.churn_snapshot(), "id")
        client.hset(
            keys.churn_snapshot(),
            mapping={
                "id": snapshot,
                "scored_at": time.time(),
                "model_name": model_name,
                "model_version": model_version,
                "customers": count,
                "risk_medium": model.risk_thresholds[0],
                "risk_high": model.risk_thresholds[1],
            },
        )
        if old:
            client.unlink(keys.churn_rank(old.decode()), keys.churn_probability(old.decode()))
        return snapshot, count

    def page(
        self, min_probability: float, page_size: int, token: str, bands: Sequence[int]
    ) -> Page:
        """One page of the current snapshot, by value at risk, filtered."""
        client, keys = self.client, self.keys
        stored: Any = client.hgetall(keys.churn_snapshot())
        meta = {k.decode(): v.decode() for k, v in stored.items()}
        if not meta:
            raise FailedPrecondition("no at-risk snapshot yet: run `augur score --all`")
        snapshot = meta["id"]
        offset = _offset(token, snapshot)
        scored_with = RiskBands(float(meta["risk_medium"]), float(meta["risk_high"]))
        intervals = scored_with.intervals(list(bands), min_probability)
        rank_key, prob_key = keys.churn_rank(snapshot), keys.churn_probability(snapshot)
        total = sum(int(client.zcount(prob_key, lo, f"({hi}")) for lo, hi in intervals)
        size = int(client.zcard(rank_key))
        out: list[AtRisk] = []
        while len(out) < page_size and offset < size:
            want = max(page_size - len(out), 100)
            rows: Any = client.zrevrange(rank_key, offset, offset + want - 1, withscores=True)
            if not rows:
                break
            probs: Any = client.zmscore(prob_key, [m for m, _ in rows])
            for i, ((member, var), p) in enumerate(zip(rows, probs, strict=True)):
                p = float(p or 0.0)
                if any(lo <= p < hi for lo, hi in intervals):
                    out.append(AtRisk(member.decode(), p, float(var), offset + i + 1))
                    if len(out) == page_size:
                        offset += i + 1
                        break
            else:
                offset += len(rows)
        next_token = _token(snapshot, offset) if offset < size and len(out) == page_size else ""
        return Page(
            out,
            next_token,
            total,
            float(meta["scored_at"]),
            meta["model_version"],
            meta["model_name"],
            scored_with,
        )


class MemorySnapshots:
    """One snapshot held in memory: rows (customer, probability, value at risk)."""

    def __init__(self, model_name: str = "", model_version: str = "") -> None:
        self.model_name, self.model_version = model_name, model_version
        self.rows: list[tuple[str, float, float]] = []
        self.bands = RiskBands(0.3, 0.6)
        self.snapshot = ""
        self.scored_at = 0.0

    def replace(self, rows: Sequence[tuple[str, float, float]], bands: RiskBands) -> None:
        self.rows = sorted(rows, key=lambda r: (-r[2], r[0]))
        self.bands, self.snapshot, self.scored_at = bands, uuid.uuid4().hex[:12], time.time()

    def page(
        self, min_probability: float, page_size: int, token: str, bands: Sequence[int]
    ) -> Page:
        if not self.snapshot:
            raise FailedPrecondition("no at-risk snapshot yet: run `augur score --all`")
        offset = _offset(token, self.snapshot)
        intervals = self.bands.intervals(list(bands), min_probability)

        def wanted(p: float) -> bool:
            return any(lo <= p < hi for lo, hi in intervals)

        total = sum(1 for _, p, _ in self.rows if wanted(p))
        out: list[AtRisk] = []
        while offset < len(self.rows) and len(out) < page_size:
            cid, p, var = self.rows[offset]
            offset += 1
            if wanted(p):
                out.append(AtRisk(cid, p, var, offset))
        more = offset < len(self.rows) and len(out) == page_size
        return Page(
            out,
            _token(self.snapshot, offset) if more else "",
            total,
            self.scored_at,
            self.model_version,
            self.model_name,
            self.bands,
        )


def _offset(token: str, snapshot: str) -> int:
    if not token:
        return 0
    snap, offset = _untoken(token)
    if snap != snapshot:
        raise FailedPrecondition(
            "page_token belongs to an older snapshot; start again without a token"
        )
    return offset
