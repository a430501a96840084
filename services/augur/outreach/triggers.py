"""Real-time outreach triggers: a churn probability crossing a campaign's threshold.

The ingestion consumers publish, after every batch they apply, the customers whose online
features they rewrote (``feat:updates`` stream). The trigger worker reads that stream in a
consumer group, re-scores those customers with the served churn champion on the fresh
features, and compares each probability with the last one it saw (at first: the at-risk
snapshot's). A crossing from below a campaign's threshold to at or above it, for a customer
not cooling down in that campaign, is enrolled in the campaign's experiment (stored arm, or
the hash with the campaign's registered share) and, for the treatment arm, emitted on the
``triggers`` stream and optionally queued for the webhook. Holdout customers are enrolled
and counted, never emitted. A customer seen for the first time (no earlier probability) is
recorded, not triggered: a crossing needs a known "before".
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import redis
from prometheus_client import CollectorRegistry, Counter

from augur.churn.model import ChurnModel
from augur.common.errors import InvalidArgument, NotFound, Unavailable
from augur.common.models import ModelWatcher
from augur.contact.experiments import in_holdout
from augur.contact.state import ContactState
from augur.features.store import RedisFeatureStore
from augur.outreach.delivery import DeliveryQueue

log = logging.getLogger("augur.outreach.triggers")
GROUP = "outreach-triggers"
CAMPAIGN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
TRIGGERS_KEPT = 100_000
RULES_TTL = 1.0


@dataclass(frozen=True)
class TriggerRule:
    campaign: str
    threshold: float
    cooldown_seconds: float
    webhook: bool = False

    def validate(self) -> TriggerRule:
        if not CAMPAIGN.match(self.campaign):
            raise InvalidArgument(
                "campaign must be 1..64 characters of letters, digits, '_', '.' or '-'"
            )
        if not 0 < self.threshold < 1:
            raise InvalidArgument(f"threshold must be between 0 and 1 (got {self.threshold})")
        if not 60 <= self.cooldown_seconds <= 365 * 86400:
            raise InvalidArgument(
                f"cool-down must be 60 s..365 days (got {self.cooldown_seconds:g} s)"
            )
        return self


class TriggerRules:
    """The trigger rules in Redis (``augur outreach trigger set|list|delete``)."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client = client
        self.key = key

    def set(self, rule: TriggerRule) -> None:
        self.client.hset(self.key, rule.campaign, json.dumps(asdict(rule.validate())))

    def delete(self, campaign: str) -> None:
        if not self.client.hdel(self.key, campaign):
            raise NotFound(f"no trigger rule for campaign '{campaign}'")

    def all(self) -> list[TriggerRule]:
        raw: Any = self.client.hgetall(self.key)
        return [TriggerRule(**json.loads(v)) for _, v in sorted(raw.items())]


class TriggerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.fired = Counter(
            "augur_outreach_triggers",
            "Threshold crossings by campaign and arm (holdout ones are not emitted).",
            ["campaign", "arm"],
            registry=registry,
        )
        self.scored = Counter(
            "augur_outreach_trigger_rescored",
            "Customers re-scored after a feature update.",
            registry=registry,
        )


BLOCK_MS = 1000  # how long one read of the updates stream waits for an entry


def _blocking_reader(client: redis.Redis, block_ms: int) -> redis.Redis:
    """A client for the blocking stream read: its socket waits the block time on top of the
    usual bound, so an idle read returns empty instead of timing out as an outage would."""
    pool = client.connection_pool
    kwargs = dict(pool.connection_kwargs)
    kwargs["socket_timeout"] = (kwargs.get("socket_timeout") or 0.0) + block_ms / 1000
    return redis.Redis(
        connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
    )


