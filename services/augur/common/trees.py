"""A served LightGBM booster's predictions, kept cheap per call.

``Booster.predict`` builds a new predictor on every call, which costs more than the
prediction itself for a few rows (~130 us against ~45 us for one churn row), so one predictor
per thread count is kept for the model's life. ``compile`` goes further: the trees compiled to
native code with lleaves (LLVM) score a few hundred rows in a fraction of LightGBM's time; the
compiled library is cached beside the model, keyed by the booster's hash, and kept only when it
reproduces LightGBM on a probe (on any mismatch or failure LightGBM's predictor is used).
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

log = logging.getLogger("augur.trees")
BULK_ROWS = 256  # from this many rows a prediction may use both cores


class Trees:
    """Predictions of one booster: LightGBM's kept predictors, or its compiled trees."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster
        self._predictors: dict[int, Any] = {}
        try:
            from lightgbm.basic import _InnerPredictor

            for threads in (1, 2):
                self._predictors[threads] = _InnerPredictor.from_booster(
                    booster, {"num_threads": threads}
                )
        except (ImportError, AttributeError, TypeError):  # a LightGBM without it
            self._predictors = {}
        self._compiled: Any = None

    @property
    def compiled(self) -> bool:
        return self._compiled is not None

    def predict(self, X: np.ndarray, raw_score: bool = False, threads: int = 0) -> np.ndarray:
        """One score per row; ``threads`` 0 chooses by the number of rows."""
        X = np.ascontiguousarray(np.atleast_2d(X), dtype=np.float64)
        threads = threads or (2 if len(X) >= BULK_ROWS else 1)
        if self._compiled is not None and not raw_score:
            return np.asarray(self._compiled.predict(X, n_jobs=threads), dtype=float)
        predictor = self._predictors.get(threads)
        if predictor is not None:
            return np.asarray(predictor.predict(X, raw_score=raw_score), dtype=float)
        return np.asarray(
            self.booster.predict(X, raw_score=raw_score, num_threads=threads), dtype=float
        )

    def compile(self, directory: Path, probe: np.ndarray, what: str) -> bool:
        """Compile the trees to native code (cached in ``directory``); keep the compiled
        predictor only when it reproduces LightGBM on ``probe``."""
        try:
            import lleaves
        except ImportError:
            log.warning("lleaves is not installed: the %s scores with LightGBM", what)
            return False
        started = time.perf_counter()
        text = self.booster.model_to_string()
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        source = directory / f"trees-{digest}.txt"
        try:
            if not source.exists():
                source.write_text(text)
            compiled = lleaves.Model(model_file=str(source))
            compiled.compile(cache=str(directory / f"compiled-{digest}.so"))
            probe = np.ascontiguousarray(probe, dtype=np.float64)
            same = np.allclose(compiled.predict(probe, n_jobs=1), self.predict(probe), atol=1e-9)
        except Exception as exc:  # a compiler problem must never stop the service
            log.warning("compiling the %s failed (%s): scoring with LightGBM", what, exc)
            return False
        if not same:
            log.warning("the compiled %s disagrees with LightGBM: not used", what)
            return False
        self._compiled = compiled
        log.info("%s compiled to native code in %.1f s", what, time.perf_counter() - started)
        return True
