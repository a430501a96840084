"""The recommendation protocol: Augur's own path (train on the orders before the cutoff,
materialise as of it, ask the running recommendation service's BatchRecommend for every
customer) against popularity, buy-again and ALS, on what each household buys in the next 30
days: overall, on items they bought before (repeat) and on items they never bought (new)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import scipy.sparse as sp
from google.protobuf.timestamp_pb2 import Timestamp
from implicit.als import AlternatingLeastSquares

from augur.common.settings import RecommendSettings
from augur.devtools.evaluation.datasets import Shop
from augur.devtools.evaluation.served import running, serve_anyway, workspace
from augur.recommend.main import build_spec
from augur.recommend.model import FILE
from augur.recommend.v1 import recommend_pb2, recommend_pb2_grpc
from augur.training import registry
from augur.training.recommend.evaluate import coverage, ranking_metrics
from augur.training.recommend.pipeline import train_recommend
from augur.training.recommend.report import blend_line
from augur.training.reliability import Bin, expected_calibration_error, reliability_by_decile

K = 10
BATCH = 10_000
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class RecProtocol:
    shop: str
    cutoff: str
    window_days: int
    explore_only: bool = False  # nothing is bought twice (ratings): new items only

    @property
    def name(self) -> str:
        return f"{self.shop} {self.cutoff} next {self.window_days} days"


REC_PROTOCOLS = (
    RecProtocol("complete-journey", "2017-10-01", 30),
    RecProtocol("movielens-100k", "1998-01-01", 90, explore_only=True),
)

Lists = dict[str, list[str]]


@dataclass
class RecOutcome:
    protocol: RecProtocol
    customers: int
    items: int
    scores: dict[str, dict[str, float]]
    """Per scorer: P/R/NDCG@10 overall, on repeat items and on new items, and coverage."""
    gate: str
    promoted: bool
    seconds: float
    notes: list[str] = field(default_factory=list)
    anticipation: Anticipation | None = None
    artefact_mb: float = float("nan")
    """Size of the served model's recommend.npz."""
    held_mib: float = float("nan")
    """Resident memory of a fresh process that has loaded the served model (a service's
    footprint before it answers anything)."""
    blend: str = ""
    """The training report's line on the learnt blend (served or not, and why)."""


@dataclass
class Anticipation:
    """AnticipateNext (horizon = the window) for every customer with a past purchase, each
    listed item labelled bought in the window or not."""

    customers: int
    listed: int
    mean_probability: float
    bought: float
    ece: float
    deciles: list[Bin]
    inside_window: float = float("nan")
    """Of the listed items bought in the window, the share first bought inside the stated
    purchase window (its 16th to 84th percentile)."""


async def _through_service(
    channel: grpc.aio.Channel, customers: list[str], include_repeat: bool
) -> Lists:
    """Top-K lists from the running recommendation service, by BatchRecommend."""
    stub = recommend_pb2_grpc.RecommendServiceStub(channel)
    out: Lists = {}
    for start in range(0, len(customers), BATCH):
        request = recommend_pb2.BatchRecommendRequest(
            customer_ids=customers[start : start + BATCH], n=K, include_repeat=include_repeat
        )
        async for chunk in stub.BatchRecommend(request, timeout=300):
            for item in chunk.items:
                if item.HasField("recommendations"):
                    out[item.customer_id] = [r.item_id for r in item.recommendations.items]
    return out


