"""The served recommendation model, saved natively (``np.savez``, loaded without pickle).

Holds the ALS factors with their id maps, the confidence matrix the factors
were fitted on (for exact session fold-in and explanations), the repeat
model's per customer x item statistics, item co-purchase neighbours, the
popularity ranking, item categories and the blending settings. Strings are
stored as fixed-width unicode arrays; nothing is pickled.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FILE = "recommend.npz"
FORMAT_VERSION = 8
# format 5 lacks the anticipation calibration (its clock answers uncalibrated); 5 and 6 lack
# the repeat order chosen on validation (the ranker orders when there is one, else the clock)
# and the customers' own spread of gaps (their windows use the shop-wide spread); 5 to 7 lack
# the learnt blend (they blend with the fixed repeat share)
READS = (5, 6, 7, 8)


@dataclass
class RecommendModel:
    users: np.ndarray  # str, row i of user_factors
    items: np.ndarray  # str, row j of item_factors (the catalogue)
    user_factors: np.ndarray  # float32 (users x factors)
    item_factors: np.ndarray  # float32 (items x factors)
    confidence_indptr: np.ndarray  # CSR users x items: the weighted matrix ALS was fitted on
    confidence_indices: np.ndarray
    confidence_data: np.ndarray
    repeat_customer: np.ndarray  # str
    repeat_item: np.ndarray  # str
    repeat_count: np.ndarray  # distinct purchase days
    repeat_last_day: np.ndarray  # days since the Unix epoch
    repeat_interval_days: np.ndarray
    cooc_indptr: np.ndarray  # CSR items x items: top co-purchased items, cosine weights
    cooc_indices: np.ndarray
    cooc_data: np.ndarray
    user_candidates: np.ndarray  # int32 (users x K): best unbought items per customer, -1 pads
    similar_indices: np.ndarray  # int32 (items x K): nearest items in factor space, best first
    similar_scores: np.ndarray  # float32 (items x K): their cosine similarity
    popular: np.ndarray  # str, most popular first
    item_category: np.ndarray  # str, aligned with items
    repeat_sigma: float = 0.35
    regularization: float = 0.05
    session_confidence: float = 10.0  # confidence of one cart / session item in fold-in
    repeat_share: float = 0.7
    max_per_category: int = 4
    horizon_days: float = 30.0  # "due" horizon of the repeat list
    min_due_probability: float = 0.05
    trained_until: float = 0.0  # Unix seconds of the data cutoff
    recipe: str = "{}"  # JSON of the training settings, to refit the same method on new data
    repeat_ranker: str = ""  # LightGBM text of the repeat ranker
    repeat_order: str = ""  # one of augur.recommend.ranker.REPEAT_ORDERS; "" before format 7
    item_buyers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    """Customers who bought each item (aligned with items), a ranker feature."""
    due_calibration: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    """AnticipateNext's calibration table (``augur.recommend.timing.calibrated``)."""
    repeat_spread: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per repeat row, the log-scale spread of the customer's own gaps (empty before format 7:
    every window then has the shop-wide ``repeat_sigma``)."""
    blend_ranker: str = ""
    """LightGBM text of the learnt blend's ranker over every candidate (``augur.recommend.
    learnt``); empty when it did not beat buy-again on validation (the fixed blend serves)."""
    item_stats: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    """items x 4 (``augur.recommend.ranker.item_stats``): the learnt blend's item columns."""
    repeat_recent: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    """Per repeat row, its purchase days decayed to ``trained_until`` with each half-life of
    ``augur.recommend.ranker.HALF_LIVES`` (a learnt blend feature)."""
    customer_visits: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    """Per user (row of user_factors), the visit days decayed likewise."""
    format_version: int = FORMAT_VERSION

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / FILE
        arrays: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray) and value.dtype == object:
                value = value.astype(str)
            arrays[f.name] = np.asarray(value)
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, directory: Path) -> RecommendModel:
        with np.load(directory / FILE, allow_pickle=False) as data:
            values = {name: data[name] for name in data.files}
        version = int(values.get("format_version", 1))
        if version not in READS:
            raise ValueError(
                f"{directory / FILE} has model format {version}; this build reads "
                f"{', '.join(map(str, READS))}"
            )
        values["format_version"] = FORMAT_VERSION
        for f in dataclasses.fields(cls):
            if f.type in ("float", "int", "str") and f.name in values:
                values[f.name] = {"float": float, "int": int, "str": str}[f.type](values[f.name])
        return cls(**values)
