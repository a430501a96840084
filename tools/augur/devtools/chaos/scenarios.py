"""Fault scenarios: each one does something bad to a running stack, says what it did and what
it saw, and lists the expectations that failed (none: the scenario passes)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import redis
from google.protobuf.timestamp_pb2 import Timestamp

from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.common.settings import ServerSettings
from augur.contact.v1 import contact_pb2, contact_pb2_grpc
from augur.devtools.chaos.stack import ChaosStack, customers_of
from augur.features.definitions import A_N_ORDERS
from augur.features.store import RedisFeatureStore
from augur.features.v1 import features_pb2, features_pb2_grpc
from augur.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from augur.ingest.consumer import GROUP
from augur.ingest.ingest import Ingestor

DEADLINE = 0.5  # seconds every call of the load is given
RECOVERY = 5.0  # seconds within which service must be back once Redis answers again


@dataclass
class Report:
    scenario: str
    did: list[str] = field(default_factory=list)
    saw: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    """What was measured, by name, for a test to check itself (``failures`` is the verdict
    `make chaos` prints)."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def expect(self, condition: bool, failure: str) -> None:
        if not condition:
            self.failures.append(failure)

    def print(self) -> None:
        print(f"\n== {self.scenario}: {'PASS' if self.ok else 'FAIL'}")
        for line in self.did:
            print(f"   did: {line}")
        for line in self.saw:
            print(f"   saw: {line}")
        for line in self.failures:
            print(f"   FAILED: {line}")


@dataclass
class Call:
    sent: float  # monotonic
    seconds: float
    code: grpc.StatusCode
    detail: str = ""


