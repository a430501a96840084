"""`augur retrain --all`: data -> features -> train -> evaluate -> gate -> promote for the three
models, then the at-risk snapshot and a drift report, with a summary.

Each trainer validates the data, computes its batch features as of its own cutoffs, trains,
evaluates against its baselines, logs to MLflow and promotes only through its quality gate;
a failed model does not stop the others (it is reported, and the command exits 1). Running
services pick up a promoted model by themselves (they watch the ``champion`` alias).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from augur.churn.model import ChurnModel
from augur.churn.snapshot import RedisSnapshots
from augur.features.definitions import FEATURE_NAMES
from augur.features.store import RedisFeatureStore
from augur.training import registry
from augur.training.data.loader import DataError
from augur.training.drift import DriftReport, drift_report, log_drift, publish
from augur.training.offline.stream import compute_features

KINDS = ("churn", "recommend", "contact")


@dataclass
class Step:
    kind: str
    report: registry.TrainReport | None = None
    error: str = ""


@dataclass
class RetrainSummary:
    steps: list[Step] = field(default_factory=list)
    snapshot: tuple[str, int] | None = None
    drift: DriftReport | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    peak_rss_mib: float = 0.0

    @property
    def ok(self) -> bool:
        return all(not s.error for s in self.steps)


def _trainer(kind: str) -> Callable[..., registry.TrainReport]:
    if kind == "churn":
        from augur.training.churn.train import train_churn

        return train_churn
    if kind == "recommend":
        from augur.training.recommend.pipeline import train_recommend

        return train_recommend
    from augur.training.contact.pipeline import train_contact

    return train_contact


def peak_rss_mib() -> float:
    """Largest resident set of this process and of its finished children (MiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def retrain_all(
    data: Path,
    tracking_uri: str,
    state_dir: Path,
    store: RedisFeatureStore | None,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> RetrainSummary:
    started = time.perf_counter()
    summary = RetrainSummary()
    for kind in KINDS:
        say(f"== {kind}: train, evaluate, gate")
        step = Step(kind)
        try:
            step.report = _trainer(kind)(data, tracking_uri, state_dir, progress=progress)
        except DataError:
            raise
        except Exception as exc:  # one model failing leaves the others to run
            step.error = f"{type(exc).__name__}: {exc}"[:300]
        summary.steps.append(step)
    churn = summary.steps[0].report
    if store is None:
        summary.notes.append("no Redis: at-risk snapshot and drift skipped")
    elif churn is not None:
        say("== at-risk snapshot and drift (training vs serving)")
        scored = score_all(tracking_uri, state_dir, store)
        if scored is not None:
            model, version, summary.snapshot = scored
            summary.drift = _drift(data, store, model, version, summary)
    summary.seconds = time.perf_counter() - started
    summary.peak_rss_mib = peak_rss_mib()
    return summary


def score_all(
    tracking_uri: str, state_dir: Path, store: RedisFeatureStore
) -> tuple[ChurnModel, str, tuple[str, int]] | None:
    """The churn champion scores every online customer into a new at-risk snapshot:
    (model, version, (snapshot id, customers)), or None without a champion."""
    registry.configure(tracking_uri, state_dir, "augur-churn")
    champion = registry.champion_artefact("churn", state_dir)
    if champion is None:
        return None
    version, path = champion
    model, name = ChurnModel.load(path), registry.model_name("churn")
    return model, version, RedisSnapshots(store.client, store.keys).publish(model, name, version)


def _drift(
    data: Path, store: RedisFeatureStore, model: ChurnModel, version: str, summary: RetrainSummary
) -> DriftReport | None:
    ids = [
        store.keys.customer_of(k.decode())
        for k in store.client.scan_iter(match=store.keys.features_pattern(), count=5000)
    ]
    if not ids:
        summary.notes.append("no online features in Redis: drift skipped")
        return None
    _, current, _ = store.get_matrix(ids)
    reference = compute_features(data).values  # streamed, as of the last order
    report = drift_report(
        np.asarray(reference, dtype=float),
        np.asarray(current, dtype=float),
        list(FEATURE_NAMES),
        model,
    )
    log_drift(report, version)
    publish(store.client, store.keys, report)
    return report


def print_summary(summary: RetrainSummary) -> None:
    print(f"\n{'model':10s} {'version':>7s} {'champion':>9s} {'seconds':>8s}  gate")
    for step in summary.steps:
        r = step.report
        if r is None:
            print(f"{step.kind:10s} {'-':>7s} {'-':>9s} {'-':>8s}  FAILED: {step.error}")
            continue
        promoted = "yes" if r.promoted else "no"
        print(f"{step.kind:10s} {r.version:>7s} {promoted:>9s} {r.seconds:8.1f}  {r.gate_reason}")
    churn = summary.steps[0].report if summary.steps else None
    if churn is not None and "events" in churn.rows:
        seconds = churn.metrics.get("feature_stream_seconds", float("nan"))
        print(
            f"churn features streamed over {churn.rows['events']:,} events in {seconds:.1f} s "
            "(all cutoffs in one pass)"
        )
    if summary.snapshot:
        print(f"at-risk snapshot {summary.snapshot[0]}: {summary.snapshot[1]:,} customers scored")
    if summary.drift:
        d = summary.drift
        large = ", ".join(f"{f} {d.features[f]:.2f}" for f in d.large[:5]) or "none"
        print(
            f"drift (PSI, training vs serving, {d.customers_current:,} online customers): "
            f"score {d.score:.3f}; features above 0.25: {large}"
        )
    for note in summary.notes:
        print(f"note: {note}")
    print(f"total {summary.seconds:.1f} s, peak resident memory {summary.peak_rss_mib:,.0f} MiB")
