"""Open-loop load generation and latency statistics.

Requests are scheduled at a fixed rate whatever the server does: a slow
answer never delays the next request (no coordinated omission). Latency is
measured from the moment a request is dispatched; asyncio's timers wake up
to ~1 ms late (epoll's millisecond resolution), and that client-side lag is
reported separately (``lag_p99_ms`` in the note) rather than charged to the
server.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
import numpy as np


@dataclass
class Result:
    """One scenario's figures; the shape written to .bench/results.json."""

    scenario: str
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    rps: float
    errors: int
    note: str = ""

    @classmethod
    def from_latencies(
        cls,
        scenario: str,
        latencies_s: list[float] | np.ndarray,
        errors: int,
        rps: float,
        note: str = "",
    ) -> Result:
        lat = np.asarray(latencies_s, dtype=float) * 1000
        if lat.size == 0:
            lat = np.array([np.nan])
        p50, p90, p99 = (round(float(np.percentile(lat, q)), 4) for q in (50, 90, 99))
        return cls(
            scenario,
            p50,
            p90,
            p99,
            round(float(np.max(lat)), 4),
            round(rps, 1),
            errors,
            note,
        )


@dataclass
class Load:
    """Raw outcome of an open-loop run."""

    latencies: list[float]
    errors: int
    rps: float
    lag_p99_ms: float

    def result(self, scenario: str, scale: float = 1.0, note: str = "") -> Result:
        lag = f"client lag p99 {self.lag_p99_ms:.2f} ms"
        return Result.from_latencies(
            scenario,
            self.latencies,
            self.errors,
            self.rps * scale,
            f"{note}; {lag}" if note else lag,
        )


async def open_loop(
    call: Callable[[], Awaitable[object]],
    rate: float,
    duration: float,
    max_in_flight: int = 512,
    warmup: float = 0.5,
) -> Load:
    """Fire ``call`` at ``rate``/s for ``duration`` s after a warm-up."""
    latencies: list[float] = []
    errors = 0
    in_flight: set[asyncio.Task[None]] = set()
    interval = 1.0 / rate
    loop = asyncio.get_running_loop()
    begin = loop.time()
    measure_from = begin + warmup
    end = measure_from + duration
    completed = 0

    lags: list[float] = []

    async def one(scheduled: float) -> None:
        nonlocal errors, completed
        dispatched = loop.time()
        try:
            await call()
            ok = True
        except Exception:
            ok = False
        if scheduled >= measure_from:
            completed += 1
            lags.append(dispatched - scheduled)
            if ok:
                latencies.append(loop.time() - dispatched)
            else:
                errors += 1

    n = 0
    while True:
        scheduled = begin + n * interval
        if scheduled >= end:
            break
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= max_in_flight:
            errors += 1  # the client cannot keep more requests open: counted as a failure
        else:
            task = asyncio.ensure_future(one(scheduled))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        n += 1
    if in_flight:
        await asyncio.wait(in_flight, timeout=30)
    elapsed = loop.time() - measure_from
    lag = float(np.percentile(lags, 99) * 1000) if lags else 0.0
    return Load(latencies, errors, completed / elapsed, lag)


def closed_loop(
    fn: Callable[[], object], count: int, warmup: int = 500
) -> tuple[list[float], float]:
    """Call ``fn`` back to back in this thread; (latencies, calls per second)."""
    for _ in range(warmup):
        fn()
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        t = time.perf_counter()
        fn()
        latencies.append(time.perf_counter() - t)
    return latencies, count / (time.perf_counter() - started)


def print_table(results: list[Result]) -> None:
    print(
        f"\n{'scenario':34s} {'p50 ms':>9s} {'p90 ms':>9s} {'p99 ms':>9s} {'max ms':>9s} "
        f"{'rate/s':>10s} {'errors':>7s}"
    )
    for r in results:
        print(
            f"{r.scenario:34s} {r.p50_ms:9.3f} {r.p90_ms:9.3f} {r.p99_ms:9.3f} {r.max_ms:9.3f} "
            f"{r.rps:10.1f} {r.errors:7d}  {r.note}"
        )


def write_results(results: list[Result], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")


async def saturate(
    call: Callable[[], Awaitable[object]], concurrency: int, duration: float, warmup: float = 0.5
) -> Load:
    """``concurrency`` callers back to back for ``duration`` s: the most the target serves."""
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + warmup
    end = measure_from + duration
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while True:
            started = loop.time()
            if started >= end:
                return
            try:
                await call()
                ok = True
            except Exception:
                ok = False
            if started >= measure_from:
                if ok:
                    latencies.append(loop.time() - started)
                else:
                    errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    done = len(latencies) + errors
    return Load(latencies, errors, done / duration, 0.0)


def channels(port: int, count: int = 2) -> list[grpc.aio.Channel]:
    """``count`` separate HTTP/2 connections to one port (a distinct channel argument each,
    so gRPC does not share one): a service running several processes on the port
    (SO_REUSEPORT) gets work on each of them."""
    return [
        grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("augur.connection", i)])
        for i in range(count)
    ]


P99_LIMIT_MS = 10.0


async def capacity(
    call: Callable[[], Awaitable[object]],
    start: float = 250,
    ceiling: float = 8000,
    duration: float = 2.0,
    p99_limit_ms: float = P99_LIMIT_MS,
) -> tuple[float, Load | None]:
    """The highest open-loop rate at which ``call`` keeps p99 within the limit with no error
    and the client keeps up: the rate doubles from ``start`` until a step fails, then the
    midpoint between the last good and the first failed step is tried once.
    (0, None) when even ``start`` fails."""

    def holds(load: Load, rate: float) -> bool:
        if load.errors or not load.latencies:
            return False
        p99 = float(np.percentile(load.latencies, 99)) * 1000
        return p99 <= p99_limit_ms and load.rps >= 0.95 * rate

    best: tuple[float, Load | None] = (0.0, None)
    rate = start
    failed = 0.0
    while rate <= ceiling:
        load = await open_loop(call, rate, duration)
        if not holds(load, rate):
            failed = rate
            break
        best = (rate, load)
        rate *= 2
    if failed and best[0]:
        middle = (best[0] + failed) / 2
        load = await open_loop(call, middle, duration)
        if holds(load, middle):
            best = (middle, load)
    return best