async def _load(
    calls: list[Callable[[], Awaitable[object]]], rate: float, until: Callable[[], bool]
) -> list[Call]:
    """Open loop: the calls in turn at ``rate`` per second until ``until()`` is true."""
    out: list[Call] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one(call: Callable[[], Awaitable[object]]) -> None:
        sent = time.monotonic()
        try:
            await call()
            out.append(Call(sent, time.monotonic() - sent, grpc.StatusCode.OK))
        except grpc.aio.AioRpcError as err:
            out.append(Call(sent, time.monotonic() - sent, err.code(), err.details() or ""))

    i = 0
    start = time.monotonic()
    while not until():
        task = asyncio.create_task(one(calls[i % len(calls)]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
    await asyncio.gather(*tasks)
    return sorted(out, key=lambda c: c.sent)


def _codes(calls: list[Call]) -> str:
    counts = pd.Series([c.code.name for c in calls]).value_counts()
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


async def redis_outage(stack: ChaosStack) -> Report:
    """Redis killed under load, then started again."""
    report = Report("Redis killed mid-load, then back")
    customers = customers_of(stack, 20)
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{stack.port('churn')}") as churn_ch,
        grpc.aio.insecure_channel(f"127.0.0.1:{stack.port('features')}") as feat_ch,
        grpc.aio.insecure_channel(f"127.0.0.1:{stack.port('contact')}") as contact_ch,
    ):
        churn = churn_pb2_grpc.ChurnServiceStub(churn_ch)
        feats = features_pb2_grpc.FeatureServiceStub(feat_ch)
        contact = contact_pb2_grpc.ContactServiceStub(contact_ch)
        calls: list[Callable[[], Awaitable[object]]] = []
        for c in customers:
            calls += [
                partial(churn.Score, churn_pb2.ScoreRequest(customer_id=c), timeout=DEADLINE),
                partial(
                    feats.GetFeatures,
                    features_pb2.GetFeaturesRequest(customer_id=c),
                    timeout=DEADLINE,
                ),
                partial(
                    contact.NextBestContact,
                    contact_pb2.NextBestContactRequest(customer_id=c),
                    timeout=DEADLINE,
                ),
            ]
        events: dict[str, float] = {"start": time.monotonic()}

        async def breaker() -> None:
            await asyncio.sleep(3)
            stack.redis.kill(signal.SIGKILL)
            events["killed"] = time.monotonic()
            await asyncio.sleep(5)
            # "while down" ends when the restart begins: a call between then and the moment
            # the event loop learns that Redis answers again may rightly succeed
            events["restarting"] = time.monotonic()
            await asyncio.to_thread(stack.redis.start)
            events["back"] = time.monotonic()

        chaos = asyncio.create_task(breaker())
        calls_seen = await _load(
            calls, 90, lambda: "back" in events and time.monotonic() > events["back"] + 8
        )
        await chaos
    killed, restarting, back = events["killed"], events["restarting"], events["back"]
    report.did += [
        "load: Score, GetFeatures, NextBestContact at 90 calls/s in turn, "
        f"{DEADLINE * 1000:.0f} ms deadline each",
        "3 s in: SIGKILL to redis-server; 5 s later: started again with its append-only file",
    ]
    before = [c for c in calls_seen if c.sent < killed]
    during = [c for c in calls_seen if killed + 0.2 < c.sent < restarting]
    after = [c for c in calls_seen if c.sent >= back]
    report.saw.append(f"before: {len(before)} calls: {_codes(before)}")
    report.saw.append(f"while down: {len(during)} calls: {_codes(during)}")
    slowest = max((c.seconds for c in calls_seen), default=0.0)
    report.saw.append(f"slowest answer of the run: {slowest * 1000:.0f} ms")
    first_ok = _recovered_at(after)
    recovery = (first_ok - back) if first_ok is not None else float("inf")
    tail = [c for c in after if first_ok is not None and c.sent >= first_ok]
    report.saw.append(
        f"after Redis answered again: first success of every RPC {recovery:.2f} s later; "
        f"from then on {len(tail)} calls: {_codes(tail)}"
    )
    report.facts.update(
        codes_before={c.code.name for c in before},
        codes_while_down={c.code.name for c in during},
        codes_of_the_run={c.code.name for c in calls_seen},
        calls_while_down=len(during),
        recovery_seconds=recovery,
        codes_after_recovery={c.code.name for c in tail},
        calls_after_recovery=len(tail),
    )
    report.expect(all(c.code == grpc.StatusCode.OK for c in before), "calls failed before")
    report.expect(
        all(c.code == grpc.StatusCode.UNAVAILABLE for c in during),
        "while Redis was down some answer was not UNAVAILABLE",
    )
    report.expect(
        not any(c.code == grpc.StatusCode.DEADLINE_EXCEEDED for c in calls_seen),
        "a call ran past its deadline (a hang)",
    )
    report.expect(recovery <= RECOVERY, f"not back within {RECOVERY:.0f} s of Redis returning")
    report.expect(all(c.code == grpc.StatusCode.OK for c in tail), "failures after the recovery")
    return report


def _recovered_at(calls: list[Call]) -> float | None:
    """Send time after which every call succeeded (None: never)."""
    for i, c in enumerate(calls):
        if all(d.code == grpc.StatusCode.OK for d in calls[i:]):
            return c.sent
    return None


async def mlflow_outage(stack: ChaosStack) -> Report:
    """The tracking server killed: the loaded model serves on, and a restarted service comes
    up from its local model cache."""
    report = Report("MLflow tracking server unreachable")
    customer = customers_of(stack, 1)[0]

    async def score(n: int) -> tuple[int, set[str]]:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.port('churn')}") as ch:
            stub = churn_pb2_grpc.ChurnServiceStub(ch)
            ok, versions = 0, set()
            for _ in range(n):
                try:
                    reply = await stub.Score(
                        churn_pb2.ScoreRequest(customer_id=customer), timeout=2
                    )
                    ok += 1
                    versions.add(reply.model.version)
                except grpc.aio.AioRpcError:
                    pass
            return ok, versions

    _, before = await score(5)
    stack.mlflow.kill(signal.SIGKILL)
    report.did.append("SIGKILL to the MLflow tracking server (its process group)")
    await asyncio.sleep(3)  # the services poll the alias every second: they notice
    ok, versions = await score(50)
    report.saw.append(f"50 Score calls 3 s later: {ok} answered, model versions {sorted(versions)}")
    report.facts.update(served_while_down=ok, versions_before=before, versions_while_down=versions)
    report.expect(ok == 50 and versions == before, "the loaded model stopped serving")
    seconds = await asyncio.to_thread(stack.restart_service, "churn")
    report.did.append("churn service restarted (SIGTERM, started again) with MLflow still down")
    ok, versions = await score(20)
    log = await asyncio.to_thread(Path(stack.proc("churn").log).read_text)
    swaps = [line for line in log.splitlines() if '"model swapped in"' in line]
    source = bool(swaps) and '"source": "cache"' in swaps[-1]
    report.saw.append(
        f"SERVING again {seconds:.1f} s after the restart; 20 Score calls: {ok} answered, "
        f"versions {sorted(versions)}; model loaded from the local cache: {source}"
    )
    report.facts.update(
        served_after_restart=ok, versions_after_restart=versions, loaded_from_cache=source
    )
    report.expect(ok == 20 and versions == before, "the restarted service did not serve")
    report.expect(source, "the restarted service did not say it loaded its cached model")
    await asyncio.to_thread(stack.mlflow.start, 120)
    report.did.append("MLflow tracking server started again")
    return report


