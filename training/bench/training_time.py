"""`make bench` scenario ``training``: ``augur retrain --all`` on the bench shop (its own
MLflow store, so the stack's champions stay), each model's seconds and test-split quality."""

from __future__ import annotations

import shutil
from pathlib import Path

from training.bench.harness import Result
from training.retrain import retrain_all

QUALITY = ("roc_auc", "pr_auc", "brier", "ndcg", "recall", "auc")


def training(data: Path, root: Path, customers: int, results: list[Result]) -> None:
    work = root / "training"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    summary = retrain_all(
        data, f"sqlite:///{work / 'mlflow.db'}", work, None, progress=False, say=lambda _: None
    )
    for step in summary.steps:
        r = step.report
        if r is None:
            results.append(Result(f"train {step.kind}", 0, 0, 0, 0, 0, 1, step.error))
            continue
        quality = {
            k: v for k, v in r.metrics.items() if any(q in k for q in QUALITY) and "_ci" not in k
        }
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(quality.items())[:8])
        results.append(
            Result.from_latencies(
                f"train {step.kind} ({customers:,} customers)",
                [r.seconds],
                0,
                0.0,
                note=f"seconds {r.seconds:.1f}; champion {'yes' if r.promoted else 'no'}; {shown}",
            )
        )
    results.append(
        Result.from_latencies(
            "retrain --all",
            [summary.seconds],
            0,
            0.0,
            note=f"seconds {summary.seconds:.1f}; peak memory {summary.peak_rss_mib:,.0f} MiB",
        )
    )
