"""`make bench` scenario ``training``: ``augur retrain --all`` on the bench shop (its own
MLflow store, so the stack's champions stay), each model's seconds and test-split quality."""

from __future__ import annotations

import shutil
from pathlib import Path

from augur.devtools.bench.harness import Result
from augur.training.retrain import retrain_all

# each model's test-split quality and the baselines it is judged against
QUALITY = {
    "churn": (
        "model_roc_auc",
        "recency_roc_auc",
        "bgnbd_roc_auc",
        "model_pr_auc",
        "model_brier",
        "model_ece",
        "model_lift_top10",
    ),
    "recommend": (
        "blend_all_ndcg@10",
        "als_all_ndcg@10",
        "buy_again_all_ndcg@10",
        "popular_all_ndcg@10",
        "blend_new_recall@10",
    ),
    "contact": ("auc", "auc_baseline_channel_rate", "auc_baseline_global_slot", "policy_model"),
}


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
        wanted = QUALITY.get(step.kind, ())
        shown = ", ".join(f"{k} {r.metrics[k]:.4f}" for k in wanted if k in r.metrics)
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