async def backend_killed(stack: ChaosStack) -> Report:
    """Backends killed behind the gateway: partial answers, then UNAVAILABLE, in time."""
    report = Report("backend services killed behind the gateway")
    customer = customers_of(stack, 1)[0]
    deadline = 2.0
    metadata = (("x-api-key", stack.token),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.port('gateway')}") as ch:
        gateway = gateway_pb2_grpc.GatewayServiceStub(ch)
        churn = churn_pb2_grpc.ChurnServiceStub(ch)

        async def insight() -> tuple[str, float, list[str]]:
            """Code (with the error's message), seconds, missing parts."""
            sent = time.monotonic()
            try:
                reply = await gateway.CustomerInsight(
                    gateway_pb2.CustomerInsightRequest(customer_id=customer),
                    timeout=deadline,
                    metadata=metadata,
                )
                missing = [m.part for m in reply.missing]
                return "OK", time.monotonic() - sent, missing
            except grpc.aio.AioRpcError as err:
                return _described(err), time.monotonic() - sent, []

        code, seconds, missing = await insight()
        report.saw.append(f"CustomerInsight with every backend up: {code}, missing {missing}")
        report.facts["healthy"] = (code, missing)
        report.expect(code == "OK" and not missing, "the healthy stack did not answer in full")
        _sigkill(stack, "recommend")
        report.did.append("SIGKILL to the recommend service")
        code, seconds, missing = await insight()
        report.saw.append(
            f"CustomerInsight: {code} in {seconds * 1000:.0f} ms, missing parts {missing}"
        )
        report.facts["recommend_down"] = (code, missing, seconds)
        report.expect(code == "OK" and missing == ["recommendations"], "no partial answer")
        report.expect(seconds < deadline, "the partial answer came after the deadline")
        for name in ("churn", "contact"):
            _sigkill(stack, name)
        report.did.append("SIGKILL to the churn and contact services as well")
        code, seconds, missing = await insight()
        report.saw.append(f"CustomerInsight: {code} in {seconds * 1000:.0f} ms")
        report.facts["all_down"] = (code, seconds)
        report.expect(code.startswith("UNAVAILABLE"), "every backend down did not give UNAVAILABLE")
        report.expect(seconds < deadline, "UNAVAILABLE came after the deadline")
        sent = time.monotonic()
        try:
            await churn.Score(
                churn_pb2.ScoreRequest(customer_id=customer), timeout=deadline, metadata=metadata
            )
            code = "OK"
        except grpc.aio.AioRpcError as err:
            code = _described(err)
        seconds = time.monotonic() - sent
        report.saw.append(f"Score through the gateway: {code} in {seconds * 1000:.0f} ms")
        report.facts.update(pass_through=(code, seconds), deadline=deadline)
        report.expect(
            code.startswith("UNAVAILABLE") and seconds < deadline, "pass-through did not fail fast"
        )
    return report


