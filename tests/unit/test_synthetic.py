"""The generator is deterministic and plants what it says it plants."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from augur.training.data.synthetic import SyntheticConfig, generate


def digest(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*.csv"))
    }


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    cfg = SyntheticConfig(customers=150, items=60, days=120, seed=3)
    generate(tmp_path / "a", cfg)
    generate(tmp_path / "b", cfg)
    generate(tmp_path / "c", SyntheticConfig(customers=150, items=60, days=120, seed=4))
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")["orders.csv"] != digest(tmp_path / "c")["orders.csv"]


def test_chunking_keeps_memory_bounded_and_ids_unique(tmp_path: Path) -> None:
    summary = generate(tmp_path, SyntheticConfig(customers=250, items=60, days=90, chunk=100))
    customers = pd.read_csv(tmp_path / "customers.csv")
    assert len(customers) == 250 and customers["customer_id"].is_unique
    assert summary.rows["customers"] == 250 and summary.events > 10_000


def test_truth_is_written_and_churn_is_driven_by_signals(small_data: Path) -> None:
    truth = pd.read_csv(small_data / "truth" / "customers.csv")
    churned = truth["disengage_at"].notna()
    assert 0.1 < churned.mean() < 0.7
    # return-prone customers (service problems) churn more often
    prone = truth["return_prone"]
    assert churned[prone].mean() > churned[~prone].mean()
    staples = pd.read_csv(small_data / "truth" / "staples.csv")
    assert (staples["cycle_days"] > 3).all()
