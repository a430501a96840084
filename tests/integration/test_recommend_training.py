"""Recommendation training on the synthetic shop: repeat + explore beat the baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from augur.recommend.index import Query, RecommendIndex
from augur.recommend.model import RecommendModel
from augur.recommend.ranker import REPEAT_ORDERS
from augur.training.data.loader import load_dataset
from augur.training.recommend.data import DAY, purchases
from augur.training.recommend.train import RecommendConfig, evaluate, fit, from_model, to_model


@pytest.fixture(scope="module")
def trained(shop_data: Path):  # type: ignore[no-untyped-def]
    ds = load_dataset(shop_data)
    cutoff = (ds.orders["timestamp"].max() - pd.Timedelta(days=30)).timestamp()
    fitted = fit(ds, cutoff, RecommendConfig())
    metrics, _ = evaluate(ds, fitted, cutoff, RecommendConfig())
    return ds, cutoff, fitted, metrics


def test_blend_beats_every_baseline_and_explore_finds_new_items(trained) -> None:  # type: ignore[no-untyped-def]
    _, _, _, m = trained
    for baseline in ("popularity", "buy_again", "als"):
        assert m["blend_all_ndcg@10"] > m[f"{baseline}_all_ndcg@10"], baseline
    assert m["explore_new_ndcg@10"] > m["popularity_new_ndcg@10"]
    assert m["explore_new_recall@10"] > m["popularity_new_recall@10"]
    assert m["blend_coverage@10"] > m["popularity_coverage@10"]


def test_repeat_timing_error_is_within_a_fifth_of_the_planted_cycle(
    shop_data: Path,
    trained,  # type: ignore[no-untyped-def]
) -> None:
    ds, cutoff, fitted, _ = trained
    frame = fitted.repeat.frame().assign(next=fitted.repeat.expected_next_day())
    actual = purchases(ds, cutoff, np.inf).groupby(["customer_id", "item_id"])["day"].min()
    staples = pd.read_csv(shop_data / "truth" / "staples.csv")
    m = (
        frame.merge(staples, on=["customer_id", "item_id"])
        .join(actual.rename("actual"), on=["customer_id", "item_id"])
        .dropna(subset=["actual"])
    )
    m = m[m["count"] >= 3]
    predicted = m["next"].to_numpy().copy()
    interval = m["interval_days"].to_numpy()
    while (late := predicted < cutoff / DAY).any():  # roll overdue forecasts forward
        predicted = np.where(late, predicted + interval, predicted)
    error = np.abs(predicted - m["actual"].to_numpy()) / m["cycle_days"].to_numpy()
    assert len(m) > 500 and np.median(error) <= 0.2


def test_the_repeat_order_never_loses_to_buy_again_on_its_validation_window(trained) -> None:  # type: ignore[no-untyped-def]
    _, _, fitted, _ = trained
    order, p = fitted.order, fitted.order.metrics
    assert order.order in REPEAT_ORDERS and p["repeat_validation_customers"] > 500
    # a repeat ranker is learnt only when the learnt blend does not serve
    tried = {"frequency", "clock"} | (set() if fitted.blend.ranker else {"ranker"})
    assert tried <= {k.rsplit("_", 1)[1] for k in p if "_p10_" in k}
    assert p[f"repeat_validation_p10_{order.order}"] >= p["repeat_validation_p10_frequency"]
    assert (order.order == "ranker") == bool(order.ranker)
    if order.order == "ranker":  # it must beat buy again outright, not tie
        assert p["repeat_validation_p10_ranker"] > p["repeat_validation_p10_frequency"]


def test_the_learnt_blend_serves_only_where_it_beats_buy_again(trained) -> None:  # type: ignore[no-untyped-def]
    _, _, fitted, _ = trained
    b = fitted.blend.metrics
    assert b["blend_validation_customers"] > 500
    learnt, again = b["blend_validation_p10_learnt"], b["blend_validation_p10_buy_again"]
    assert (learnt > again) == bool(fitted.blend.ranker)
    assert fitted.blend.ranker, "the planted shop's balance is learnable: the blend must serve"


def test_the_compiled_ranker_answers_as_lightgbm(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, cutoff, fitted, _ = trained
    index = RecommendIndex(to_model(fitted, neighbours=False))
    rankers = [r for r in (index.blend, index.ranker) if r is not None]
    if not rankers:
        pytest.skip("no ranker won on this shop's validation windows: nothing to compile")
    customers = sorted(index.rep_slice)[:200]
    before = [index.recommend(Query(c, 10, cutoff)).picks for c in customers]
    assert index.compile_ranker(tmp_path)
    assert all(r.trees.compiled for r in rankers)
    assert [index.recommend(Query(c, 10, cutoff)).picks for c in customers] == before
    assert list(tmp_path.glob("compiled-*.so"))  # cached beside the model


def test_native_save_and_load_round_trip(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ds, cutoff, fitted, m = trained
    to_model(fitted).save(tmp_path)
    assert not any(p.suffix == ".pkl" for p in tmp_path.iterdir())
    again, _ = evaluate(ds, from_model(RecommendModel.load(tmp_path)), cutoff, RecommendConfig())
    assert again["blend_all_ndcg@10"] == m["blend_all_ndcg@10"]
    assert again["als_all_ndcg@10"] == m["als_all_ndcg@10"]


def test_registered_with_plots_and_gate_and_loads_as_pyfunc(
    shop_data: Path,
    recommend_trained,  # type: ignore[no-untyped-def]
) -> None:
    import mlflow
    from mlflow import MlflowClient

    from augur.training import registry
    from augur.training.recommend.pipeline import train_recommend

    uri, root, report = recommend_trained
    assert report.promoted and report.metrics["blend_all_ndcg@10"] > 0.9
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert (
        str(client.get_model_version_by_alias("augur-recommend", "champion").version)
        == report.version
    )
    plots = {a.path for a in client.list_artifacts(report.run_id, "plots")}
    assert plots == {"plots/ndcg_at_10.png", "plots/recall_at_10.png"}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model = mlflow.pyfunc.load_model(f"models:/augur-recommend/{report.version}")
    out = model.predict(pd.DataFrame({"customer_id": ["C0000001", "nobody"], "n": [4, 3]}))
    assert out.groupby("customer_id").size().to_dict() == {"C0000001": 4, "nobody": 3}
    # a deliberately weak recipe (no learnt blend, no repeat slots, one item per category) is
    # registered but stays a challenger, and says why
    weak_recipe = RecommendConfig(repeat_share=0.0, max_per_category=1, blend_ranker=False)
    weak = train_recommend(shop_data, uri, root, weak_recipe, progress=False)
    assert not weak.promoted and "does not beat" in weak.gate_reason
    assert (
        str(client.get_model_version_by_alias("augur-recommend", "challenger").version)
        == weak.version
    )
    assert registry.champion_version("augur-recommend") == report.version
