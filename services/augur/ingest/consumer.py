"""The ingestion consumer: folds streamed events into the online features.

One consumer per stream shard, in a consumer group, with a stable consumer
name, so after a crash it first re-reads its own pending entries. Exactly-once
effect on the features comes from the accumulator itself: it records the
last stream id applied for its customer, and an entry at or below that id is
skipped. A customer's features and accumulator live in one Redis value, so
they are always written together.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from augur.common.errors import Unavailable
from augur.common.keys import Keys, shard_of
from augur.common.settings import FeatureSettings
from augur.contact.activity_store import ActivityStore
from augur.contact.experiment_store import ExperimentStore
from augur.features import catalogue, purchases
from augur.features.carts import cart_changes
from augur.features.definitions import (
    A_STREAM_MS,
    A_STREAM_SEQ,
    FEATURE_SET_VERSION,
    accumulate,
    finalize,
    merge,
)
from augur.features.store import RedisFeatureStore
from augur.features.v1 import features_pb2
from augur.ingest.events import event_time, to_canonical

log = logging.getLogger("augur.consumer")
GROUP = "features"
# the events that say when a customer is active (opens and clicks: the contact service's own)
ACTIVITY = ("order", "interaction")


class ConsumerMetrics:
    """Metrics of one consumer process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.applied = Counter(
            "augur_ingest_events_applied_total",
            "Stream entries folded into features.",
            ["shard"],
            registry=registry,
        )
        self.skipped = Counter(
            "augur_ingest_events_replayed_total",
            "Stream entries skipped because their effect was already applied (replays).",
            ["shard"],
            registry=registry,
        )
        self.lag = Gauge(
            "augur_ingest_consumer_lag_entries",
            "Entries in the shard not yet delivered to the consumer.",
            ["shard"],
            registry=registry,
        )
        self.refreshed = Counter(
            "augur_ingest_features_refreshed_total",
            "Customer feature vectors re-finalised as of now by the periodic refresh.",
            ["shard"],
            registry=registry,
        )
        self.delay = Histogram(
            "augur_ingest_update_delay_seconds",
            "Time from the acknowledgement of an event to its features being written.",
            ["shard"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=registry,
        )
        self.written = Gauge(
            "augur_ingest_last_write_timestamp_seconds",
            "When this shard's consumer last wrote feature vectors (events or refresh); "
            "features go stale when it stops moving.",
            ["shard"],
            registry=registry,
        )


def _parse_id(entry_id: bytes) -> tuple[float, float]:
    ms, seq = entry_id.split(b"-")
    return float(ms), float(seq)


UPDATES_KEPT = 10_000  # batches kept in the feature-updates stream


@dataclass
class BatchStats:
    entries: int = 0
    applied: int = 0
    replayed: int = 0


class Consumer:
    """Reads one shard and applies it to the feature store."""

    def __init__(
        self,
        client: redis.Redis,
        settings: FeatureSettings,
        shard: int = 0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.shard = shard
        self.keys = Keys(settings.redis_prefix, FEATURE_SET_VERSION)
        self.stream = self.keys.stream(shard)
        self.name = f"shard-{shard}"
        self.store = RedisFeatureStore(client, self.keys, settings.feature_ttl_seconds)
        self.experiments = ExperimentStore(self.store)
        self.activity = ActivityStore(self.store)
        self.metrics = ConsumerMetrics(registry or CollectorRegistry())
        self._recovering = True
        self._refresh_cursor = 0
        self._next_refresh = time.monotonic() + settings.feature_refresh_seconds
        self.ensure_group()

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def step(self, block_ms: int | None = None) -> BatchStats:
        """Read and apply one batch; returns what happened (0 entries when idle)."""
        start_id = "0" if self._recovering else ">"
        block = None if self._recovering else (block_ms or self.settings.consumer_block_ms)
        reply: Any = self.client.xreadgroup(
            GROUP,
            self.name,
            {self.stream: start_id},
            count=self.settings.consumer_batch,
            block=block,
        )
        entries = reply[0][1] if reply else []
        if self._recovering and not entries:
            self._recovering = False
            return BatchStats()
        entries = [(eid, fields) for eid, fields in entries if fields]  # trimmed while pending
        stats = self.apply(entries)
        if entries:
            ids = [eid for eid, _ in entries]
            self.client.xack(self.stream, GROUP, *ids)
            self.client.xtrim(self.stream, minid=ids[-1], approximate=True)
        return stats

    def drain(self, block_ms: int = 10) -> BatchStats:
        """Apply everything already in the stream (tests, demo, batch catch-up)."""
        total = BatchStats()
        while True:
            recovering = self._recovering
            stats = self.step(block_ms)
            total.entries += stats.entries
            total.applied += stats.applied
            total.replayed += stats.replayed
            if not stats.entries and not recovering:
                return total

    def apply(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> BatchStats:
        stats = BatchStats(entries=len(entries))
        if not entries:
            return stats
        events: list[tuple[float, float, features_pb2.Event, float]] = []
        for entry_id, fields in entries:
            event = features_pb2.Event.FromString(fields[b"e"])
            ms, seq = _parse_id(entry_id)
            events.append((ms, seq, event, float(fields.get(b"t", b"0"))))
        self._apply_items([e for _, _, e, _ in events if e.WhichOneof("payload") == "item"])
        by_customer: dict[str, list[tuple[float, float, features_pb2.Event, float]]] = defaultdict(
            list
        )
        for item in events:
            if item[2].customer_id:
                by_customer[item[2].customer_id].append(item)
        if not by_customer:
            return stats
        customers = list(by_customer)
        accs = self.store.get_accumulators(customers)
        fresh: list[features_pb2.Event] = []
        last_ids = np.zeros((len(customers), 2))
        acked_at: list[float] = []
        active: list[tuple[int, float]] = []  # (row, time) of the activities among them
        for row, cid in enumerate(customers):
            done = (accs[row, A_STREAM_MS], accs[row, A_STREAM_SEQ])
            for ms, seq, event, t in by_customer[cid]:
                if (ms, seq) <= done:
                    stats.replayed += 1
                    continue
                fresh.append(event)
                acked_at.append(t)
                last_ids[row] = (ms, seq)
                if event.WhichOneof("payload") in ACTIVITY:
                    active.append((row, event_time(event)))
        changed = np.flatnonzero(last_ids[:, 0] > 0)
        if len(changed):
            index = {customers[i]: n for n, i in enumerate(changed)}
            item_ids = sorted(
                {
                    line.item_id
                    for e in fresh
                    if e.WhichOneof("payload") == "order"
                    for line in e.order.lines
                }
            )
            cats = dict(zip(item_ids, self.store.item_categories(item_ids), strict=True))
            delta = accumulate(to_canonical(fresh, index, lambda i: cats.get(i, "")), len(changed))
            new_acc = merge(accs[changed], delta)
            new_acc[:, A_STREAM_MS] = last_ids[changed, 0]
            new_acc[:, A_STREAM_SEQ] = last_ids[changed, 1]
            # orders count as outcomes of the experiments their customers are in; marked
            # before the features are written, so a crash in between replays them (idempotent)
            self.experiments.record_orders(
                [
                    (
                        e.customer_id,
                        event_time(e),
                        e.order.order_id,
                        sum(line.quantity * line.unit_price for line in e.order.lines),
                    )
                    for e in fresh
                    if e.WhichOneof("payload") == "order"
                ]
            )
            # what was bought, for the recommender's live read; idempotent like the above
            self.store.record_purchases(purchase_days(fresh))
            self.store.record_carts(cart_changes((e, event_time(e)) for e in fresh))
            # when the customer is active, for the contact timing; idempotent like the above
            self.activity.record(
                [(customers[r], at, (last_ids[r, 0], last_ids[r, 1])) for r, at in active]
            )
            latest = max(event_time(e) for e in fresh)
            as_of = max(time.time(), latest)
            values = finalize(new_acc, as_of)
            self.store.write([customers[i] for i in changed], new_acc, values, as_of)
            # who changed, for real-time outreach triggers (one entry per batch, capped)
            self.client.xadd(
                self.keys.feature_updates(),
                {"c": "\n".join(customers[i] for i in changed), "t": repr(time.time())},
                maxlen=UPDATES_KEPT,
                approximate=True,
            )
            stats.applied = len(fresh)
            written = time.time()
            shard = str(self.shard)
            self.metrics.written.labels(shard).set(written)
            for t in acked_at:
                self.metrics.delay.labels(shard).observe(max(written - t, 0.0))
        self.metrics.applied.labels(str(self.shard)).inc(stats.applied)
        self.metrics.skipped.labels(str(self.shard)).inc(stats.replayed)
        return stats

    def _apply_items(self, events: list[features_pb2.Event]) -> None:
        if not events:
            return
        pipe = self.client.pipeline(transaction=False)
        self.store.write_stock(((e.item.item_id, e.item.in_stock) for e in events), pipe)
        for e in events:
            if e.item.category:
                pipe.hset(self.keys.item_category(), e.item.item_id, e.item.category)
            if e.item.price > 0:
                pipe.hset(self.keys.item_price(), e.item.item_id, e.item.price)
        added = [(e.item.item_id, event_time(e)) for e in events if e.item.category]
        for command in catalogue.record_commands(self.keys.item_added(), added):
            pipe.execute_command(*command)
        pipe.execute()

    def update_lag(self) -> int:
        lag = 0
        for group in self.client.xinfo_groups(self.stream):
            if group["name"] in (GROUP, GROUP.encode()):
                lag = int(group.get("lag") or 0)
        self.metrics.lag.labels(str(self.shard)).set(lag)
        return lag

    def refresh_step(self, count: int = 2000) -> int:
        """Re-finalise a slice of this shard's customers as of now; returns customers done.

        The consumer is the only writer of its shard's records while it runs, so the
        read-finalise-write needs no lock. A full pass ends when the SCAN cursor wraps.
        """
        reply: Any = self.client.scan(
            self._refresh_cursor, match=self.keys.features_pattern(), count=count
        )
        cursor, keys = reply
        self._refresh_cursor = int(cursor)
        customers = [
            c
            for c in (self.keys.customer_of(k.decode()) for k in keys)
            if shard_of(c, self.settings.ingest_shards) == self.shard
        ]
        if customers:
            acc = self.store.get_accumulators(customers)
            known = np.isfinite(acc[:, 0])
            now = time.time()
            chosen = [c for c, k in zip(customers, known, strict=True) if k]
            if chosen:
                self.store.write(chosen, acc[known], finalize(acc[known], now), now)
                self.metrics.refreshed.labels(str(self.shard)).inc(len(chosen))
                self.metrics.written.labels(str(self.shard)).set(now)
        if self._refresh_cursor == 0:
            self._next_refresh = time.monotonic() + self.settings.feature_refresh_seconds
        return len(customers)

    def run(self, stop: Callable[[], bool] | None = None) -> None:
        """Loop until ``stop()`` is true; Redis outages are waited out, not fatal."""
        last_lag = 0.0
        while not (stop and stop()):
            try:
                stats = self.step()
                refresh = self.settings.feature_refresh_seconds
                if refresh and not stats.entries and time.monotonic() >= self._next_refresh:
                    self.refresh_step()  # only when idle: events always come first
                if time.monotonic() - last_lag > 1:
                    self.update_lag()
                    last_lag = time.monotonic()
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, Unavailable):
                log.warning("redis unreachable; retrying in 0.5 s")
                self._recovering = True
                time.sleep(0.5)
            except redis.exceptions.ResponseError as exc:
                if "NOGROUP" not in str(exc) and "UNBLOCKED" not in str(exc):
                    raise
                log.warning("stream or consumer group was deleted; recreating it")
                self.ensure_group()
                self._recovering = True


def purchase_days(events: list[features_pb2.Event]) -> dict[str, dict[str, set[int]]]:
    """customer -> item -> the days the orders among ``events`` bought it (voided lines of
    quantity 0 are no purchase)."""
    out: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for e in events:
        if e.WhichOneof("payload") != "order":
            continue
        day = purchases.day_of(event_time(e))
        for line in e.order.lines:
            if line.quantity > 0:
                out[e.customer_id][line.item_id].add(day)
    return {c: dict(items) for c, items in out.items()}
