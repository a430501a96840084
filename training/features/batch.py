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

from services.common.features.definitions import (
    CHANNELS,
    INTERACTION_KINDS,
    OUTCOME_KINDS,
    CanonicalEvents,
    EventKind,
    accumulate,
    category_slot,
    finalize,
)
from services.common.features.store import FeatureStore
from training.data.loader import Dataset

_CHANNEL_INDEX = {c: i for i, c in enumerate(CHANNELS)}


def utc_seconds(ts: pd.Series) -> np.ndarray:
    """UTC seconds since the Unix epoch (NaT -> NaN)."""
    values = ts.astype("datetime64[us, UTC]")
    out = values.to_numpy(dtype="datetime64[us]").astype("int64").astype(np.float64) / 1e6
    out[values.isna().to_numpy()] = np.nan
    return out


@dataclass
class _Part:
    customer: np.ndarray  # customer ids (object)
    ts: np.ndarray
    kind: np.ndarray | int
    value: np.ndarray | float = 0.0
    qty: np.ndarray | float = 0.0
    aux: np.ndarray | int = -1


def canonical_events(ds: Dataset) -> tuple[CanonicalEvents, pd.Index]:
    """Every event of the data set in canonical form, and the customer id index."""
    parts: list[_Part] = []
    orders = ds.orders
    if len(orders):
        lines = orders.assign(
            _ts=utc_seconds(orders["timestamp"]),
            _amount=orders["quantity"].to_numpy() * orders["unit_price"].to_numpy(),
            _pos=orders["quantity"].to_numpy() > 0,
        )
        lines["_units"] = np.where(lines["_pos"], lines["quantity"], 0)
        lines["_rev"] = np.where(lines["_pos"], lines["_amount"], 0.0)
        lines["_ret"] = (~lines["_pos"]).astype(np.int64)
        grouped = lines.groupby(["customer_id", "order_id"], sort=False).agg(
            ts=("_ts", "min"), rev=("_rev", "sum"), units=("_units", "sum"), ret=("_ret", "sum")
        )
        grouped = grouped.reset_index()
        bought = grouped[grouped["units"] > 0]
        parts.append(
            _Part(
                bought["customer_id"].to_numpy(),
                bought["ts"].to_numpy(),
                int(EventKind.ORDER),
                bought["rev"].to_numpy(),
                bought["units"].to_numpy(dtype=np.float64),
            )
        )
        returned = grouped[grouped["ret"] > 0]
        parts.append(
            _Part(
                returned["customer_id"].to_numpy(), returned["ts"].to_numpy(), int(EventKind.RETURN)
            )
        )
        pos = lines[lines["_pos"]]
        order_ts = grouped.set_index(["customer_id", "order_id"])["ts"]
        line_ts = order_ts.reindex(pd.MultiIndex.from_frame(pos[["customer_id", "order_id"]]))
        categories = _item_categories(ds, pos["item_id"])
        parts.append(
            _Part(
                pos["customer_id"].to_numpy(),
                line_ts.to_numpy(),
                int(EventKind.LINE),
                pos["_amount"].to_numpy(),
                0.0,
                categories,
            )
        )
    inter = ds.interactions
    if len(inter):
        kinds = inter["type"].map({k: int(v) for k, v in INTERACTION_KINDS.items()})
        parts.append(
            _Part(
                inter["customer_id"].to_numpy(),
                utc_seconds(inter["timestamp"]),
                kinds.to_numpy(dtype=np.int64),
            )
        )
    contacts = ds.contacts
    if len(contacts):
        channel = contacts["channel"].map(_CHANNEL_INDEX).to_numpy(dtype=np.int64)
        parts.append(
            _Part(
                contacts["customer_id"].to_numpy(),
                utc_seconds(contacts["sent_at"]),
                int(EventKind.CONTACT_SENT),
                aux=channel,
            )
        )
        for column, kind in OUTCOME_KINDS.items():
            ts = utc_seconds(contacts[column])
            ok = ~np.isnan(ts)
            parts.append(
                _Part(contacts["customer_id"].to_numpy()[ok], ts[ok], int(kind), aux=channel[ok])
            )
    customers = ds.customers
    if len(customers):
        ts = utc_seconds(customers["signup_at"])
        ok = ~np.isnan(ts)
        parts.append(_Part(customers["customer_id"].to_numpy()[ok], ts[ok], int(EventKind.SIGNUP)))
    return _assemble(parts)


def _item_categories(ds: Dataset, item_ids: pd.Series) -> np.ndarray:
    if not len(ds.items):
        return np.full(len(item_ids), -1, dtype=np.int64)
    cat = ds.items.set_index("item_id")["category"]
    slots = {c: category_slot(c) for c in cat.unique()}
    return item_ids.map(cat).map(slots).fillna(-1).to_numpy(dtype=np.int64)


def _assemble(parts: list[_Part]) -> tuple[CanonicalEvents, pd.Index]:
    ids = np.concatenate([p.customer for p in parts]) if parts else np.array([], dtype=object)
    codes, uniques = pd.factorize(ids, sort=True)

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

    events = CanonicalEvents(
        customer=codes.astype(np.int64),
        ts=col("ts", np.float64),
        kind=col("kind", np.int8),
        value=col("value", np.float64),
        qty=col("qty", np.float64),
        aux=col("aux", np.int16),
    )
    return events, pd.Index(uniques, name="customer_id")


@dataclass
class FeatureFrame:
    """Features of the customers known at ``as_of`` (rows in ``customer_ids`` order)."""

    customer_ids: pd.Index
    accumulators: np.ndarray
    values: np.ndarray
    as_of: float

    def to_frame(self) -> pd.DataFrame:
        from services.common.features.definitions import FEATURE_NAMES

        return pd.DataFrame(self.values, index=self.customer_ids, columns=list(FEATURE_NAMES))


def features_as_of(events: CanonicalEvents, customer_ids: pd.Index, as_of: float) -> FeatureFrame:
    """Features of every customer with at least one non-signup event at or before ``as_of``."""
    past = events.select(events.ts <= as_of)
    acc = accumulate(past, len(customer_ids))
    known = np.isfinite(acc[:, 0])  # first_event_ts set
    acc = acc[known]
    return FeatureFrame(customer_ids[known], acc, finalize(acc, as_of), as_of)


def customer_features_as_of(
    events: CanonicalEvents, customer_ids: pd.Index, customer: str, as_of: float
) -> np.ndarray:
    """One customer's feature vector as of a time (checks of the online values)."""
    code = customer_ids.get_loc(customer)
    mine = events.select((events.customer == code) & (events.ts <= as_of))
    mine.customer = np.zeros(len(mine), dtype=np.int64)
    return finalize(accumulate(mine, 1), as_of)[0]


def compute_features(ds: Dataset, as_of: pd.Timestamp | float) -> FeatureFrame:
    """Convenience: canonical events of a data set, then features as of the cutoff."""
    events, ids = canonical_events(ds)
    t = as_of if isinstance(as_of, float) else pd.Timestamp(as_of).timestamp()
    return features_as_of(events, ids, float(t))


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
