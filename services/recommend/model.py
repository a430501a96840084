"""The served recommendation model, saved natively (``np.savez``, loaded without pickle).

Holds the ALS factors with their id maps, the repeat model's per customer x
item statistics, the popularity ranking and item categories. Nothing here is
pickled: strings are stored as fixed-width unicode arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILE = "recommend.npz"


@dataclass
class RecommendModel:
    users: np.ndarray  # str, row i of user_factors
    items: np.ndarray  # str, row j of item_factors
    user_factors: np.ndarray  # float32 (users x factors)
    item_factors: np.ndarray  # float32 (items x factors)
    repeat_customer: np.ndarray  # str
    repeat_item: np.ndarray  # str
    repeat_count: np.ndarray  # float
    repeat_last_day: np.ndarray  # days since the Unix epoch
    repeat_interval_days: np.ndarray
    popular: np.ndarray  # str, most popular first
    item_category: np.ndarray  # str, aligned with items
    repeat_sigma: float = 0.35

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / FILE
        arrays = {name: getattr(self, name) for name in self.__dataclass_fields__}
        arrays = {
            k: (
                np.asarray(v, dtype=str)
                if isinstance(v, np.ndarray) and v.dtype == object
                else np.asarray(v)
            )
            for k, v in arrays.items()
        }
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, directory: Path) -> RecommendModel:
        with np.load(directory / FILE, allow_pickle=False) as data:
            values = {name: data[name] for name in data.files}
        values["repeat_sigma"] = float(values["repeat_sigma"])
        return cls(**values)
