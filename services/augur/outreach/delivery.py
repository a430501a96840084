"""Delivery of scheduled contacts and triggers to a webhook (an e-mail/SMS/CRM provider).

Queue in Redis: ``deliveries`` (zset id -> due time), ``inflight`` (zset id -> lease end),
``delivery`` (hash id -> JSON record: payload, kind, attempts, status, last error) and
``dead`` (hash id -> JSON: why it was given up). Claiming moves due ids to ``inflight`` in
one script, so several workers never send the same id at once; a worker that dies leaves
its ids to come back when their lease ends (at-least-once). Every request carries the id as
``Idempotency-Key``, so a receiver that keeps the keys it has seen processes each contact
exactly once, whatever the retries.

Each request is signed: ``X-Augur-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." +
body)>`` with ``X-Augur-Timestamp``. 2xx is delivered; 408, 425, 429, 5xx, timeouts and
connection errors are retried with exponential back-off (``Retry-After`` honoured, capped),
up to ``outreach_delivery_attempts``; any other answer, or the last failed attempt, sends the
record to the dead-letter list (``augur outreach dead-letters`` lists and re-queues them).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import redis
from google.protobuf.json_format import MessageToDict
from prometheus_client import CollectorRegistry, Counter, Gauge

from augur.common.keys import Keys
from augur.gateway.v1 import gateway_pb2

log = logging.getLogger("augur.outreach.delivery")
RETRYABLE = frozenset({408, 425, 429})

ENQUEUE_LUA = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"""

CLAIM_LUA = """
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[3])
local back = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(back) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[1], now, id)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
local out = {}
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
  table.insert(out, id)
  table.insert(out, redis.call('HGET', KEYS[3], id) or '')
end
return out
"""


