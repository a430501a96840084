"""Batch feature computation from the event log, as of a cutoff time.

Only events at or before the cutoff enter the computation, so training rows
never see the future. The same ``accumulate``/``finalize`` definitions feed
the online store (``materialise``), so served values equal training values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from augur.features.definitions import (
    CHANNELS,
    INTERACTION_KINDS,
    OUTCOME_KINDS,
    CanonicalEvents,
    EventKind,
    accumulate,
    category_slot,
    finalize,
)
from augur.features.store import FeatureStore
from augur.training.data.loader import Dataset

_CHANNEL_INDEX = {c: i for i, c in enumerate(CHANNELS)}


def utc_seconds(ts: pd.Series) -> np.ndarray:
    """UTC seconds since the Unix epoch (NaT -> NaN)."""
    values = ts.astype("datetime64[us, UTC]")
    out = values.to_numpy(dtype="datetime64[us]").astype("int64").astype(np.float64) / 1e6
    out[values.isna().to_numpy()] = np.nan
    return out


@dataclass
class Part:
    customer: np.ndarray  # customer ids (object)
    ts: np.ndarray
    kind: np.ndarray | int
    value: np.ndarray | float = 0.0
    qty: np.ndarray | float = 0.0
    aux: np.ndarray | int = -1


def canonical_events(ds: Dataset) -> tuple[CanonicalEvents, pd.Index]:
    """Every event of an in-memory data set in canonical form, and the customer id index."""
    parts: list[Part] = []
    if len(ds.orders):
        summary = order_summary(ds.orders)
        parts += order_parts(summary)
        parts.append(line_part(ds.orders, order_times(summary), item_slots(ds.items)))
    if len(ds.interactions):
        parts.append(interaction_part(ds.interactions))
    if len(ds.contacts):
        parts += contact_parts(ds.contacts)
    if len(ds.customers):
        parts.append(signup_part(ds.customers))
    return _assemble(parts)


# One function per table: each works on a whole table or on a chunk of one, so the in-memory
# path above and the streaming one (``augur.training.offline.stream``) build the same events.


def order_summary(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per (customer_id, order_id): time of its first line, revenue, units and
    returned lines. On a chunk it is partial; ``combine_orders`` merges partials."""
    qty = lines["quantity"].to_numpy()
    positive = qty > 0
    amount = qty * lines["unit_price"].to_numpy()
    frame = pd.DataFrame(
        {
            "customer_id": lines["customer_id"].to_numpy(),
            "order_id": lines["order_id"].to_numpy(),
            "ts": utc_seconds(lines["timestamp"]),
            "rev": np.where(positive, amount, 0.0),
            "units": np.where(positive, qty, 0).astype(np.float64),
            "ret": (qty < 0).astype(np.int64),
        }
    )
    return _orders_grouped(frame)


def combine_orders(partials: list[pd.DataFrame]) -> pd.DataFrame:
    """Order summaries of several chunks merged (an order may span chunks)."""
    if len(partials) == 1:
        return partials[0]
    return _orders_grouped(pd.concat(partials, ignore_index=True))


def _orders_grouped(frame: pd.DataFrame) -> pd.DataFrame:
    grouped = frame.groupby(["customer_id", "order_id"], sort=False).agg(
        ts=("ts", "min"), rev=("rev", "sum"), units=("units", "sum"), ret=("ret", "sum")
    )
    return grouped.reset_index()


def order_parts(summary: pd.DataFrame) -> list[Part]:
    """ORDER events (orders with units bought) and RETURN events (orders with returned lines)."""
    bought = summary[summary["units"] > 0]
    returned = summary[summary["ret"] > 0]
    return [
        Part(
            bought["customer_id"].to_numpy(),
            bought["ts"].to_numpy(),
            int(EventKind.ORDER),
            bought["rev"].to_numpy(),
            bought["units"].to_numpy(dtype=np.float64),
        ),
        Part(returned["customer_id"].to_numpy(), returned["ts"].to_numpy(), int(EventKind.RETURN)),
    ]


def order_times(summary: pd.DataFrame) -> pd.Series:
    """Time of each order, indexed by (customer_id, order_id)."""
    return summary.set_index(["customer_id", "order_id"])["ts"]


def item_slots(items: pd.DataFrame) -> pd.Series:
    """Category slot of each item id (empty without an items table)."""
    if not len(items):
        return pd.Series(dtype=np.int64)
    cat = items.set_index("item_id")["category"]
    slots = {c: category_slot(c) for c in cat.unique()}
    return cat.map(slots)


