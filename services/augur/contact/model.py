"""The served response model: a native LightGBM booster and the priors of its features.

Saved as plain files (``booster.txt`` + ``contact.json``), never pickled.
P(engagement | customer profile, channel, local hour of week, days since the
last contact, contacts in the last 7 days, purpose) for a batch of candidate
(channel, send time) rows; the service scores all of a customer's candidates
in one call.

The service compiles the trees to native code with lleaves (LLVM) when it
loads a model: scoring a customer's 4 x 168 candidates drops from ~1.5-2 ms
with LightGBM's own predictor to ~0.15 ms, with the same numbers (checked on
a probe at load; on any mismatch or failure the LightGBM predictor is used).
The compiled library is cached beside the model, keyed by the booster's hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from augur.contact.profile import FEATURES, Priors

log = logging.getLogger("augur.contact")
BOOSTER_FILE = "booster.txt"
META_FILE = "contact.json"
FORMAT_VERSION = 1


@dataclass
class ContactModel:
    booster: lgb.Booster
    priors: Priors
    min_history: int = 5  # sends before a customer's own profile is trusted
    feature_names: tuple[str, ...] = FEATURES
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """One LightGBM predictor kept for the model's life, one thread: ``Booster.predict``
        builds a new predictor per call, which costs more than scoring a customer's rows."""
        self._predictor: Any = None
        try:
            from lightgbm.basic import _InnerPredictor

            self._predictor = _InnerPredictor.from_booster(self.booster, {"num_threads": 1})
        except (ImportError, AttributeError, TypeError):  # a LightGBM without it
            self._predictor = None
        self._compiled: Any = None

    @property
    def compiled(self) -> bool:
        return self._compiled is not None

    def compile(self, directory: Path, probe: np.ndarray) -> bool:
        """Compile the trees to native code (cached in ``directory``); keep the compiled
        predictor only when it reproduces LightGBM on ``probe``."""
        try:
            import lleaves
        except ImportError:
            log.warning("lleaves is not installed: scoring with LightGBM's predictor")
            return False
        started = time.perf_counter()
        source = directory / BOOSTER_FILE
        if not source.exists():
            self.booster.save_model(str(source))
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
        try:
            compiled = lleaves.Model(model_file=str(source))
            compiled.compile(cache=str(directory / f"compiled-{digest}.so"))
            probe = np.ascontiguousarray(probe, dtype=np.float64)
            same = np.allclose(compiled.predict(probe, n_jobs=1), self.predict(probe), atol=1e-9)
        except Exception as exc:  # a compiler problem must never stop the service
            log.warning("compiling the contact model failed (%s): scoring with LightGBM", exc)
            return False
        if not same:
            log.warning("compiled contact model disagrees with LightGBM: not used")
            return False
        self._compiled = compiled
        log.info("contact model compiled to native code in %.1f s", time.perf_counter() - started)
        return True

    def predict(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        """Expected response probability per row (``threads`` > 1 for bulk scoring)."""
        X = np.ascontiguousarray(np.atleast_2d(X), dtype=np.float64)
        if self._compiled is not None:
            return np.asarray(self._compiled.predict(X, n_jobs=threads), dtype=float)
        if self._predictor is not None and threads == 1:
            return np.asarray(self._predictor.predict(X), dtype=float)
        return np.asarray(self.booster.predict(X, num_threads=threads), dtype=float)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / BOOSTER_FILE))
        meta = {
            "format": FORMAT_VERSION,
            "channel_prior": [float(v) for v in self.priors.channel],
            "overall_prior": float(self.priors.overall),
            "min_history": self.min_history,
            "feature_names": list(self.feature_names),
            "extra": self.extra,
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: Path) -> ContactModel:
        meta = json.loads((directory / META_FILE).read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"contact model format {meta.get('format')} is not {FORMAT_VERSION}; retrain"
            )
        names = tuple(meta["feature_names"])
        if names != FEATURES:
            raise ValueError("contact model was trained on another feature layout; retrain")
        return cls(
            booster=lgb.Booster(model_file=str(directory / BOOSTER_FILE)),
            priors=Priors(np.array(meta["channel_prior"], dtype=float), meta["overall_prior"]),
            min_history=int(meta["min_history"]),
            feature_names=names,
            extra=meta.get("extra", {}),
        )
