"""Contact history -> one training row per logged contact, as of just before its send.

Every counter of the profile (``augur.contact.profile``) is rebuilt as it
stood at each send: sends and opens are one time-ordered event stream per
customer, counted with an exclusive cumulative sum, so a row never sees an
open that happened after its own send time. The same pass gives the profiles
as of the end of the data, which ``augur features materialise`` loads to Redis.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from augur.contact.localtime import DAY, local_fields, zone
from augur.contact.profile import (
    LAST_NAMES,
    N_COUNTERS,
    OPENED,
    OPENED_CHANNEL,
    OPENED_SLOT,
    PURPOSES,
    SENT,
    SENT_CHANNEL,
    SENT_SLOT,
    slot,
)
from augur.features.definitions import CHANNELS
from augur.training.data.loader import Dataset
from augur.training.offline.batch import utc_seconds

DEFAULT_TIMEZONE = "UTC"


@dataclass
class ContactLog:
    """Logged contacts in send order with their state before the send."""

    customer_ids: pd.Index  # customer index -> id
    customer: np.ndarray  # customer index per contact
    time: np.ndarray  # send time, Unix s
    channel: np.ndarray
    hour: np.ndarray
    dow: np.ndarray
    offset: np.ndarray  # customer's UTC offset at send time, s
    purpose: np.ndarray
    opened: np.ndarray  # label: opened or clicked
    counts: np.ndarray  # (n, N_COUNTERS) profile before the send
    last: np.ndarray  # (n, 4) lc, lo, loh, loc before the send
    contacts_7d: np.ndarray
    allowed: np.ndarray  # (n, 4) channels the customer had consented to, at send time
    final_counts: np.ndarray  # (customers, N_COUNTERS) profile after every event
    final_last: np.ndarray  # (customers, 4)

    def __len__(self) -> int:
        return len(self.time)

    def select(self, mask: np.ndarray) -> ContactLog:
        picked = {
            f: getattr(self, f)[mask]
            for f in (
                "customer",
                "time",
                "channel",
                "hour",
                "dow",
                "offset",
                "purpose",
                "opened",
                "counts",
                "last",
                "contacts_7d",
                "allowed",
            )
        }
        return ContactLog(
            self.customer_ids,
            **picked,
            final_counts=self.final_counts,
            final_last=self.final_last,
        )


def customer_timezones(ds: Dataset, ids: pd.Index, default: str = DEFAULT_TIMEZONE) -> np.ndarray:
    """IANA zone name per customer (the default when the customers table has none)."""
    out = np.full(len(ids), default, dtype=object)
    customers = ds.customers
    if len(customers) and "timezone" in customers:
        tz = customers.set_index("customer_id")["timezone"].reindex(ids)
        known = tz.notna().to_numpy() & (tz.fillna("").to_numpy() != "")
        out[known] = tz.to_numpy()[known]
    return out


def customer_consent(ds: Dataset, ids: pd.Index) -> np.ndarray:
    """(customers, 4) consent flags from the customers table (absent = not granted)."""
    out = np.zeros((len(ids), len(CHANNELS)), dtype=bool)
    customers = ds.customers
    if len(customers):
        frame = customers.set_index("customer_id").reindex(ids)
        for c, name in enumerate(CHANNELS):
            col = f"consent_{name}"
            if col in frame:
                out[:, c] = frame[col].fillna(False).astype(bool).to_numpy()
    return out


PROFILE_BLOCK = 500_000  # events per block of the counter computation


def _counters_before(
    counts: np.ndarray,
    final_counts: np.ndarray,
    a: int,
    b: int,
    ev_cust: np.ndarray,
    ev_time: np.ndarray,
    ev_row: np.ndarray,
    s: np.ndarray,
    o: np.ndarray,
    ch: np.ndarray,
    sl: np.ndarray,
) -> None:
    """Counters before each send of events a..b (whole customers), into ``counts`` (by
    contact row), and each customer's counters after all of them into ``final_counts``."""
    m = b - a
    cust, time, sends, opens = ev_cust[a:b], ev_time[a:b], s[a:b], o[a:b]
    inc = np.zeros((m, N_COUNTERS), np.int32)
    r = np.arange(m)
    c, t = ch[a:b], sl[a:b]
    inc[r[sends], SENT] = 1
    inc[r[sends], SENT_CHANNEL + c[sends]] = 1
    inc[r[sends], SENT_SLOT + t[sends]] = 1
    inc[r[opens], OPENED] = 1
    inc[r[opens], OPENED_CHANNEL + c[opens]] = 1
    inc[r[opens], OPENED_SLOT + t[opens]] = 1
    before = np.cumsum(inc, axis=0, dtype=np.int64)
    before -= inc
    starts = np.flatnonzero(np.r_[True, cust[1:] != cust[:-1]])
    before -= np.repeat(before[starts], np.diff(np.r_[starts, m]), axis=0)
    last = np.r_[starts[1:], m] - 1
    final_counts[cust[last]] = before[last] + inc[last]
    # events at the same instant see only what came strictly before it
    ties = np.flatnonzero(np.r_[True, (cust[1:] != cust[:-1]) | (time[1:] != time[:-1])])
    before = before[np.repeat(ties, np.diff(np.r_[ties, m]))]
    counts[ev_row[a:b][sends]] = before[sends]