def _described(err: grpc.aio.AioRpcError) -> str:
    return f"{err.code().name} ({err.details()})"


def _sigkill(stack: ChaosStack, name: str) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(stack.proc(name).pid, signal.SIGKILL)
    time.sleep(0.3)


def start_consumer(settings: ServerSettings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AUGUR_REDIS_URL": settings.redis_url,
        "AUGUR_REDIS_PREFIX": settings.redis_prefix,
        "AUGUR_CONSUMER_BATCH": "50",
        "AUGUR_CONSUMER_BLOCK_MS": "20",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "augur.cli", "consume", "--shard", "0", "--metrics-port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def consumer_sigkill(
    settings: ServerSettings, client: redis.Redis, total: int = 6000, kill_every: int = 1500
) -> Report:
    """Orders ingested while the consumer is SIGKILLed and restarted, repeatedly: each order
    counted exactly once, nothing left pending, a re-sent batch refused as duplicates."""
    report = Report("ingestion consumer SIGKILLed mid-stream, repeatedly")
    ingestor = Ingestor(client, settings)
    customers = [f"k{i}" for i in range(40)]
    now = pd.Timestamp.now(tz="UTC").timestamp() - 3600
    sent, kills = 0, 0
    consumer = start_consumer(settings)
    batch: list[features_pb2.Event] = []
    try:
        while sent < total:
            batch = []
            for _ in range(100):
                ts = Timestamp()
                ts.FromNanoseconds(int((now + sent * 0.1) * 1e9))
                batch.append(
                    features_pb2.Event(
                        event_id=f"ev{sent}",
                        customer_id=customers[sent % len(customers)],
                        occurred_at=ts,
                        order=features_pb2.OrderEvent(
                            order_id=f"o{sent}",
                            lines=[
                                features_pb2.OrderLine(item_id="I1", quantity=1, unit_price=1.0)
                            ],
                        ),
                    )
                )
                sent += 1
            report.expect(all(ingestor.ingest(batch).accepted), "a fresh batch was refused")
            if sent % kill_every == 0:  # kill it while it is working, restart it
                time.sleep(0.05)
                consumer.send_signal(signal.SIGKILL)
                consumer.wait(10)
                kills += 1
                consumer = start_consumer(settings)
        resent = ingestor.ingest(batch).accepted
        store = RedisFeatureStore.from_settings(settings)
        deadline = time.monotonic() + 60
        counts = np.zeros(len(customers))
        while time.monotonic() < deadline:
            counts = store.get_accumulators(customers)[:, A_N_ORDERS]
            if counts.sum() >= total:
                break
            time.sleep(0.2)
    finally:
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(10)
    pending = client.xpending(store.keys.stream(0), GROUP)["pending"]
    report.did.append(
        f"{total:,} orders of 40 customers ingested in batches of 100; the consumer SIGKILLed "
        f"every {kill_every:,} events and restarted ({kills} kills); the last batch sent again"
    )
    report.saw.append(
        f"orders counted: {int(counts.sum()):,} of {total:,} (per customer "
        f"{int(counts.min())}..{int(counts.max())}, expected {total // len(customers)}); "
        f"re-sent batch: {sum(resent)} of {len(resent)} accepted; pending entries: {pending}; "
        f"clean exit on SIGTERM: {consumer.returncode == 0}"
    )
    report.facts.update(
        orders_sent=total,
        orders_counted_per_customer=counts.tolist(),
        customers=len(customers),
        kills=kills,
        resent_accepted=sum(resent),
        pending=pending,
        exit_code=consumer.returncode,
    )
    report.expect(
        bool(np.all(counts == total / len(customers))), "an order was lost or counted twice"
    )
    report.expect(not any(resent), "a re-sent event was accepted again")
    report.expect(pending == 0, "entries left pending")
    report.expect(consumer.returncode == 0, "SIGTERM was not a clean stop")
    return report