async def _anticipation(
    channel: grpc.aio.Channel,
    customers: Sequence[str],
    truth: Mapping[str, set[str]],
    first_bought: Mapping[tuple[str, str], float],
    cutoff: pd.Timestamp,
    horizon_days: int,
) -> Anticipation:
    """Every listed item labelled bought in the window or not; for the bought ones, whether
    the first purchase fell inside the stated window (``first_bought``: Unix seconds)."""
    stub = recommend_pb2_grpc.RecommendServiceStub(channel)
    now = Timestamp()
    now.FromDatetime(cutoff.to_pydatetime())
    p: list[float] = []
    y: list[int] = []
    inside: list[bool] = []
    asked = 0
    for c in customers:
        request = recommend_pb2.AnticipateNextRequest(
            customer_id=c, horizon_days=horizon_days, n=100, now=now
        )
        try:
            reply = await stub.AnticipateNext(request, timeout=10)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                continue
            raise
        asked += 1
        bought = truth.get(c, set())
        for item in reply.items:
            p.append(item.probability)
            y.append(int(item.item_id in bought))
            when = first_bought.get((c, item.item_id))
            if when is not None:
                inside.append(item.window_start.seconds <= when <= item.window_end.seconds)
    pa, ya = np.asarray(p), np.asarray(y, dtype=float)
    return Anticipation(
        asked,
        len(pa),
        float(pa.mean()) if len(pa) else float("nan"),
        float(ya.mean()) if len(ya) else float("nan"),
        expected_calibration_error(ya, pa) if len(pa) else float("nan"),
        reliability_by_decile(ya, pa),
        float(np.mean(inside)) if inside else float("nan"),
    )


def _popular(
    past: pd.DataFrame, exclude: Mapping[str, set[str]], customers: Sequence[str]
) -> Lists:
    """The most bought items over the last 30 days before the cutoff (by buyers)."""
    recent = past[past["timestamp"] >= past["timestamp"].max() - 30 * DAY]
    ranked = recent.groupby("item_id")["customer_id"].nunique().sort_values(ascending=False)
    top = list(ranked.index[: K + 500])
    return {c: [i for i in top if i not in exclude.get(c, set())][:K] for c in customers}


def _buy_again(past: pd.DataFrame, customers: Sequence[str]) -> Lists:
    """Each customer's own most frequently bought items (orders), latest first on ties."""
    g = (
        past.groupby(["customer_id", "item_id"])
        .agg(orders=("order_id", "nunique"), last=("timestamp", "max"))
        .reset_index()
        .sort_values(["customer_id", "orders", "last"], ascending=[True, False, False])
    )
    lists = g.groupby("customer_id")["item_id"].apply(lambda s: list(s[:K])).to_dict()
    return {c: lists.get(c, []) for c in customers}


def _als(past: pd.DataFrame, customers: Sequence[str], new_only: bool) -> Lists:
    users = pd.Index(sorted(past["customer_id"].unique()))
    items = pd.Index(sorted(past["item_id"].unique()))
    counts = past.groupby(["customer_id", "item_id"])["order_id"].nunique().reset_index()
    matrix = sp.csr_matrix(
        (
            np.log1p(counts["order_id"].to_numpy(dtype=np.float32)),
            (users.get_indexer(counts["customer_id"]), items.get_indexer(counts["item_id"])),
        ),
        shape=(len(users), len(items)),
    )
    als = AlternatingLeastSquares(
        factors=64, regularization=0.05, iterations=15, random_state=7, num_threads=2
    )
    als.fit(matrix, show_progress=False)
    rows = users.get_indexer(list(customers))
    known = rows >= 0
    ids, _ = als.recommend(
        rows[known], matrix[rows[known]], N=K, filter_already_liked_items=new_only
    )
    out: Lists = {c: [] for c in customers}
    for c, ranked in zip(np.asarray(customers)[known], ids, strict=True):
        out[str(c)] = [str(items[j]) for j in ranked if j >= 0]
    return out


def _item_sets(lines: pd.DataFrame) -> dict[str, set[str]]:
    """Each customer's set of items in these lines."""
    grouped = lines.groupby("customer_id")["item_id"]
    return {str(c): set(items) for c, items in grouped}


