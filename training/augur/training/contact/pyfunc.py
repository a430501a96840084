"""The response model as an MLflow pyfunc (models-from-code: nothing is pickled).

Used by ``mlflow.pyfunc.load_model`` and ``mlflow models serve``; Augur's own
service loads the same files natively (``ContactModel.load``) and builds the
candidate rows from the live profile, caps and consent in Redis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from augur.contact.model import ContactModel


class ContactPyfunc(PythonModel):  # type: ignore[misc]
    """Input: one column per feature of a (customer, channel, send time) row; output: the
    expected response probability."""

    def load_context(self, context: Any) -> None:
        self.model = ContactModel.load(Path(context.artifacts["model"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        X = model_input[list(self.model.feature_names)].to_numpy(dtype=np.float64)
        return pd.DataFrame({"expected_response": self.model.predict(X)})


mlflow.models.set_model(ContactPyfunc())