def build_log(ds: Dataset) -> ContactLog:
    """Every logged contact with the customer's profile just before it was sent."""
    contacts = ds.contacts
    ids = pd.Index(pd.unique(contacts["customer_id"]))
    cust = ids.get_indexer(pd.Index(contacts["customer_id"]))
    sent = utc_seconds(contacts["sent_at"])
    open_t = (
        utc_seconds(contacts["opened_at"])
        if "opened_at" in contacts
        else np.full(len(contacts), np.nan)
    )
    if "clicked_at" in contacts:
        open_t = np.fmin(open_t, utc_seconds(contacts["clicked_at"]))
    unsub_t = (
        utc_seconds(contacts["unsubscribed_at"])
        if "unsubscribed_at" in contacts
        else np.full(len(contacts), np.nan)
    )
    channel = pd.Index(CHANNELS).get_indexer(pd.Index(contacts["channel"])).astype(np.int64)
    purpose = (
        pd.Index(PURPOSES).get_indexer(pd.Index(contacts["purpose"])).astype(np.int64)
        if "purpose" in contacts
        else np.full(len(contacts), PURPOSES.index("promotion"))
    )
    # local clock of every send, one vectorised conversion per zone
    tz_of = customer_timezones(ds, ids)[cust]
    hour = np.zeros(len(contacts), np.int64)
    dow = np.zeros(len(contacts), np.int64)
    offset = np.zeros(len(contacts))
    for name in pd.unique(tz_of):
        rows = np.flatnonzero(tz_of == name)
        grid = local_fields(sent[rows], zone(name))
        hour[rows], dow[rows], offset[rows] = grid.hour, grid.dow, grid.offsets
    slots = slot(hour, dow)

    # one event stream: sends and opens, opens first at equal times
    n = len(contacts)
    opened = ~np.isnan(open_t)
    o_rows = np.flatnonzero(opened)
    ev_cust = np.concatenate([cust, cust[o_rows]])
    ev_time = np.concatenate([sent, open_t[o_rows]])
    ev_is_send = np.concatenate([np.ones(n, bool), np.zeros(len(o_rows), bool)])
    ev_row = np.concatenate([np.arange(n), o_rows])
    order = np.lexsort((ev_is_send, ev_time, ev_cust))
    ev_cust, ev_time, ev_is_send, ev_row = (
        ev_cust[order],
        ev_time[order],
        ev_is_send[order],
        ev_row[order],
    )
    m = len(order)
    ch, sl = channel[ev_row], slots[ev_row]
    s, o = ev_is_send, ~ev_is_send
    starts = np.flatnonzero(np.r_[True, ev_cust[1:] != ev_cust[:-1]])
    # profile counters before every send, computed in blocks of whole customers so memory
    # stays bounded by the block, not the log
    counts = np.zeros((n, N_COUNTERS), np.int32)
    final_counts = np.zeros((len(ids), N_COUNTERS))
    bounds = np.r_[starts[:: max(1, len(starts) * PROFILE_BLOCK // max(m, 1))], m]
    for a, b in itertools.pairwise(bounds):
        _counters_before(counts, final_counts, a, b, ev_cust, ev_time, ev_row, s, o, ch, sl)
    frame = pd.DataFrame(
        {
            "c": ev_cust,
            "send": np.where(s, ev_time, np.nan),
            "open": np.where(o, ev_time, np.nan),
            "oh": np.where(o, hour[ev_row], np.nan).astype(float),
            "oc": np.where(o, ch, np.nan).astype(float),
        }
    )
    grouped = frame.groupby("c", sort=False)
    lc = grouped["send"].shift().groupby(frame["c"]).ffill()
    lasts = grouped[["open", "oh", "oc"]].ffill()  # at a send row: the last open before it
    last_ev = np.column_stack([lc.to_numpy(), lasts.to_numpy()])

    # back to contact order (the order of the table, which is by send time)
    send_pos = np.empty(n, np.int64)
    send_pos[ev_row[s]] = np.flatnonzero(s)
    last = last_ev[send_pos]

    # contacts in the 7 days before each send
    key_order = np.lexsort((sent, cust))
    keys = cust[key_order] * 4e9 + sent[key_order]
    mine = cust * 4e9 + sent
    contacts_7d = (
        np.searchsorted(keys, mine, "left") - np.searchsorted(keys, mine - 7 * DAY, "left")
    ).astype(float)

    # consent at send time: the customers table, minus channels unsubscribed before
    allowed = customer_consent(ds, ids)[cust]
    has_unsub = np.flatnonzero(~np.isnan(unsub_t))
    if len(has_unsub):
        first_unsub = (
            pd.Series(unsub_t[has_unsub])
            .groupby(cust[has_unsub] * len(CHANNELS) + channel[has_unsub])
            .min()
        )
        for c in range(len(CHANNELS)):
            t_u = first_unsub.reindex(cust * len(CHANNELS) + c).to_numpy()
            allowed[:, c] &= ~(sent > t_u)
    allowed[np.arange(n), channel] = True  # a logged send proves the channel was usable

    final_last = np.full((len(ids), len(LAST_NAMES)), np.nan)
    last_row = np.r_[starts[1:] - 1, m - 1]
    final_last[:, 0] = grouped["send"].max().to_numpy()
    tail = lasts.to_numpy()[last_row]
    final_last[ev_cust[last_row], 1:] = tail
    return ContactLog(
        ids,
        cust,
        sent,
        channel,
        hour,
        dow,
        offset,
        purpose,
        opened,
        counts,
        last,
        contacts_7d,
        allowed,
        final_counts,
        final_last,
    )
