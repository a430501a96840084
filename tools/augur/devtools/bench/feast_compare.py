"""`make bench` scenario ``feast``: the same features of the same customers read online by
Feast's Python SDK from the same Redis server, against Augur's read (in-process and over
gRPC, measured by the ``feature_read_*`` scenarios of the same run).

Feast lives only in the benchmark's own environment (``.bench/feast-venv``, pinned version,
created on first use); Augur never imports it. ``feast_probe.py`` runs there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from augur.devtools.bench.harness import Result
from augur.features.definitions import FEATURE_NAMES

FEAST = "feast[redis]==0.67.0"
CALLS = 5000


def _venv(root: Path) -> Path:
    venv = root / "feast-venv"
    python = venv / "bin" / "python"
    stamp = venv / f".installed-{FEAST}"
    if not stamp.exists():
        print(f"installing {FEAST} into {venv} (the benchmark's own environment; once)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", FEAST, "pyarrow", "numpy"], check=True
        )
        stamp.touch()
    return python


def versus_feast(
    root: Path, redis_url: str, ids: list[str], values: np.ndarray, as_of: float
) -> Result:
    python = _venv(root)
    work = root / "feast"
    work.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(values.astype("float64"), columns=list(FEATURE_NAMES))
    frame.insert(0, "customer_id", ids)
    frame["event_timestamp"] = pd.Timestamp(as_of, unit="s", tz="UTC")
    parquet = work / "features.parquet"
    frame.to_parquet(parquet, index=False)
    host = redis_url.split("://", 1)[1].split("/", 1)[0]
    probe = Path(__file__).with_name("feast_probe.py")
    out = subprocess.run(
        [str(python), str(probe), str(work / "repo"), str(parquet), host, str(CALLS)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-5:]
        return Result("feast online read (not measured)", 0, 0, 0, 0, 0, 1, " | ".join(tail))
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    return Result(
        f"feast get_online_features ({doc['features']} features)",
        round(doc["p50_ms"], 4),
        round(doc["p90_ms"], 4),
        round(doc["p99_ms"], 4),
        round(doc["max_ms"], 4),
        round(doc["rps"], 1),
        0,
        f"Feast's Python SDK, one customer per call, closed loop, same Redis; "
        f"{doc['customers']:,} customers materialised",
    )
