"""The churn protocols: Augur's own path (train on the orders before the cutoff, materialise
the features as of the cutoff into Redis, score every customer through the running churn
service's ScoreBatch) against the baselines, on the customers with an order before the cutoff,
labelled churned when they order nothing in [cutoff, cutoff + H)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import pandas as pd

from augur.churn.main import build_spec
from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.common.settings import ChurnSettings
from augur.devtools.evaluation import baselines
from augur.devtools.evaluation.datasets import Shop
from augur.devtools.evaluation.served import running, serve_anyway, workspace
from augur.training.churn.evaluate import churn_metrics
from augur.training.churn.train import ChurnConfig, train_churn

DAY = pd.Timedelta(days=1)
BATCH = 10_000


@dataclass(frozen=True)
class Protocol:
    shop: str
    cutoff: str
    horizon_days: int

    @property
    def name(self) -> str:
        return f"{self.shop} {self.cutoff} H={self.horizon_days}"


PROTOCOLS = (
    Protocol("complete-journey", "2017-10-01", 30),
    Protocol("complete-journey", "2017-10-01", 91),
    Protocol("complete-journey", "2017-07-01", 30),
    Protocol("complete-journey", "2017-08-01", 30),
    Protocol("complete-journey", "2017-09-01", 30),
    Protocol("cdnow", "1998-01-01", 90),
    Protocol("cdnow", "1998-01-01", 180),
)
MEAN_OF = ("2017-07-01", "2017-08-01", "2017-09-01", "2017-10-01")  # complete-journey, H=30


@dataclass
class Outcome:
    """One protocol's figures: per scorer, the metrics on the same customers and labels."""

    protocol: Protocol
    customers: int
    churn_rate: float
    scores: dict[str, dict[str, float]]
    trees: int
    gate: str
    promoted: bool
    seconds: float
    notes: list[str] = field(default_factory=list)
    training: dict[str, float] = field(default_factory=dict)
    """The training report's own figures (its test cutoff lies inside the training data)."""
    reasons: dict[str, float] = field(default_factory=dict)
    """How the served reasons read (``read_reasons``)."""


def metrics(y: np.ndarray, score: np.ndarray, probability: bool) -> dict[str, float]:
    out = churn_metrics(y, score, probability)
    out["levels"] = float(len(np.unique(np.round(score, 6))))
    return out


REASONS = 5
SILENT_DAYS = 90.0
RECENCY_REASONS = {"days_since_last_order", "order_overdue_ratio", "orders_hl7", "orders_hl30"}


@dataclass
class Served:
    probability: float
    reasons: list[tuple[str, float, str]]  # (feature, contribution, text)


async def score_through_service(
    channel: grpc.aio.Channel, customers: list[str]
) -> dict[str, Served]:
    """Scores and top reasons from the running churn service, by ScoreBatch."""
    stub = churn_pb2_grpc.ChurnServiceStub(channel)
    out: dict[str, Served] = {}
    for start in range(0, len(customers), BATCH):
        request = churn_pb2.ScoreBatchRequest(
            customer_ids=customers[start : start + BATCH],
            include_reasons=True,
            max_reasons=REASONS,
        )
        async for chunk in stub.ScoreBatch(request, timeout=300):
            for item in chunk.items:
                if item.HasField("score"):
                    out[item.customer_id] = Served(
                        item.score.probability,
                        [(r.feature, r.contribution, r.text) for r in item.score.reasons],
                    )
    return out


async def run(shop: Shop, protocol: Protocol, work: Path, redis_url: str) -> Outcome:
    began = time.perf_counter()
    cutoff = pd.Timestamp(protocol.cutoff, tz="UTC")
    H = protocol.horizon_days
    ws = workspace(shop, work / f"{protocol.shop}-{protocol.cutoff}-H{H}", cutoff)
    report = train_churn(
        ws.data, ws.tracking_uri, ws.state, ChurnConfig(horizon_days=H), progress=False
    )
    serve_anyway("churn", report)
    past = baselines.baskets(shop.orders[shop.orders["timestamp"] < cutoff])
    features = baselines.rfm(past, cutoff)
    customers = features.index
    async with running(ChurnSettings, build_spec, ws, redis_url, cutoff) as channel:
        served = await score_through_service(channel, list(customers))
    later = shop.orders[
        (shop.orders["timestamp"] >= cutoff) & (shop.orders["timestamp"] < cutoff + H * DAY)
    ]
    y = ~customers.isin(later["customer_id"].unique())
    missing = [c for c in customers if c not in served]
    notes = [f"{len(missing)} customers not scored by the service"] if missing else []
    augur = np.array([served[c].probability if c in served else np.nan for c in customers])
    reading = read_reasons(served, features)
    gbm, gbm_trees = baselines.lightgbm_rfm(past, cutoff, H, customers)
    scored = ~np.isnan(augur)
    y_s = y[scored]
    scores = {
        "Augur": metrics(y_s, augur[scored], True),
        "recency": metrics(y_s, baselines.recency(features)[scored], False),
        "-frequency": metrics(y_s, baselines.minus_frequency(features)[scored], False),
        "BG/NBD -E[purchases]": metrics(y_s, baselines.bg_nbd(features, H)[scored], False),
        "LightGBM on RFM": metrics(y_s, gbm[scored], True),
    }
    scores["LightGBM on RFM"]["trees"] = float(gbm_trees)
    return Outcome(
        protocol,
        int(scored.sum()),
        float(y_s.mean()),
        scores,
        int(report.metrics.get("trees", 0)),
        report.gate_reason,
        report.promoted,
        time.perf_counter() - began,
        notes,
        report.metrics,
        reading,
    )


def read_reasons(served: dict[str, Served], features: pd.DataFrame) -> dict[str, float]:
    """How the served reasons read over every customer: missing-value texts, unclean numbers,
    and whether a customer silent for long (>= 90 days and >= 3x their usual gap, or a
    one-time buyer) is told so among the risk-raising reasons."""
    texts = [t for s in served.values() for _, _, t in s.reasons]
    gap = features["mean_gap_days"].fillna(np.inf).clip(lower=1.0)
    silent = features.index[
        (features["recency_days"] >= SILENT_DAYS)
        & ((features["recency_days"] >= 3 * gap) | (features["orders"] == 1))
    ]
    told = [
        any(f in RECENCY_REASONS and c > 0 for f, c, _ in served[c_id].reasons)
        for c_id in silent
        if c_id in served
    ]
    return {
        "reasons": float(len(texts)),
        "no_data": float(sum(t.startswith("No data") for t in texts)),
        "minus_zero": float(sum("-0 " in t or t.endswith("-0") or "-0." in t for t in texts)),
        "silent": float(len(told)),
        "silent_told": float(sum(told)),
    }
