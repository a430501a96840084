"""The churn model as an MLflow pyfunc (models-from-code: nothing is pickled).

Used by ``mlflow models serve`` and ``mlflow.pyfunc.load_model``; Augur's own
service loads the same files natively instead (``ChurnModel.load``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from augur.churn.model import ChurnModel


class ChurnPyfunc(PythonModel):  # type: ignore[misc]
    """Input: one column per feature; output: probability, expected value, value at risk."""

    def load_context(self, context: Any) -> None:
        self.model = ChurnModel.load(Path(context.artifacts["model"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        X = model_input[list(self.model.feature_names)].to_numpy(dtype=np.float64)
        p = self.model.probability(X)
        value = self.model.expected_value(X)
        return pd.DataFrame({"probability": p, "expected_value": value, "value_at_risk": p * value})


mlflow.models.set_model(ChurnPyfunc())