def line_part(lines: pd.DataFrame, times: pd.Series, slots: pd.Series) -> Part:
    """LINE events: every bought line at its order's time, with its amount, units and
    category."""
    pos = lines[lines["quantity"].to_numpy() > 0]
    line_ts = times.reindex(pd.MultiIndex.from_frame(pos[["customer_id", "order_id"]]))
    categories = pos["item_id"].map(slots).fillna(-1).to_numpy(dtype=np.int64)
    return Part(
        pos["customer_id"].to_numpy(),
        line_ts.to_numpy(),
        int(EventKind.LINE),
        pos["quantity"].to_numpy() * pos["unit_price"].to_numpy(),
        pos["quantity"].to_numpy(dtype=np.float64),
        categories,
    )


def interaction_part(inter: pd.DataFrame) -> Part:
    kinds = inter["type"].map({k: int(v) for k, v in INTERACTION_KINDS.items()})
    return Part(
        inter["customer_id"].to_numpy(),
        utc_seconds(inter["timestamp"]),
        kinds.to_numpy(dtype=np.int64),
    )


def contact_parts(contacts: pd.DataFrame) -> list[Part]:
    channel = contacts["channel"].map(_CHANNEL_INDEX).to_numpy(dtype=np.int64)
    parts = [
        Part(
            contacts["customer_id"].to_numpy(),
            utc_seconds(contacts["sent_at"]),
            int(EventKind.CONTACT_SENT),
            aux=channel,
        )
    ]
    for column, kind in OUTCOME_KINDS.items():
        ts = utc_seconds(contacts[column])
        ok = ~np.isnan(ts)
        parts.append(
            Part(contacts["customer_id"].to_numpy()[ok], ts[ok], int(kind), aux=channel[ok])
        )
    return parts


def signup_part(customers: pd.DataFrame) -> Part:
    ts = utc_seconds(customers["signup_at"])
    ok = ~np.isnan(ts)
    return Part(customers["customer_id"].to_numpy()[ok], ts[ok], int(EventKind.SIGNUP))


def _assemble(parts: list[Part]) -> tuple[CanonicalEvents, pd.Index]:
    codes, uniques = pd.factorize(part_customers(parts), sort=True)
    return events_of(parts, codes.astype(np.int64)), pd.Index(uniques, name="customer_id")


def part_customers(parts: list[Part]) -> np.ndarray:
    """Customer ids of every event of the parts, in order."""
    return np.concatenate([p.customer for p in parts]) if parts else np.array([], dtype=object)


def events_of(parts: list[Part], codes: np.ndarray) -> CanonicalEvents:
    """Canonical events of the parts, ``codes`` being the customer index of each event."""

    def col(name: str, dtype: type) -> np.ndarray:
        return (
            np.concatenate(
                [
                    np.broadcast_to(np.asarray(getattr(p, name), dtype=dtype), (len(p.customer),))
                    for p in parts
                ]
            )
            if parts
            else np.zeros(0, dtype=dtype)
        )

    return CanonicalEvents(
        customer=codes,
        ts=col("ts", np.float64),
        kind=col("kind", np.int8),
        value=col("value", np.float64),
        qty=col("qty", np.float64),
        aux=col("aux", np.int16),
    )


@dataclass
class FeatureFrame:
    """Features of the customers known at ``as_of`` (rows in ``customer_ids`` order)."""

    customer_ids: pd.Index
    accumulators: np.ndarray
    values: np.ndarray
    as_of: float

    def to_frame(self) -> pd.DataFrame:
        from augur.features.definitions import FEATURE_NAMES

        return pd.DataFrame(self.values, index=self.customer_ids, columns=list(FEATURE_NAMES))


def customer_features_as_of(
    events: CanonicalEvents, customer_ids: pd.Index, customer: str, as_of: float
) -> np.ndarray:
    """One customer's feature vector as of a time (checks of the online values)."""
    code = customer_ids.get_loc(customer)
    mine = events.select((events.customer == code) & (events.ts <= as_of))
    mine.customer = np.zeros(len(mine), dtype=np.int64)
    return finalize(accumulate(mine, 1), as_of)[0]


def without(frame: FeatureFrame, drop: np.ndarray) -> FeatureFrame:
    """The frame minus the rows flagged in ``drop`` (e.g. erased customers)."""
    keep = ~drop
    return FeatureFrame(
        frame.customer_ids[keep], frame.accumulators[keep], frame.values[keep], frame.as_of
    )


def materialise(frame: FeatureFrame, store: FeatureStore) -> tuple[int, float]:
    """Write a feature frame (vectors + accumulators) to the online store; (rows, seconds)."""
    started = time.perf_counter()
    written = store.write(list(frame.customer_ids), frame.accumulators, frame.values, frame.as_of)
    return written, time.perf_counter() - started
