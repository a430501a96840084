"""Turns an event-log data set into ``IngestEvents`` messages, in time order.

Used to replay history as live traffic (demo, benchmark, tests). Event ids
are derived from the data (order id, contact id, row number), so a replay
of the same data is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from augur.common.v1 import common_pb2
from augur.features.v1 import features_pb2
from augur.training.data.loader import Dataset

_INTERACTION = {
    "view": features_pb2.INTERACTION_TYPE_VIEW,
    "search": features_pb2.INTERACTION_TYPE_SEARCH,
    "wishlist": features_pb2.INTERACTION_TYPE_WISHLIST,
    "add_to_cart": features_pb2.INTERACTION_TYPE_ADD_TO_CART,
    "remove_from_cart": features_pb2.INTERACTION_TYPE_REMOVE_FROM_CART,
}
_CHANNEL = {
    "email": common_pb2.CHANNEL_EMAIL,
    "sms": common_pb2.CHANNEL_SMS,
    "push": common_pb2.CHANNEL_PUSH,
    "phone": common_pb2.CHANNEL_PHONE,
}
_PURPOSE = {
    "retention": common_pb2.PURPOSE_RETENTION,
    "promotion": common_pb2.PURPOSE_PROMOTION,
    "service": common_pb2.PURPOSE_SERVICE,
}
_OUTCOME = {
    "opened_at": common_pb2.OUTCOME_TYPE_OPENED,
    "clicked_at": common_pb2.OUTCOME_TYPE_CLICKED,
    "converted_at": common_pb2.OUTCOME_TYPE_CONVERTED,
    "unsubscribed_at": common_pb2.OUTCOME_TYPE_UNSUBSCRIBED,
}


def _nanos(series: pd.Series) -> np.ndarray:
    return series.astype("datetime64[ns, UTC]").to_numpy(dtype="datetime64[ns]").astype(np.int64)


def dataset_after(ds: Dataset, as_of: float) -> Dataset:
    """The part of a data set that happened after ``as_of`` (what arrives live)."""
    t = pd.Timestamp(as_of, unit="s", tz="UTC")
    return Dataset(
        orders=ds.orders[ds.orders["timestamp"] > t],
        interactions=ds.interactions[ds.interactions["timestamp"] > t],
        contacts=ds.contacts[ds.contacts["sent_at"] > t],
        customers=ds.customers.iloc[:0],
        items=ds.items,
    )


def dataset_events(ds: Dataset, customers: set[str] | None = None) -> list[features_pb2.Event]:
    """Every customer event of the data set as protobuf events, sorted by time."""
    keyed: list[tuple[int, int, features_pb2.Event]] = []

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        return frame if customers is None else frame[frame["customer_id"].isin(customers)]

    orders = keep(ds.orders)
    if len(orders):
        t = _nanos(orders["timestamp"])
        frame = orders.assign(_t=t)
        for (cust, oid), lines in frame.groupby(["customer_id", "order_id"], sort=False):
            event = features_pb2.Event(event_id=f"o:{oid}", customer_id=str(cust))
            event.occurred_at.FromNanoseconds(int(lines["_t"].min()))
            event.order.order_id = str(oid)
            for item, qty, price in zip(
                lines["item_id"], lines["quantity"], lines["unit_price"], strict=True
            ):
                event.order.lines.add(item_id=item, quantity=int(qty), unit_price=float(price))
            keyed.append((int(lines["_t"].min()), 0, event))
    inter = keep(ds.interactions)
    if len(inter):
        for row, cust, item, t, kind in zip(
            inter.index,
            inter["customer_id"],
            inter["item_id"],
            _nanos(inter["timestamp"]),
            inter["type"],
            strict=True,
        ):
            event = features_pb2.Event(event_id=f"i:{row}", customer_id=cust)
            event.occurred_at.FromNanoseconds(int(t))
            event.interaction.type = _INTERACTION[kind]
            event.interaction.item_id = item
            keyed.append((int(t), 1, event))
    contacts = keep(ds.contacts)
    if len(contacts):
        keyed.extend(_contact_events(contacts))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [e for _, _, e in keyed]


def _contact_events(contacts: pd.DataFrame) -> Iterable[tuple[int, int, features_pb2.Event]]:
    sent = _nanos(contacts["sent_at"])
    for i, (cust, cid, channel, purpose) in enumerate(
        zip(
            contacts["customer_id"],
            contacts["contact_id"],
            contacts["channel"],
            contacts["purpose"],
            strict=True,
        )
    ):
        event = features_pb2.Event(event_id=f"k:{cid}", customer_id=cust)
        event.occurred_at.FromNanoseconds(int(sent[i]))
        event.contact_sent.contact_id = cid
        event.contact_sent.channel = _CHANNEL[channel]
        event.contact_sent.purpose = _PURPOSE[purpose]
        yield int(sent[i]), 2, event
    for column, outcome in _OUTCOME.items():
        ok = contacts[column].notna().to_numpy()
        if not ok.any():
            continue
        rows = contacts[ok]
        for cust, cid, channel, t in zip(
            rows["customer_id"],
            rows["contact_id"],
            rows["channel"],
            _nanos(rows[column]),
            strict=True,
        ):
            event = features_pb2.Event(event_id=f"k:{cid}:{column}", customer_id=cust)
            event.occurred_at.FromNanoseconds(int(t))
            event.contact_outcome.contact_id = cid
            event.contact_outcome.channel = _CHANNEL[channel]
            event.contact_outcome.outcome = outcome
            yield int(t), 3, event
