"""The recommender as an MLflow pyfunc (models-from-code: nothing is pickled).

Used by ``mlflow.pyfunc.load_model`` and ``mlflow models serve``; Augur's own
service loads the same files natively. Offline it cannot see live stock, so
the stock filter is not applied here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from augur.recommend.index import Query, RecommendIndex
from augur.recommend.model import RecommendModel


class RecommendPyfunc(PythonModel):  # type: ignore[misc]
    """Input: customer_id (and optionally n); output: one row per recommended item."""

    def load_context(self, context: Any) -> None:
        self.index = RecommendIndex(RecommendModel.load(Path(context.artifacts["model"])))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        now = time.time()
        n = model_input["n"] if "n" in model_input else pd.Series(10, index=model_input.index)
        rows = []
        for customer, k in zip(model_input["customer_id"].astype(str), n, strict=True):
            answer = self.index.recommend(Query(customer, int(k), now))
            for rank, pick in enumerate(answer.picks, start=1):
                rows.append(
                    {
                        "customer_id": customer,
                        "rank": rank,
                        "item_id": self.index.item_ids[pick.item],
                        "source": pick.source.name.lower(),
                        "reason": pick.reason,
                    }
                )
        return pd.DataFrame(rows, columns=["customer_id", "rank", "item_id", "source", "reason"])


mlflow.models.set_model(RecommendPyfunc())