class TriggerWorker:
    """Reads feature updates, re-scores, emits crossings."""

    def __init__(
        self,
        store: RedisFeatureStore,
        watcher: ModelWatcher[ChurnModel],
        default_share: float,
        registry: CollectorRegistry | None = None,
        consumer: str = "worker-0",
    ) -> None:
        self.store = store
        self.client = store.client
        self.reader = _blocking_reader(store.client, BLOCK_MS)
        self.keys = store.keys
        self.watcher = watcher
        self.default_share = default_share
        self.consumer = consumer
        self.contact = ContactState(store)
        self.queue = DeliveryQueue(self.client, self.keys)
        self.rules = TriggerRules(self.client, self.keys.outreach("rules"))
        self.stream = self.keys.feature_updates()
        self.out = self.keys.outreach("triggers")
        self.metrics = TriggerMetrics(registry or CollectorRegistry())
        self._rules: tuple[float, list[TriggerRule]] = (-1e9, [])
        self._recovering = True
        self.ensure_group()

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, GROUP, id="$", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _current_rules(self) -> list[TriggerRule]:
        read_at, rules = self._rules
        if time.monotonic() - read_at > RULES_TTL:
            rules = self.rules.all()
            self._rules = (time.monotonic(), rules)
        return rules

    def step(self, block_ms: int = BLOCK_MS) -> int:
        """Handle one read from the updates stream; returns customers re-scored."""
        start = "0" if self._recovering else ">"
        reply: Any = self.reader.xreadgroup(
            GROUP,
            self.consumer,
            {self.stream: start},
            count=100,
            block=None if self._recovering else block_ms,
        )
        entries = reply[0][1] if reply else []
        if self._recovering and not entries:
            self._recovering = False
            return 0
        customers: list[str] = []
        for _, fields in entries:
            if fields and fields.get(b"c"):
                customers.extend(fields[b"c"].decode().split("\n"))
        done = self.evaluate(list(dict.fromkeys(customers)), time.time()) if customers else 0
        if entries:
            self.client.xack(self.stream, GROUP, *[eid for eid, _ in entries])
        return done

    def evaluate(self, customers: list[str], now: float) -> int:
        rules = self._current_rules()
        if not rules:
            return 0
        loaded = self.watcher.require()
        found, X, _ = self.store.get_matrix(customers)
        ids = [c for c, f in zip(customers, found, strict=True) if f]
        if not ids:
            return 0
        p = loaded.model.probability(np.asarray(X, dtype=np.float64))
        self.metrics.scored.inc(len(ids))
        before = self._previous(ids)
        self.client.hset(
            self.keys.outreach("lastp"),
            mapping={c: repr(float(q)) for c, q in zip(ids, p, strict=True)},
        )
        for rule in rules:
            for c, old, new in zip(ids, before, p, strict=True):
                if old is not None and old < rule.threshold <= new:
                    self._fire(rule, c, old, float(new), now, loaded.version)
        return len(ids)

    def _previous(self, ids: list[str]) -> list[float | None]:
        last: Any = self.client.hmget(self.keys.outreach("lastp"), ids)
        out: list[float | None] = [float(v) if v is not None else None for v in last]
        missing = [i for i, v in enumerate(out) if v is None]
        snapshot: Any = self.client.hget(self.keys.churn_snapshot(), "id")
        if missing and snapshot:
            scores: Any = self.client.zmscore(
                self.keys.churn_probability(snapshot.decode()), [ids[i] for i in missing]
            )
            for i, s in zip(missing, scores, strict=True):
                out[i] = float(s) if s is not None else None
        return out

    def _fire(
        self, rule: TriggerRule, customer: str, old: float, new: float, now: float, version: str
    ) -> None:
        cool = self.keys.outreach_cooldown(rule.campaign, customer)
        if not self.client.set(cool, repr(now), nx=True, ex=int(rule.cooldown_seconds)):
            return
        if self.contact.is_suppressed(customer):
            return
        arm, share = self.contact.experiments.arm_of(rule.campaign, customer)
        if arm is None:
            holdout = in_holdout(
                rule.campaign, customer, self.default_share if share is None else share
            )
            self.contact.experiments.assign(customer, rule.campaign, holdout, now)
            arm = "holdout" if holdout else "treatment"
        self.metrics.fired.labels(rule.campaign, arm).inc()
        if arm == "holdout":
            return
        event: dict[Any, Any] = {
            "campaign": rule.campaign,
            "customer_id": customer,
            "probability": repr(new),
            "previous": repr(old),
            "threshold": repr(rule.threshold),
            "model_version": version,
            "at": repr(now),
        }
        raw_id: Any = self.client.xadd(self.out, event, maxlen=TRIGGERS_KEPT, approximate=True)
        trigger_id = raw_id.decode()
        if rule.webhook:
            key = f"t-{rule.campaign}-{trigger_id}"
            self.queue.enqueue_many([(key, {"kind": "trigger", **event}, now)], kind="trigger")

    def run(self, stop: Callable[[], bool] | None = None) -> None:
        """Loop until ``stop()``; Redis outages and a missing model are waited out."""
        while not (stop and stop()):
            try:
                self.step()
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                log.warning("redis unreachable; triggers wait")
                self._recovering = True
                time.sleep(0.5)
            except Unavailable as exc:  # no churn model yet, or the store is down
                log.warning("triggers wait: %s", exc.message)
                time.sleep(0.5)
            except redis.exceptions.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self.ensure_group()
                self._recovering = True
