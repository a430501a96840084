"""LightGBM training on a Dask cluster (scale-out), with the same result contract as the
single-machine fit: a ``lgb.Booster`` trained for the best number of rounds.

``where`` names the cluster: ``local:N`` starts a local cluster of N single-threaded worker
processes for the duration of the fit (tests, one big machine); anything else is the address
of a running scheduler (``tcp://scheduler:8786``, e.g. a dask-kubernetes cluster), whose
workers need the same Python environment (the Augur image).

The training matrix is split into one partition per worker; LightGBM's Dask integration runs
its distributed data-parallel learner across them. It has no early stopping, so the fit runs
the maximum rounds and the best round is then chosen on the early-stopping set (logloss every
10 rounds), exactly what ``lgb.early_stopping`` would keep had it run to the end.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lightgbm as lgb
import numpy as np


@contextmanager
def dask_client(where: str) -> Iterator[Any]:
    from dask.distributed import Client, LocalCluster

    if where.startswith("local:"):
        workers = int(where.removeprefix("local:"))
        if not 1 <= workers <= 64:
            raise ValueError(f"local Dask cluster size must be 1..64 (got {workers})")
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
        with cluster, Client(cluster) as client:
            yield client
    else:
        with Client(where) as client:
            yield client


def fit_booster(
    where: str,
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    rounds: int,
    feature_names: list[str] | None = None,
    stop: tuple[np.ndarray, np.ndarray] | None = None,
    categorical: list[int] | None = None,
    init: tuple[np.ndarray, np.ndarray] | None = None,
) -> lgb.Booster:
    """``rounds`` rounds on the cluster; with a ``stop`` set, cut to the best round on it.
    ``init``: the log-odds to boost from, of the rows of X and of the stop set."""
    import dask.array as da
    from lightgbm import DaskLGBMClassifier

    with dask_client(where) as client:
        workers = max(1, len(client.scheduler_info()["workers"]))
        rows = math.ceil(len(X) / workers)
        dX = da.from_array(np.asarray(X, dtype=np.float64), chunks=(rows, X.shape[1]))
        dy = da.from_array(np.asarray(y, dtype=np.float64), chunks=(rows,))
        settings = {k: v for k, v in params.items() if k not in ("num_threads", "seed", "verbose")}
        model = DaskLGBMClassifier(
            client=client,
            n_estimators=rounds,
            random_state=params.get("seed"),
            n_jobs=1,
            verbose=-1,
            **settings,
        )
        extra: dict[str, Any] = {}
        if feature_names is not None:
            extra["feature_name"] = feature_names
        if categorical:
            extra["categorical_feature"] = categorical
        if init is not None:
            extra["init_score"] = da.from_array(
                np.asarray(init[0], dtype=np.float64), chunks=(rows,)
            )
        model.fit(dX, dy, **extra)
        booster: lgb.Booster = model.booster_
    best = (
        best_rounds(booster, *stop, init=None if init is None else init[1])
        if stop is not None
        else booster.current_iteration()
    )
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


def best_rounds(
    booster: lgb.Booster,
    X: np.ndarray,
    y: np.ndarray,
    step: int = 10,
    init: np.ndarray | None = None,
) -> int:
    """The round count with the lowest logloss on (X, y), checked every ``step`` rounds
    (``init``: log-odds the trees add to)."""
    total = booster.current_iteration()
    best, best_loss = total, math.inf
    base = np.zeros(len(y)) if init is None else np.asarray(init, dtype=float)
    for k in [*range(step, total, step), total]:
        logit = base + booster.predict(X, num_iteration=k, raw_score=True)
        loss = float(np.mean(np.logaddexp(0.0, logit) - y * logit))
        if loss < best_loss - 1e-9:
            best, best_loss = k, loss
    return best
