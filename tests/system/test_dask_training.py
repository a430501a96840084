"""Churn and contact training through LightGBM's Dask integration on a local 2-worker
cluster: the same quality as the single-machine fit of the same data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from augur.training.churn.train import ChurnConfig, train_churn
from augur.training.contact.pipeline import train_contact
from augur.training.contact.train import ContactConfig


def test_churn_on_a_two_worker_dask_cluster_matches_single_machine_quality(
    shop_data: Path, churn_trained: Any, tmp_path: Path
) -> None:
    single = churn_trained[2]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    report = train_churn(shop_data, uri, tmp_path, ChurnConfig(dask="local:2"), progress=False)
    auc, base = report.metrics["model_roc_auc"], single.metrics["model_roc_auc"]
    print(f"churn ROC-AUC on 2 Dask workers {auc:.4f}, single machine {base:.4f}")
    assert auc >= 0.85
    assert abs(auc - base) <= 0.01, (auc, base)
    assert report.metrics["model_brier"] <= single.metrics["model_brier"] + 0.01
    assert report.metrics["model_roc_auc"] > report.metrics["recency_roc_auc"]
    assert 0 <= report.metrics["trees"] <= 1000
    assert report.promoted  # a fresh registry: it becomes champion through the same gate


def test_contact_on_a_two_worker_dask_cluster_matches_single_machine_quality(
    contact_data: Path, contact_trained: Any, tmp_path: Path
) -> None:
    single = contact_trained[2]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    report = train_contact(contact_data, uri, tmp_path, ContactConfig(dask="local:2"), False)
    auc, base = report.metrics["auc"], single.metrics["auc"]
    print(f"response-model AUC on 2 Dask workers {auc:.4f}, single machine {base:.4f}")
    assert abs(auc - base) <= 0.01, (auc, base)
    assert report.promoted
