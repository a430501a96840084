"""`augur soak --minutes N` (`make soak MINUTES=N`): a mixed workload through the gateway at a
fixed rate on a stack of its own, p50/p99 per RPC and resident memory per process every
minute; memory growth after the first (warm-up) minute must stay within 10 %."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import numpy as np

from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.contact.v1 import contact_pb2, contact_pb2_grpc
from augur.devtools.bench.harness import open_loop
from augur.devtools.chaos.stack import ChaosStack, customers_of, prepare
from augur.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from augur.recommend.v1 import recommend_pb2, recommend_pb2_grpc

GROWTH_LIMIT = 0.10
MIX = (("Score", 4), ("Recommend", 3), ("NextBestContact", 2), ("CustomerInsight", 1))


def rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants (nginx workers of the gateway)."""
    total = 0.0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _calls(
    stack: ChaosStack, channel: grpc.aio.Channel
) -> dict[str, Callable[[], Awaitable[object]]]:
    meta = (("x-api-key", stack.token),)
    ids = itertools.cycle(customers_of(stack, 200))
    churn = churn_pb2_grpc.ChurnServiceStub(channel)
    rec = recommend_pb2_grpc.RecommendServiceStub(channel)
    contact = contact_pb2_grpc.ContactServiceStub(channel)
    gateway = gateway_pb2_grpc.GatewayServiceStub(channel)
    return {
        "Score": lambda: churn.Score(
            churn_pb2.ScoreRequest(customer_id=next(ids), include_reasons=True),
            timeout=1,
            metadata=meta,
        ),
        "Recommend": lambda: rec.Recommend(
            recommend_pb2.RecommendRequest(customer_id=next(ids), n=10), timeout=1, metadata=meta
        ),
        "NextBestContact": lambda: contact.NextBestContact(
            contact_pb2.NextBestContactRequest(customer_id=next(ids)), timeout=1, metadata=meta
        ),
        "CustomerInsight": lambda: gateway.CustomerInsight(
            gateway_pb2.CustomerInsightRequest(customer_id=next(ids)), timeout=1, metadata=meta
        ),
    }


async def _soak(stack: ChaosStack, minutes: int, rate: float, minute: float) -> bool:
    procs = {p.name: p.pid for p in stack.state.processes}
    names = list(procs)
    print(
        f"\nmixed load through the gateway at {rate:.0f} calls/s "
        f"({', '.join(f'{n} {w}' for n, w in MIX)} in 10): per minute, p50/p99 ms and "
        "resident MiB per process"
    )
    print(
        f"{'min':>3} {'errors':>6} "
        + " ".join(f"{n[:14]:>14}" for n, _ in MIX)
        + "  "
        + " ".join(f"{n[:10]:>10}" for n in names)
    )
    memory: list[dict[str, float]] = []
    failed: dict[str, int] = {}
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.port('gateway')}") as channel:
        calls = _calls(stack, channel)
        order = itertools.cycle([n for n, w in MIX for _ in range(w)])
        deadline = time.monotonic() + 30
        while True:  # the gateway loads new API keys within a second or two
            try:
                await calls["Score"]()
                break
            except grpc.aio.AioRpcError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        for m in range(1, minutes + 1):
            seen: dict[str, list[float]] = {n: [] for n, _ in MIX}

            async def mixed(seen: dict[str, list[float]] = seen) -> None:
                name = next(order)
                started = time.perf_counter()
                try:
                    await calls[name]()
                except grpc.aio.AioRpcError as err:
                    failed[err.code().name] = failed.get(err.code().name, 0) + 1
                    raise
                seen[name].append(time.perf_counter() - started)

            load = await open_loop(mixed, rate, minute, warmup=0.0)
            memory.append({n: rss_mib(pid) for n, pid in procs.items()})
            cells = []
            for n, _ in MIX:
                lat = np.asarray(seen[n]) * 1000
                cells.append(
                    f"{np.percentile(lat, 50):6.2f}/{np.percentile(lat, 99):7.2f}"
                    if lat.size
                    else f"{'-':>14}"
                )
            print(
                f"{m:>3} {load.errors:>6} "
                + " ".join(f"{c:>14}" for c in cells)
                + "  "
                + " ".join(f"{memory[-1][n]:>10.0f}" for n in names)
            )
    print(f"errors by status over the run: {failed or 'none'}")
    if len(memory) < 2:
        print("memory growth: needs at least two minutes (the first is the warm-up)")
        return True
    ok = True
    print("\nresident memory after the warm-up minute -> at the end:")
    for n in names:
        first, last = memory[0][n], memory[-1][n]
        growth = (last - first) / first if first else 0.0
        ok &= growth <= GROWTH_LIMIT
        print(f"  {n:12s} {first:8.0f} -> {last:8.0f} MiB  {growth:+6.1%}")
    print(f"growth within {GROWTH_LIMIT:.0%} for every process: {'yes' if ok else 'NO'}")
    return ok


def run_soak(
    minutes: int, rate: float = 200.0, root: Path = Path(".soak"), minute: float = 60.0
) -> int:
    print(f"== set-up in {root}")
    stack = prepare(root, 1000, lambda line: print(f"   {line}"))
    try:
        ok = asyncio.run(_soak(stack, minutes, rate, minute))
    finally:
        stack.down()
    return 0 if ok else 1
