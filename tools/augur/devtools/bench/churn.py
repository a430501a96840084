"""Churn scenarios of `make bench`: Score (with and without reasons), ScoreBatch, and the
same registered model behind `mlflow models serve` answering the same one-customer request."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import grpc
import numpy as np

from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.common.v1 import common_pb2, common_pb2_grpc
from augur.devtools.bench.harness import Result, channels, closed_loop, open_loop
from augur.devtools.runtime import StackState, free_port
from augur.features.definitions import FEATURE_NAMES
from augur.features.store import RedisFeatureStore


async def direct(state: StackState, ids: list[str], duration: float, results: list[Result]) -> None:
    # two connections, round robin: the churn service's processes share the port
    # (SO_REUSEPORT balances connections, not calls), and echo goes the same way
    conns = channels(state.port_of("churn"), 2)
    echoes = itertools.cycle([common_pb2_grpc.DiagnosticsServiceStub(c) for c in conns])
    stubs = itertools.cycle([churn_pb2_grpc.ChurnServiceStub(c) for c in conns])
    stub = next(stubs)
    ping = common_pb2.EchoRequest(payload=b"x" * 64)
    try:
        for _ in range(300):
            await next(stubs).Score(
                churn_pb2.ScoreRequest(customer_id=random.choice(ids)), timeout=2
            )
        for rate in (500, 1000):  # below and at the target rate: where the knee is
            load = await open_loop(lambda: next(echoes).Echo(ping, timeout=2), rate, duration)
            results.append(load.result(f"churn echo (floor) @{rate}/s"))
            load = await open_loop(
                lambda: next(stubs).Score(
                    churn_pb2.ScoreRequest(customer_id=random.choice(ids)), timeout=2
                ),
                rate,
                duration,
            )
            results.append(load.result(f"Score @{rate}/s"))
            load = await open_loop(
                lambda: next(stubs).Score(
                    churn_pb2.ScoreRequest(customer_id=random.choice(ids), include_reasons=True),
                    timeout=2,
                ),
                rate,
                duration,
            )
            results.append(load.result(f"Score + 3 reasons @{rate}/s"))
        latencies, count = [], 0
        for _ in range(5):
            batch = random.sample(ids, min(10_000, len(ids)))
            started = time.perf_counter()
            async for chunk in stub.ScoreBatch(
                churn_pb2.ScoreBatchRequest(customer_ids=batch), timeout=60
            ):
                count += len(chunk.items)
            latencies.append(time.perf_counter() - started)
        results.append(
            Result.from_latencies(
                "ScoreBatch 10,000 ids",
                latencies,
                0,
                count / sum(latencies),
                note="rate = customers/s; latency per call",
            )
        )
    finally:
        for channel in conns:
            await channel.close()


def versus_mlflow_serve(
    state: StackState,
    store: RedisFeatureStore,
    ids: list[str],
    results: list[Result],
    calls: int = 400,
) -> None:
    """Same model, same one-customer question, same closed-loop client style."""
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": state.mlflow_tracking_uri,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
    }
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    log = Path(state.mlflow_tracking_uri.removeprefix("sqlite:///")).parent / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                mlflow_bin,
                "models",
                "serve",
                "-m",
                "models:/augur-churn@champion",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        deadline = time.monotonic() + 180
        while True:
            try:
                conn.request("GET", "/ping")
                if conn.getresponse().read() is not None:
                    break
            except OSError:
                conn.close()
                if time.monotonic() > deadline or proc.poll() is not None:
                    results.append(
                        Result.from_latencies(
                            "mlflow models serve (did not start)", [], 1, 0.0, note=str(log)
                        )
                    )
                    return
                time.sleep(0.5)
        customer = ids[0]
        vector = store.get(customer)
        assert vector is not None
        row = [None if np.isnan(v) else float(v) for v in vector.values]
        body = json.dumps({"dataframe_split": {"columns": list(FEATURE_NAMES), "data": [row]}})
        headers = {"Content-Type": "application/json"}

        def mlflow_call() -> None:
            conn.request("POST", "/invocations", body, headers)
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                raise RuntimeError(payload[:200])

        lat, rps = closed_loop(mlflow_call, calls, warmup=50)
        results.append(
            Result.from_latencies(
                "mlflow models serve /invocations",
                lat,
                0,
                rps,
                note="same model via pyfunc; features sent in the request; closed loop",
            )
        )
        with grpc.insecure_channel(f"127.0.0.1:{state.port_of('churn')}") as channel:
            stub = churn_pb2_grpc.ChurnServiceStub(channel)
            request = churn_pb2.ScoreRequest(customer_id=customer)
            lat, rps = closed_loop(lambda: stub.Score(request, timeout=5), calls, warmup=50)
        results.append(
            Result.from_latencies(
                "Score (same question, closed loop)",
                lat,
                0,
                rps,
                note="includes the Redis feature read",
            )
        )
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
