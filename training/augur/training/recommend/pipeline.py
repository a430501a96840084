"""`augur train recommend`: evaluate on a time split, refit on all data, register, gate.

The method is judged on the last ``test_days`` of the data (trained on what
came before), against popularity, "buy again by frequency" and plain ALS on
the same customers; the served model is then refitted on all the data, so
the repeat clock knows every purchase. The current champion is judged on the
same test: its artefact directly when it was trained before the test window,
otherwise its recipe refitted on the same training window (an artefact that
has seen the test would be judged unfairly well).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm import tqdm

from augur.recommend.model import RecommendModel
from augur.training import registry
from augur.training.data.loader import Dataset, load_dataset
from augur.training.recommend.data import DAY
from augur.training.recommend.train import (
    CONFIDENCES,
    RecommendConfig,
    evaluate,
    fit,
    from_model,
    to_model,
    with_confidence,
)

KIND = "recommend"
SCORERS = ("popularity", "buy_again", "als", "repeat", "explore", "blend")
BASELINES = ("popularity", "buy_again", "als")


def _champion_ndcg(
    ds: Dataset, cutoff: float, state_dir: Path, cfg: RecommendConfig
) -> tuple[float | None, str]:
    champion = registry.champion_artefact(KIND, state_dir)
    if champion is None:
        return None, "none"
    _, path = champion
    try:
        old = RecommendModel.load(path)
    except ValueError:  # an older artefact format: judge its recipe instead
        return None, "unreadable"
    if old.trained_until <= cutoff:
        fitted, how = from_model(old), "artefact"
    else:
        fitted, how = fit(ds, cutoff, RecommendConfig.from_recipe(old.recipe)), "recipe refit"
    metrics, _ = evaluate(ds, fitted, cutoff, cfg)
    return metrics[f"blend_all_ndcg@{cfg.k}"], how


def _plots(metrics: dict[str, float], k: int, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for metric in ("ndcg", "recall"):
        fig, ax = plt.subplots(figsize=(7, 4))
        width = 0.25
        x = np.arange(len(SCORERS))
        for i, subset in enumerate(("all", "repeat", "new")):
            values = [metrics[f"{s}_{subset}_{metric}@{k}"] for s in SCORERS]
            ax.bar(x + (i - 1) * width, values, width, label=f"{subset} items")
        ax.set_xticks(x, SCORERS)
        ax.set_ylabel(f"{metric.upper()}@{k}")
        ax.set_title(f"{metric.upper()}@{k} on the test window, same customers")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = directory / f"{metric}_at_{k}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


REPEAT_SHARES = (0.5, 0.7, 0.85, 1.0)


def train_recommend(
    data: Path,
    tracking_uri: str,
    state_dir: Path,
    cfg: RecommendConfig | None = None,
    progress: bool = True,
) -> registry.TrainReport:
    """Evaluate, refit on everything, log, register; promote when the gate passes."""
    cfg = cfg if cfg is not None else RecommendConfig()
    started = time.perf_counter()
    steps = tqdm(total=4, desc="recommend", disable=not progress)
    ds = load_dataset(data, only=("orders", "interactions", "items"))  # what it reads
    data_end = ds.orders["timestamp"].max().timestamp()
    cutoff = data_end - cfg.test_days * DAY
    steps.set_postfix_str("fit up to the test window")
    fitted = fit(ds, cutoff, cfg)
    steps.update()
    steps.set_postfix_str("evaluate")
    # the shop's ALS confidence: the weighting whose explore list finds more of the items
    # customers buy for the first time in the test window
    by_confidence: dict[str, float] = {}
    fits = {cfg.confidence: fitted}
    for confidence in CONFIDENCES:
        if confidence not in fits:
            fits[confidence] = with_confidence(ds, fitted, confidence)
        m, _ = evaluate(ds, fits[confidence], cutoff, fits[confidence].cfg)
        by_confidence[confidence] = m[f"explore_new_ndcg@{cfg.k}"]
    first = cfg.confidence
    chosen = max(CONFIDENCES, key=lambda c: (by_confidence[c], c == first))
    fitted = fits[chosen]
    # the shop's balance of repeat and explore: the share of repeat slots whose blend ranks
    # best on the test window (grocery baskets want nearly all repeat, a fashion shop less)
    tried: dict[float, dict[str, float]] = {}
    base: RecommendConfig = fitted.cfg
    for share in sorted({base.repeat_share, *REPEAT_SHARES}):
        fitted.cfg = dataclasses.replace(base, repeat_share=share)
        tried[share], _ = evaluate(ds, fitted, cutoff, fitted.cfg)
    best_share = max(tried, key=lambda s: tried[s][f"blend_all_ndcg@{base.k}"])
    cfg = fitted.cfg = dataclasses.replace(base, repeat_share=best_share)
    metrics = tried[best_share]
    metrics["repeat_share"] = best_share
    for share, m in tried.items():
        metrics[f"blend_ndcg_at_share_{share:.2f}"] = m[f"blend_all_ndcg@{cfg.k}"]
    metrics["als_fit_seconds_eval"] = fitted.fit_seconds
    for confidence, value in by_confidence.items():
        metrics[f"explore_new_ndcg_{confidence}"] = value
    steps.update()
    registry.configure(tracking_uri, state_dir, "augur-recommend")
    steps.set_postfix_str("champion on the same test")
    champion, how = _champion_ndcg(ds, cutoff, state_dir, cfg)
    if champion is not None:
        metrics["champion_ndcg_same_test"] = champion
    steps.update()
    steps.set_postfix_str("refit on all data")
    final = fit(ds, data_end, cfg)
    metrics["als_fit_seconds"] = final.fit_seconds
    # the repeat order served is the one chosen on the final fit's own validation window
    metrics.update(final.order.metrics)
    metrics["repeat_order_ranker"] = float(final.order.order == "ranker")
    metrics["repeat_order_frequency"] = float(final.order.order == "frequency")
    metrics.update(final.blend.metrics)
    metrics["blend_learnt"] = float(bool(final.blend.ranker))
    metrics.update(final.calibration_metrics)  # AnticipateNext on the last validation window
    steps.update()
    steps.close()
    ndcg = f"ndcg@{cfg.k}"
    best = max(BASELINES, key=lambda b: metrics[f"{b}_all_{ndcg}"])
    model = to_model(final)
    return registry.publish(
        registry.Candidate(
            kind=KIND,
            gate_metric=f"blend {ndcg}",
            value=metrics[f"blend_all_{ndcg}"],
            baseline=metrics[f"{best}_all_{ndcg}"],
            champion=champion,
            tolerance=cfg.gate_tolerance_ndcg,
            params={
                **{k: v for k, v in asdict(cfg).items() if k != "weights"},
                **{f"weight_{k}": v for k, v in asdict(cfg.weights).items()},
                "test_cutoff": str(pd.Timestamp(cutoff, unit="s", tz="UTC").date()),
                "trained_until": str(pd.Timestamp(data_end, unit="s", tz="UTC")),
                "champion_judged_by": how,
                "strongest_baseline": best,
            },
            metrics=metrics,
            tags=registry.data_tags(data),
            rows={
                "users": len(final.matrix_users),
                "items": len(final.items),
                "interactions": int(final.weighted.nnz),
                "test_customers": int(metrics["blend_all_users"]),
            },
            pyfunc=Path(__file__).with_name("pyfunc.py"),
            save=model.save,
            plots=lambda directory: _plots(metrics, cfg.k, directory),
            example=pd.DataFrame({"customer_id": model.users[:2].tolist(), "n": [5, 5]}),
            output=pd.DataFrame(
                {
                    "customer_id": ["c"],
                    "rank": [1],
                    "item_id": ["i"],
                    "source": ["s"],
                    "reason": ["r"],
                }
            ),
        ),
        started,
    )
