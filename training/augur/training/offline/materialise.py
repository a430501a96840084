"""Load a data set into the online store: every customer's features as of a time (streamed
over the event log), the item attributes, and the contact state (consent, time zone,
engagement profile). Erased customers are never loaded back."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from augur.contact.state import ContactState
from augur.features.store import RedisFeatureStore
from augur.training.contact.materialise import load_activity, load_contact_state
from augur.training.data.loader import load_dataset
from augur.training.offline.batch import materialise, without
from augur.training.offline.stream import compute_features


@dataclass
class Loaded:
    customers: int
    as_of: float
    computed_s: float
    written_s: float
    contacted: int


def load_online(data: Path, store: RedisFeatureStore, as_of: pd.Timestamp | None = None) -> Loaded:
    """Raises ``DataError`` (file, row, column) before anything is written."""
    started = time.perf_counter()
    # the event tables stream; the per-customer tables are read whole
    frame = compute_features(data, as_of)
    ds = load_dataset(data, only=("customers", "contacts", "items"))
    computed = time.perf_counter() - started
    store.write_items(
        ds.items["item_id"], ds.items["category"], ds.items["price"], ds.items["in_stock"]
    )
    contact_state = ContactState(store)
    frame = without(frame, contact_state.suppressed_mask(list(frame.customer_ids)))
    rows, seconds = materialise(frame, store)
    store.record_meta(frame.as_of, rows)
    contacted = load_contact_state(ds, contact_state)
    load_activity(data, ds, contact_state, frame.as_of)
    return Loaded(rows, frame.as_of, computed, seconds, contacted)
