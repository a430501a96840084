"""Churn evaluation: discrimination, calibration, top-of-list quality, plots."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from augur.training.reliability import expected_calibration_error


def top_share(y: np.ndarray, score: np.ndarray, share: float) -> tuple[float, float, float]:
    """(precision, recall, lift) of the top ``share`` of customers by score."""
    n = max(1, round(len(y) * share))
    top = np.argsort(-score, kind="stable")[:n]
    precision = float(y[top].mean())
    recall = float(y[top].sum() / max(y.sum(), 1))
    base = float(y.mean()) or 1e-12
    return precision, recall, precision / base


def churn_metrics(y: np.ndarray, score: np.ndarray, probability: bool = True) -> dict[str, float]:
    """Every metric of the churn issue; calibration metrics only for probabilities."""
    y = np.asarray(y, dtype=float)
    out = {
        "roc_auc": float(roc_auc_score(y, score)),
        "pr_auc": float(average_precision_score(y, score)),
    }
    if probability:
        out["brier"] = float(brier_score_loss(y, np.clip(score, 0, 1)))
        out["ece"] = expected_calibration_error(y, np.clip(score, 0, 1))
    for share in (0.05, 0.10, 0.20):
        p, r, lift = top_share(y, score, share)
        tag = f"top{int(share * 100)}"
        out[f"precision_{tag}"], out[f"recall_{tag}"], out[f"lift_{tag}"] = p, r, lift
    return out


def plot_all(
    y: np.ndarray, scores: dict[str, np.ndarray], calibrated: np.ndarray, directory: Path
) -> list[Path]:
    """ROC, PR, calibration and lift plots (model vs baselines) as PNG files."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, s):.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right", fontsize=8)
    paths.append(_save(fig, directory / "roc.png"))

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, s in scores.items():
        prec, rec, _ = precision_recall_curve(y, s)
        ax.plot(rec, prec, label=f"{name} (AP {average_precision_score(y, s):.3f})")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    ax.legend(loc="lower left", fontsize=8)
    paths.append(_save(fig, directory / "pr.png"))

    fig, ax = plt.subplots(figsize=(5, 5))
    edges = np.linspace(0, 1, 11)
    idx = np.clip(np.digitize(calibrated, edges[1:-1]), 0, 9)
    xs = [calibrated[idx == b].mean() for b in range(10) if (idx == b).any()]
    ys = [y[idx == b].mean() for b in range(10) if (idx == b).any()]
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.plot(xs, ys, "o-", label="model (calibrated)")
    ax.set(xlabel="predicted probability", ylabel="observed churn rate", title="Calibration")
    ax.legend(loc="upper left", fontsize=8)
    paths.append(_save(fig, directory / "calibration.png"))

    fig, ax = plt.subplots(figsize=(5, 5))
    shares = np.linspace(0.01, 1, 100)
    for name, s in scores.items():
        ax.plot(shares, [top_share(y, s, q)[2] for q in shares], label=name)
    ax.axhline(1, color="k", ls=":", lw=1)
    ax.set(xlabel="share of customers contacted (by score)", ylabel="lift", title="Lift")
    ax.legend(loc="upper right", fontsize=8)
    paths.append(_save(fig, directory / "lift.png"))
    return paths


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
