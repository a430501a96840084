"""Webhook delivery against a real local HTTP receiver: signed requests, retries with
back-off through a receiver that fails half the time, exactly-once processing by
idempotency key, dead letters for a refusing receiver."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from augur.common.settings import ServerSettings
from augur.features.store import RedisFeatureStore
from augur.outreach.delivery import Claimed, Deliverer, DeliveryQueue, verify

SECRET = "test-secret"


@dataclass
class Receiver:
    """A provider's endpoint: verifies the signature, keeps the idempotency keys it has
    processed; fails half of the requests (some before processing, some after: a lost ack)."""

    rng: random.Random = field(default_factory=lambda: random.Random(3))
    refuse: bool = False
    requests: Counter[str] = field(default_factory=Counter)
    processed: Counter[str] = field(default_factory=Counter)
    bad_signatures: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = request.headers["Idempotency-Key"]
        self.requests[key] += 1
        if not verify(
            SECRET, request.headers["X-Augur-Timestamp"], body, request.headers["X-Augur-Signature"]
        ):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.refuse:
            return web.Response(status=400, text="unknown template")
        roll = self.rng.random()
        if roll < 0.25:
            return web.Response(status=503)  # failed before processing
        if key not in self.processed:
            self.processed[key] += 1
        if roll < 0.5:
            return web.Response(status=500)  # processed, but the answer is lost
        return web.json_response({"ok": True})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    target = Receiver()
    app = web.Application()
    app.router.add_post("/hook", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield target, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


async def _drain(deliverer: Deliverer, queue: DeliveryQueue, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            await deliverer.run_once(session)
            queued, inflight, _ = queue.depth()
            if not queued and not inflight:
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"deliveries still pending: {queue.depth()}")


async def test_every_contact_arrives_exactly_once_through_a_flaky_receiver(
    settings: ServerSettings, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    store = RedisFeatureStore.from_settings(settings)
    queue = DeliveryQueue(store.client, store.keys)
    ids = [f"o-{i:04d}" for i in range(60)]
    now = time.time()
    assert (
        queue.enqueue_many([(i, {"customer_id": f"C{i}", "n": n}, now) for n, i in enumerate(ids)])
        == 60
    )
    assert queue.enqueue_many([(ids[0], {"again": True}, now)]) == 0  # queued once only
    later = queue.enqueue_many([("o-later", {"customer_id": "C-later"}, now + 3600)])
    assert later == 1
    results: list[tuple[str, bool]] = []
    deliverer = Deliverer(
        queue,
        url,
        SECRET,
        attempts=40,
        backoff=0.005,
        backoff_max=0.02,
        timeout=2.0,
        on_result=lambda item, ok, _: results.append((item.id, ok)),
    )
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            await deliverer.run_once(session)
            queued, inflight, _ = queue.depth()
            if queued == 1 and not inflight:  # only the one due in an hour is left
                break
            await asyncio.sleep(0.01)
    assert target.bad_signatures == 0
    assert set(target.processed) == set(ids)
    assert all(count == 1 for count in target.processed.values())
    assert sum(target.requests.values()) > 60  # failures were retried
    assert any(count > 1 for count in target.requests.values())
    assert sorted(results) == sorted((i, True) for i in ids)
    assert "o-later" not in target.requests  # not due yet
    records = store.client.hgetall(store.keys.outreach("delivery"))
    import json

    states = Counter(json.loads(v)["status"] for k, v in records.items() if k != b"o-later")
    assert states == {"delivered": 60}
    assert queue.dead_letters() == {}


async def test_refused_and_exhausted_deliveries_go_to_the_dead_letter_list(
    settings: ServerSettings, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    target.refuse = True
    store = RedisFeatureStore.from_settings(settings)
    queue = DeliveryQueue(store.client, store.keys)
    queue.enqueue_many([("o-refused", {"customer_id": "C1"}, time.time())])
    failed: list[Claimed] = []
    deliverer = Deliverer(
        queue, url, SECRET, attempts=5, backoff=0.001, on_result=lambda i, ok, e: failed.append(i)
    )
    await _drain(deliverer, queue)
    dead = queue.dead_letters()
    assert (
        list(dead) == ["o-refused"]
        and "refused by the receiver: HTTP 400" in dead["o-refused"]["error"]
    )
    assert target.requests["o-refused"] == 1  # a 4xx is not retried
    assert [i.id for i in failed] == ["o-refused"]
    # an unreachable receiver: retried with back-off, then given up
    nowhere = Deliverer(
        queue, "http://127.0.0.1:9/hook", SECRET, attempts=3, backoff=0.001, timeout=0.5
    )
    queue.enqueue_many([("o-unreachable", {"customer_id": "C2"}, time.time())])
    await _drain(nowhere, queue)
    dead = queue.dead_letters()
    assert "after 3 attempts" in dead["o-unreachable"]["error"]
    # re-queued once the receiver is fixed: delivered
    target.refuse = False
    assert queue.requeue_dead(time.time()) == 2
    fixed = Deliverer(queue, url, SECRET, attempts=40, backoff=0.001, backoff_max=0.01)
    await _drain(fixed, queue)
    assert queue.dead_letters() == {}
    assert set(target.processed) == {"o-refused", "o-unreachable"}
