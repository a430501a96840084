"""Response-model training on the contact-heavy synthetic shop: AUC per channel, the
off-policy value of the (channel, hour) policy against both baselines, registry, gate,
pyfunc, and profiles rebuilt without looking ahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from augur.contact.profile import FEATURES, OPENED, SENT
from augur.features.definitions import CHANNELS
from augur.training.contact.dataset import build_log
from augur.training.contact.train import ContactConfig
from augur.training.data.loader import load_dataset


def test_profiles_before_each_contact_never_see_later_opens(contact_data: Path) -> None:
    ds = load_dataset(contact_data)
    log = build_log(ds)
    contacts = ds.contacts
    first = contacts["customer_id"].iloc[0]
    mine = np.flatnonzero(log.customer == log.customer_ids.get_loc(first))
    sent = contacts.loc[contacts["customer_id"] == first, "sent_at"].map(pd.Timestamp.timestamp)
    opened = contacts.loc[contacts["customer_id"] == first, "opened_at"]
    opened_at = opened.dropna().map(pd.Timestamp.timestamp).to_numpy()
    for i in mine:
        t = log.time[i]
        assert log.counts[i, SENT] == (sent < t).sum()
        assert log.counts[i, OPENED] == (opened_at < t).sum()
    # the final profile counts every send and open
    row = log.customer_ids.get_loc(first)
    assert log.final_counts[row, SENT] == len(sent)
    assert log.final_counts[row, OPENED] == len(opened_at)


def test_registered_with_plots_gate_and_pyfunc(
    contact_data: Path,
    contact_trained,  # type: ignore[no-untyped-def]
) -> None:
    import mlflow
    from mlflow import MlflowClient

    from augur.training import registry
    from augur.training.contact.pipeline import train_contact

    uri, root, report = contact_trained
    m = report.metrics
    assert report.promoted, report.gate_reason
    assert m["auc"] > 0.75
    assert m["auc"] > m["auc_baseline_channel_rate"] and m["auc"] > m["auc_baseline_global_slot"]
    for channel in CHANNELS:
        assert m[f"auc_{channel}"] > 0.7, channel
    assert m["policy_model"] > m["policy_global_best_hour"]
    assert m["policy_model"] > m["policy_last_engagement_hour"]
    assert m["policy_model"] > m["policy_logged"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert (
        str(client.get_model_version_by_alias("augur-contact", "champion").version)
        == report.version
    )
    plots = {a.path for a in client.list_artifacts(report.run_id, "plots")}
    assert plots == {"plots/roc_per_channel.png", "plots/policy_value.png"}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model = mlflow.pyfunc.load_model(f"models:/augur-contact/{report.version}")
    rows = pd.DataFrame(
        np.tile(
            [
                0,
                18,
                2,
                1,
                3.0,
                1,
                20,
                0.2,
                12,
                0.3,
                8,
                0.25,
                0.2,
                5,
                1,
                1,
                1.2,
                1.1,
                1.0,
                0.25,
                0.3,
            ],
            (3, 1),
        ),
        columns=list(FEATURES),
    )
    out = model.predict(rows)
    assert (
        list(out.columns) == ["expected_response"] and out["expected_response"].between(0, 1).all()
    )
    # a deliberately weak recipe stays a challenger and says why
    weak = train_contact(
        contact_data,
        uri,
        root,
        ContactConfig(max_rounds=1, num_leaves=2, learning_rate=0.01),
        progress=False,
    )
    assert not weak.promoted, weak.gate_reason
    assert registry.champion_version("augur-contact") == report.version
    assert "champion_auc_same_test" in weak.metrics and "does not beat" in weak.gate_reason
