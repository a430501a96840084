"""Load the contact state of a data set to Redis: consent and time zone per customer
(the customers table, minus channels unsubscribed in the contacts), each customer's
engagement profile as of the end of the contact history, and the activity profiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from augur.contact.profile import Profile
from augur.contact.state import ContactState
from augur.features.definitions import CHANNELS
from augur.training.contact.activity import activity_counts
from augur.training.contact.dataset import build_log, customer_consent
from augur.training.data.loader import Dataset
from augur.training.offline.batch import utc_seconds


def load_contact_state(ds: Dataset, state: ContactState) -> int:
    """Customers written (every customer of the customers table or the contacts)."""
    known = [ds.customers["customer_id"]] if len(ds.customers) else []
    if len(ds.contacts):
        known.append(ds.contacts["customer_id"])
    if not known:
        return 0
    ids = pd.Index(pd.unique(pd.concat(known, ignore_index=True)))
    consent = customer_consent(ds, ids)
    tz = np.full(len(ids), "", dtype=object)
    if len(ds.customers) and "timezone" in ds.customers:
        zones = ds.customers.set_index("customer_id")["timezone"].reindex(ids).fillna("")
        tz[:] = zones.to_numpy()
    segments = np.full(len(ids), "", dtype=object)
    if len(ds.customers) and "segment" in ds.customers:
        segs = ds.customers.set_index("customer_id")["segment"].reindex(ids).fillna("")
        segments[:] = segs.astype(str).to_numpy()
    profiles: list[dict[str, str]] = [{} for _ in range(len(ids))]
    contacts = ds.contacts
    if len(contacts):
        if "unsubscribed_at" in contacts:
            gone = contacts[~np.isnan(utc_seconds(contacts["unsubscribed_at"]))]
            rows = ids.get_indexer(gone["customer_id"])
            cols = pd.Index(CHANNELS).get_indexer(gone["channel"])
            consent[rows, cols] = False
        log = build_log(ds)
        where = ids.get_indexer(log.customer_ids)
        for i, row in enumerate(where):
            profiles[row] = Profile(log.final_counts[i], log.final_last[i]).to_hash()
    keep = ~state.suppressed_mask(list(ids))  # erased customers are never loaded back
    rows = np.flatnonzero(keep)
    names = [str(c) for c in ids]
    return state.load_customers(
        [names[i] for i in rows],
        consent[rows],
        [tz[i] for i in rows],
        [profiles[i] for i in rows],
        [segments[i] for i in rows],
    )


def load_activity(data: Path, ds: Dataset, state: ContactState, until: float) -> int:
    """Every customer's activity profile as of ``until`` and the shop's (their sum; erased
    customers left out of both); the customers written."""
    zones: dict[str, str] = {}
    if len(ds.customers) and "timezone" in ds.customers:
        known = ds.customers[ds.customers["timezone"].fillna("") != ""]
        zones = dict(zip(known["customer_id"], known["timezone"], strict=True))
    customers, counts = activity_counts(data, ds, zones, state.policy().default_timezone, until)
    keep = np.flatnonzero(~state.suppressed_mask(list(customers)))
    ids = customers.astype(str).tolist()
    names = [ids[i] for i in keep.tolist()]
    return state.activity.load(names, counts[keep], counts[keep].sum(axis=0))
