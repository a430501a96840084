"""Runs inside the benchmark's own Feast environment (never imported by Augur): registers the
bench features as a Feast feature view over a parquet file, materialises them into the given
Redis, then times Feast's Python online read of one customer's features, closed loop.

    python feast_probe.py REPO PARQUET REDIS_HOST:PORT CALLS

prints one JSON line: {"p50_ms", "p90_ms", "p99_ms", "max_ms", "rps", "features", "customers"}.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Float64


def main(repo: Path, parquet: Path, redis: str, calls: int) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        "project: augur_bench\n"
        f"registry: {repo / 'registry.db'}\n"
        "provider: local\n"
        "online_store:\n  type: redis\n"
        f'  connection_string: "{redis}"\n'
        "entity_key_serialization_version: 3\n"
    )
    frame = pd.read_parquet(parquet)
    names = [c for c in frame.columns if c not in ("customer_id", "event_timestamp")]
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)
    view = FeatureView(
        name="customer_features",
        entities=[customer],
        ttl=timedelta(days=3650),
        schema=[Field(name=n, dtype=Float64) for n in names],
        source=FileSource(path=str(parquet), timestamp_field="event_timestamp"),
        online=True,
    )
    store = FeatureStore(repo_path=str(repo))
    store.apply([customer, view])
    end = frame["event_timestamp"].max().to_pydatetime() + timedelta(seconds=1)
    store.materialize(end - timedelta(days=3650), end)
    refs = [f"customer_features:{n}" for n in names]
    ids = frame["customer_id"].tolist()
    got = store.get_online_features(features=refs, entity_rows=[{"customer_id": ids[0]}])
    values = got.to_dict()
    assert values[names[0]][0] is not None, "Feast read nothing back"
    for _ in range(200):
        store.get_online_features(
            features=refs, entity_rows=[{"customer_id": random.choice(ids)}]
        ).to_dict()
    latencies = []
    started = time.perf_counter()
    for _ in range(calls):
        t = time.perf_counter()
        store.get_online_features(
            features=refs, entity_rows=[{"customer_id": random.choice(ids)}]
        ).to_dict()
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000
    print(
        json.dumps(
            {
                "p50_ms": float(np.percentile(ms, 50)),
                "p90_ms": float(np.percentile(ms, 90)),
                "p99_ms": float(np.percentile(ms, 99)),
                "max_ms": float(ms.max()),
                "rps": calls / elapsed,
                "features": len(names),
                "customers": len(ids),
            }
        )
    )
    store.teardown()  # its keys leave the shared Redis


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