def payload_of(row: gateway_pb2.ScheduledContact) -> dict[str, Any]:
    """What the provider receives for one scheduled contact."""
    body = MessageToDict(row, preserving_proto_field_name=True)
    body["kind"] = "contact"
    return body


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver checks (used by the tests' and the demo's receivers)."""
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


@dataclass
class Claimed:
    id: str
    record: dict[str, Any]


class DeliveryQueue:
    """The queue's Redis side."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self.records = keys.outreach("delivery")
        self.due = keys.outreach("deliveries")
        self.inflight = keys.outreach("inflight")
        self.dead = keys.outreach("dead")
        self._enqueue = client.register_script(ENQUEUE_LUA)
        self._claim = client.register_script(CLAIM_LUA)

    def enqueue_many(
        self, items: list[tuple[str, dict[str, Any], float]], kind: str = "contact"
    ) -> int:
        """Queue (id, payload, due time) items; an id queued before (even if delivered) is
        not queued again. Returns how many were new."""
        new = 0
        pipe = self.client.pipeline(transaction=False)
        for delivery_id, payload, due in items:
            record = {"payload": payload, "kind": kind, "attempts": 0, "status": "queued"}
            self._enqueue(
                keys=[self.records, self.due],
                args=[delivery_id, json.dumps(record), repr(due)],
                client=pipe,
            )
        for added in pipe.execute():
            new += int(added)
        return new

    def claim(self, now: float, lease: float, limit: int) -> list[Claimed]:
        flat: Any = self._claim(
            keys=[self.due, self.inflight, self.records], args=[repr(now), repr(lease), limit]
        )
        out = []
        for i in range(0, len(flat), 2):
            raw = flat[i + 1]
            if raw:
                out.append(Claimed(flat[i].decode(), json.loads(raw)))
            else:  # erased meanwhile
                self.client.zrem(self.inflight, flat[i])
        return out

    def _store(self, item: Claimed, pipe: Any) -> None:
        pipe.hset(self.records, item.id, json.dumps(item.record))

    def delivered(self, item: Claimed, status: int) -> None:
        item.record.update(status="delivered", http_status=status, delivered_at=time.time())
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self.inflight, item.id)
        self._store(item, pipe)
        pipe.execute()

    def retry(self, item: Claimed, due: float, error: str) -> None:
        item.record.update(status="retrying", last_error=error, next_attempt_at=due)
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self.inflight, item.id)
        pipe.zadd(self.due, {item.id: due})
        self._store(item, pipe)
        pipe.execute()

    def give_up(self, item: Claimed, error: str) -> None:
        item.record.update(status="dead", last_error=error, dead_at=time.time())
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self.inflight, item.id)
        pipe.hset(self.dead, item.id, json.dumps({"error": error, "at": time.time()}))
        self._store(item, pipe)
        pipe.execute()

    def dead_letters(self) -> dict[str, dict[str, Any]]:
        raw: Any = self.client.hgetall(self.dead)
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def requeue_dead(self, now: float) -> int:
        """Put every dead letter back in the queue with a fresh attempt count."""
        ids = list(self.dead_letters())
        for delivery_id in ids:
            raw: Any = self.client.hget(self.records, delivery_id)
            if not raw:
                continue
            record = json.loads(raw)
            record.update(status="queued", attempts=0)
            pipe = self.client.pipeline(transaction=True)
            pipe.hdel(self.dead, delivery_id)
            pipe.hset(self.records, delivery_id, json.dumps(record))
            pipe.zadd(self.due, {delivery_id: now})
            pipe.execute()
        return len(ids)

    def release_all(self, now: float) -> int:
        """Make every queued delivery due now (the demo; catching up after a pause)."""
        ids: Any = self.client.zrange(self.due, 0, -1)
        if ids:
            self.client.zadd(self.due, dict.fromkeys(ids, now))
        return len(ids)

    def depth(self) -> tuple[int, int, int]:
        """(queued, in flight, dead)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(self.due)
        pipe.zcard(self.inflight)
        pipe.hlen(self.dead)
        queued, inflight, dead = pipe.execute()
        return int(queued), int(inflight), int(dead)


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "augur_outreach_delivery_attempts",
            "Webhook delivery attempts by result (delivered, retry, dead).",
            ["result"],
            registry=registry,
        )
        self.queued = Gauge(
            "augur_outreach_delivery_queue", "Deliveries by state.", ["state"], registry=registry
        )


Outcome = Callable[[Claimed, bool, str], None]


class Deliverer:
    """Sends due deliveries to the webhook."""

    def __init__(
        self,
        queue: DeliveryQueue,
        url: str,
        secret: str,
        *,
        attempts: int = 8,
        backoff: float = 1.0,
        backoff_max: float = 300.0,
        timeout: float = 5.0,
        concurrency: int = 8,
        lease: float = 60.0,
        on_result: Outcome | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.queue = queue
        self.url = url
        self.secret = secret
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.timeout = timeout
        self.concurrency = concurrency
        self.lease = max(lease, timeout * 2)
        self.on_result = on_result
        self.metrics = DeliveryMetrics(registry or CollectorRegistry())

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), self.backoff_max)
        base = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
        return base * random.uniform(0.5, 1.0)

    async def _send(self, session: aiohttp.ClientSession, item: Claimed) -> None:
        attempt = int(item.record.get("attempts", 0)) + 1
        item.record["attempts"] = attempt
        body = json.dumps(item.record["payload"], sort_keys=True, separators=(",", ":")).encode()
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": item.id,
            "X-Augur-Timestamp": str(stamp),
            "X-Augur-Signature": sign(self.secret, stamp, body),
            "X-Augur-Attempt": str(attempt),
            "X-Augur-Kind": str(item.record.get("kind", "contact")),
        }
        retry_after = None
        try:
            async with session.post(
                self.url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as reply:
                status = reply.status
                retry_after = reply.headers.get("Retry-After")
                await reply.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, error = 0, f"{type(exc).__name__}: {exc}"[:300]
        else:
            error = f"HTTP {status}"
        if 200 <= status < 300:
            self.queue.delivered(item, status)
            self.metrics.attempts.labels("delivered").inc()
            self._result(item, True, "")
            return
        transient = status == 0 or status in RETRYABLE or status >= 500
        if transient and attempt < self.attempts:
            self.queue.retry(item, time.time() + self._delay(attempt, retry_after), error)
            self.metrics.attempts.labels("retry").inc()
            return
        why = error if transient else f"refused by the receiver: {error}"
        if transient:
            why = f"{error} after {attempt} attempts"
        self.queue.give_up(item, why)
        self.metrics.attempts.labels("dead").inc()
        self._result(item, False, why)

    def _result(self, item: Claimed, ok: bool, error: str) -> None:
        if self.on_result is None:
            return
        try:
            self.on_result(item, ok, error)
        except Exception:  # the delivery stands; the outcome is a report
            log.exception("recording the delivery result of %s failed", item.id)

    async def run_once(self, session: aiohttp.ClientSession) -> int:
        """Claim and send what is due now; returns how many were sent."""
        claimed = await asyncio.to_thread(
            self.queue.claim, time.time(), self.lease, self.concurrency * 4
        )
        gate = asyncio.Semaphore(self.concurrency)

        async def one(item: Claimed) -> None:
            async with gate:
                await self._send(session, item)

        await asyncio.gather(*(one(item) for item in claimed))
        return len(claimed)

    async def run(self, idle: float = 0.2, stop: Callable[[], bool] | None = None) -> None:
        async with aiohttp.ClientSession() as session:
            while not (stop and stop()):
                try:
                    sent = await self.run_once(session)
                    queued, inflight, dead = await asyncio.to_thread(self.queue.depth)
                    self.metrics.queued.labels("queued").set(queued)
                    self.metrics.queued.labels("inflight").set(inflight)
                    self.metrics.queued.labels("dead").set(dead)
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                    log.warning("redis unreachable; deliveries wait")
                    sent = 0
                    await asyncio.sleep(1.0)
                if not sent:
                    await asyncio.sleep(idle)
