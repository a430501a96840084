"""The real-data converters (on small files laid out as the packages ship them): only the
development half is read, and the rows land in the data contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from augur.devtools.evaluation import baselines
from augur.devtools.evaluation.datasets import (
    CDNOW,
    COMPLETE_JOURNEY,
    MOVIELENS_100K,
    cdnow,
    complete_journey,
    movielens_100k,
)
from augur.training.data.loader import load_dataset


def _member(cache: Path, package: object, member: str) -> Path:
    path = cache / f"{package.name}-{package.version}" / member  # type: ignore[attr-defined]
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_cdnow_keeps_even_customers_and_converts_each_row_to_one_order(tmp_path: Path) -> None:
    text = " customer_id  date number_of_cds  dollar_value\n"
    text += "1 19970101 1 11.77\n2 19970112 2 20.00\n2 19970112 1 9.99\n3 19970102 1 5.0\n"
    _member(tmp_path, CDNOW, CDNOW.members[0]).write_text(text)
    shop = cdnow(tmp_path)
    assert set(shop.orders["customer_id"]) == {"2"}
    assert shop.orders["order_id"].nunique() == 2  # two purchases on one day stay two orders
    assert np.allclose(shop.orders["unit_price"], [10.0, 9.99])
    ds = load_dataset(shop.write(tmp_path / "data"))
    assert str(ds.orders["timestamp"].dt.tz) == "UTC"


def test_complete_journey_keeps_even_households_zero_and_fuel_lines(tmp_path: Path) -> None:
    lines = pd.DataFrame(
        {
            "household_id": [900, 901, 900, 902],
            "store_id": 1,
            "basket_id": [1, 2, 1, 3],
            "product_id": [10, 11, 12, 13],
            "quantity": [2, 1, 0, 25_000],
            "sales_value": [3.0, 1.0, 0.0, 35.0],
            "retail_disc": 0.0,
            "coupon_disc": 0.0,
            "coupon_match_disc": 0.0,
            "week": 1,
            "transaction_timestamp": pd.to_datetime(
                [
                    "2017-01-01 11:53:26",
                    "2017-01-01 12:00:00",
                    "2017-01-01 11:53:26",
                    "2017-01-02 00:00:00",
                ]
            ),
        }
    )
    lines.to_parquet(_member(tmp_path, COMPLETE_JOURNEY, COMPLETE_JOURNEY.members[0]))
    products = pd.DataFrame({"product_id": [10, 11, 12, 13], "product_category": list("abcd")})
    products.to_parquet(_member(tmp_path, COMPLETE_JOURNEY, COMPLETE_JOURNEY.members[1]))
    shop = complete_journey(tmp_path)
    assert sorted(set(shop.orders["customer_id"])) == ["900", "902"]
    assert list(shop.orders["unit_price"]) == [1.5, 0.0, 35.0 / 25_000]
    ds = load_dataset(shop.write(tmp_path / "data", before=pd.Timestamp("2017-01-02", tz="UTC")))
    assert list(ds.orders["quantity"]) == [2, 0]  # the contract takes a voided line
    features = baselines.rfm(baselines.baskets(shop.orders), pd.Timestamp("2017-01-03T11:53:26Z"))
    assert features.loc["900", "orders"] == 1 and features.loc["900", "spend"] == 3.0
    assert features.loc["902", "recency_days"] < features.loc["900", "recency_days"]


def test_movielens_keeps_even_users_and_makes_each_rating_one_unit(tmp_path: Path) -> None:
    inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    inter += "196\t242\t3\t881250949\n187\t302\t3\t891717742\n196\t51\t2\t881250950\n"
    _member(tmp_path, MOVIELENS_100K, MOVIELENS_100K.members[0]).write_text(inter)
    item = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    item += "242\tKolya\t1996\tComedy\n51\tLegends\t1994\tDrama Romance War\n302\tLA\t1997\tCrime\n"
    _member(tmp_path, MOVIELENS_100K, MOVIELENS_100K.members[1]).write_text(item)
    shop = movielens_100k(tmp_path)
    assert set(shop.orders["customer_id"]) == {"196"} and len(shop.orders) == 2
    assert (shop.orders["quantity"] == 1).all() and shop.orders["order_id"].is_unique
    assert dict(zip(shop.items["item_id"], shop.items["category"], strict=True))["51"] == "Drama"
    ds = load_dataset(shop.write(tmp_path / "data"))
    assert str(ds.orders["timestamp"].dt.tz) == "UTC"
