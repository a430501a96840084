"""The activity profiles of a data set (``augur.contact.activity``): one activity per order
and per interaction, plus every open and click of the contact log, counted at its local hour
of the week in the customer's zone (the customers table's, else the policy's default). The
event tables are read in chunks, so memory grows with the (customer, hour) pairs, not with
the events."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from augur.contact.activity import SLOTS, slots_of
from augur.training.data.loader import Dataset, iter_table, table_files
from augur.training.offline.batch import utc_seconds


def _events(data: Path, ds: Dataset) -> Iterator[pd.DataFrame]:
    """(customer_id, t) frames: the orders (one per order id), interactions, opens, clicks."""
    files = table_files(data)
    orders_file, interactions_file = files.get("orders"), files.get("interactions")
    if orders_file is not None:
        seen: set[str] = set()
        for chunk in iter_table(orders_file, "orders"):
            orders = chunk.drop_duplicates("order_id")
            orders = orders[~orders["order_id"].isin(seen)]
            seen.update(orders["order_id"])
            yield pd.DataFrame(
                {"customer_id": orders["customer_id"], "t": utc_seconds(orders["timestamp"])}
            )
    if interactions_file is not None:
        for chunk in iter_table(interactions_file, "interactions"):
            yield pd.DataFrame(
                {"customer_id": chunk["customer_id"], "t": utc_seconds(chunk["timestamp"])}
            )
    for column in ("opened_at", "clicked_at"):
        if len(ds.contacts) and column in ds.contacts:
            t = utc_seconds(ds.contacts[column])
            ok = ~np.isnan(t)
            yield pd.DataFrame({"customer_id": ds.contacts["customer_id"][ok], "t": t[ok]})


def activity_counts(
    data: Path, ds: Dataset, zones: Mapping[str, str], default_zone: str, until: float
) -> tuple[pd.Index, np.ndarray]:
    """(customers, customers x SLOTS counts) of the activities up to ``until`` (Unix s)."""
    parts: list[pd.Series] = []
    for frame in _events(data, ds):
        frame = frame[frame["t"] <= until]
        if not len(frame):
            continue
        zone = frame["customer_id"].map(zones).fillna(default_zone).to_numpy()
        slots = np.zeros(len(frame), dtype=np.int64)
        for z in pd.unique(zone):
            rows = zone == z
            slots[rows] = slots_of(frame["t"].to_numpy()[rows], str(z))
        pairs = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy(), "slot": slots})
        parts.append(pairs.value_counts())
    if not parts:
        return pd.Index([]), np.zeros((0, SLOTS))
    total = pd.concat(parts).groupby(level=[0, 1]).sum()
    customers = pd.Index(total.index.get_level_values(0).unique())
    counts = np.zeros((len(customers), SLOTS))
    rows = customers.get_indexer(total.index.get_level_values(0))
    counts[rows, total.index.get_level_values(1).to_numpy()] = total.to_numpy()
    return customers, counts
