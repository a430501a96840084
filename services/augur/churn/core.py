"""The churn service's transport-agnostic core: plain Python in, plain Python out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from augur.churn.bands import BANDS, RiskBands
from augur.churn.model import ChurnModel, Reason
from augur.churn.snapshot import AtRiskSnapshots, Page
from augur.common.errors import InvalidArgument, NotFound
from augur.common.ids import check_id
from augur.common.models import Loaded, ServedModel
from augur.common.settings import ChurnSettings
from augur.features.codec import FeatureVector
from augur.features.store import FeatureStore

MAX_BATCH = 10_000
DEFAULT_REASONS = 3
MAX_REASONS = 20


@dataclass
class Score:
    customer_id: str
    probability: float
    risk_band: int
    expected_value: float
    value_at_risk: float
    features_as_of: float
    horizon_days: int
    reasons: list[Reason] = field(default_factory=list)


@dataclass
class ScoredChunk:
    """Scores of consecutive request ids; arrays hold the found customers, in order."""

    customer_ids: list[str]
    found: np.ndarray
    probability: np.ndarray = field(default_factory=lambda: np.zeros(0))
    expected_value: np.ndarray = field(default_factory=lambda: np.zeros(0))
    band: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    as_of: np.ndarray = field(default_factory=lambda: np.zeros(0))
    reasons: list[list[Reason]] | None = None


class ChurnCore:
    """Score, ScoreBatch and ListAtRisk over the feature store, the at-risk snapshot and the
    served model."""

    def __init__(
        self,
        store: FeatureStore,
        snapshots: AtRiskSnapshots,
        watcher: ServedModel[ChurnModel],
        settings: ChurnSettings,
    ) -> None:
        self.store = store
        self.snapshots = snapshots
        self.watcher = watcher
        self.settings = settings

    def bands(self, model: ChurnModel) -> RiskBands:
        """The model's thresholds, each overridden by its setting when that is set."""
        medium = self.settings.churn_risk_medium
        high = self.settings.churn_risk_high
        return RiskBands(
            model.risk_thresholds[0] if medium is None else medium,
            model.risk_thresholds[1] if high is None else high,
        )

    @staticmethod
    def _reasons_k(include: bool, k: int) -> int:
        if not include:
            return 0
        if not 0 <= k <= MAX_REASONS:
            raise InvalidArgument(f"max_reasons must be 0..{MAX_REASONS}, got {k}")
        return k or DEFAULT_REASONS

    def _scores(
        self,
        loaded: Loaded[ChurnModel],
        ids: Sequence[str],
        vectors: Sequence[FeatureVector],
        k: int,
    ) -> list[Score]:
        model = loaded.model
        if len(vectors) == 1:
            X = vectors[0].values.astype(np.float64)[None, :]
        else:
            X = np.stack([v.values for v in vectors]).astype(np.float64)
        p = model.probability(X)
        value = model.expected_value(X)
        bands = self.bands(model)
        out = []
        for i, cid in enumerate(ids):
            band = bands.of(float(p[i]))
            reasons = model.reasons(X[i], k) if k else []
            out.append(
                Score(
                    cid,
                    float(p[i]),
                    band,
                    float(value[i]),
                    float(p[i] * value[i]),
                    vectors[i].as_of,
                    model.horizon_days,
                    reasons,
                )
            )
        return out

    def score(
        self, customer_id: str, include_reasons: bool, max_reasons: int
    ) -> tuple[Score, Loaded[ChurnModel]]:
        check_id(customer_id, "customer_id")
        k = self._reasons_k(include_reasons, max_reasons)
        loaded = self.watcher.require()
        vector = self.store.get(customer_id)
        if vector is None:
            raise NotFound("no features for this customer (never seen, or erased)")
        return self._scores(loaded, [customer_id], [vector], k)[0], loaded

    def score_batch(
        self, ids: Sequence[str], include_reasons: bool, max_reasons: int, chunk: int = 1000
    ) -> tuple[Loaded[ChurnModel], Iterator[ScoredChunk]]:
        """Validate everything first, then score lazily chunk by chunk (vectorised). Each chunk
        blocks (Redis MGET, LightGBM): an asyncio caller pulls it in a thread."""
        if not ids:
            raise InvalidArgument("customer_ids is empty; send 1..10000 ids")
        if len(ids) > MAX_BATCH:
            raise InvalidArgument(f"{len(ids)} customer_ids; at most {MAX_BATCH} per call")
        for i, cid in enumerate(ids):
            check_id(cid, f"customer_ids[{i}]")
        k = self._reasons_k(include_reasons, max_reasons)
        loaded = self.watcher.require()
        bands = self.bands(loaded.model)

        def chunks() -> Iterator[ScoredChunk]:
            model = loaded.model
            for start in range(0, len(ids), chunk):
                part = list(ids[start : start + chunk])
                found, values, as_of = self.store.get_matrix(part)
                out = ScoredChunk(part, found)
                if found.any():
                    X = values.astype(np.float64)
                    p = model.probability(X)
                    value = model.expected_value(X)
                    out.probability, out.expected_value = p, value
                    out.band = bands.of_array(p)
                    out.as_of = as_of
                    out.reasons = [model.reasons(x, k) for x in X] if k else None
                yield out

        return loaded, chunks()

    def list_at_risk(
        self, min_probability: float, page_size: int, token: str, bands: Sequence[int]
    ) -> Page:
        if not 0 <= min_probability <= 1:
            raise InvalidArgument(f"min_probability must be in [0, 1], got {min_probability}")
        page_size = page_size or 100
        if not 1 <= page_size <= 1000:
            raise InvalidArgument(f"page_size must be 1..1000, got {page_size}")
        if any(b not in BANDS for b in bands):
            raise InvalidArgument("risk_bands may only hold LOW, MEDIUM and HIGH")
        return self.snapshots.page(min_probability, page_size, token, bands)