def _measure(lists: Lists, truth: Mapping[str, set[str]], catalogue: int) -> dict[str, float]:
    m = ranking_metrics(lists, truth, K)
    return {
        "precision": m[f"precision@{K}"],
        "recall": m[f"recall@{K}"],
        "ndcg": m[f"ndcg@{K}"],
        "coverage": coverage(lists, catalogue, K),
    }


async def run(shop: Shop, protocol: RecProtocol, work: Path, redis_url: str) -> RecOutcome:
    began = time.perf_counter()
    cutoff = pd.Timestamp(protocol.cutoff, tz="UTC")
    ws = workspace(shop, work / f"recommend-{protocol.shop}-{protocol.cutoff}", cutoff)
    report = train_recommend(ws.data, ws.tracking_uri, ws.state, progress=False)
    serve_anyway("recommend", report)
    artefact_mb, held_mib = _footprint(ws.state)
    bought = shop.orders[shop.orders["quantity"] > 0]
    past = bought[bought["timestamp"] < cutoff]
    later = bought[
        (bought["timestamp"] >= cutoff)
        & (bought["timestamp"] < cutoff + protocol.window_days * DAY)
    ]
    before = _item_sets(past)
    customers = sorted(set(past["customer_id"]) & set(later["customer_id"]))
    truth_all = _item_sets(later)
    truth = {c: truth_all[c] for c in customers}
    repeat = {c: truth[c] & before.get(c, set()) for c in customers}
    new = {c: truth[c] - before.get(c, set()) for c in customers}
    async with running(
        RecommendSettings,
        build_spec,
        ws,
        redis_url,
        cutoff,
        recommend_as_of=cutoff.isoformat(),  # the repeat clock reads the cutoff, not today
    ) as channel:
        augur_new = await _through_service(channel, customers, include_repeat=False)
        if protocol.explore_only:
            augur_all, anticipation = augur_new, None
        else:
            augur_all = await _through_service(channel, customers, include_repeat=True)
            first = later.groupby(["customer_id", "item_id"])["timestamp"].min()
            first_bought = {
                key: ts.timestamp() for key, ts in first.items() if isinstance(key, tuple)
            }
            anticipation = await _anticipation(
                channel, sorted(before), truth_all, first_bought, cutoff, protocol.window_days
            )
    catalogue = past["item_id"].nunique()
    candidates: dict[str, tuple[Lists, Lists | None]] = {
        "Augur Recommend": (augur_all, augur_new),
        "popularity": (_popular(past, {}, customers), _popular(past, before, customers)),
        "buy again": (_buy_again(past, customers), None),
        "ALS": (_als(past, customers, False), _als(past, customers, True)),
    }
    if protocol.explore_only:
        del candidates["buy again"]
    scores: dict[str, dict[str, float]] = {}
    for name, (overall, explore) in candidates.items():
        s = {f"all_{k}": v for k, v in _measure(overall, truth, catalogue).items()}
        s.update({f"repeat_{k}": v for k, v in _measure(overall, repeat, catalogue).items()})
        if explore is not None:
            s.update({f"new_{k}": v for k, v in _measure(explore, new, catalogue).items()})
        scores[name] = s
    missing = [c for c in customers if c not in augur_all]
    notes = [f"{len(missing)} customers got no list from the service"] if missing else []
    return RecOutcome(
        protocol,
        len(customers),
        catalogue,
        scores,
        report.gate_reason,
        report.promoted,
        time.perf_counter() - began,
        notes,
        anticipation,
        artefact_mb,
        held_mib,
        blend_line(report.metrics),
    )


def _footprint(state: Path) -> tuple[float, float]:
    """(MB of the served artefact, MiB resident in a fresh process that loaded it)."""
    found = registry.champion_artefact("recommend", state)
    if found is None:
        return float("nan"), float("nan")
    path = found[1]
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from augur.recommend.main import load_index\n"
        "index = load_index(Path(sys.argv[1]))\n"
        "print(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return (path / FILE).stat().st_size / 1e6, int(done.stdout.strip()) / 1024
