"""Validation of ingested events and their translation to canonical events.

The translation mirrors ``augur.training.offline.batch.canonical_events`` (the
batch path) kind for kind, so an event counts the same whether it arrives in
a file or through ``IngestEvents``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from augur.common.errors import InvalidArgument
from augur.common.ids import check_id
from augur.common.v1 import common_pb2
from augur.features.definitions import (
    MAX_LINE_QUANTITY,
    CanonicalEvents,
    EventKind,
    category_slot,
)
from augur.features.v1 import features_pb2

MAX_BATCH = 1000
MAX_LINES = 500

_INTERACTION = {
    features_pb2.INTERACTION_TYPE_VIEW: EventKind.VIEW,
    features_pb2.INTERACTION_TYPE_SEARCH: EventKind.SEARCH,
    features_pb2.INTERACTION_TYPE_WISHLIST: EventKind.WISHLIST,
    features_pb2.INTERACTION_TYPE_ADD_TO_CART: EventKind.ADD_TO_CART,
    features_pb2.INTERACTION_TYPE_REMOVE_FROM_CART: EventKind.REMOVE_FROM_CART,
}
_OUTCOME = {
    common_pb2.OUTCOME_TYPE_OPENED: EventKind.CONTACT_OPENED,
    common_pb2.OUTCOME_TYPE_CLICKED: EventKind.CONTACT_CLICKED,
    common_pb2.OUTCOME_TYPE_CONVERTED: EventKind.CONTACT_CONVERTED,
    common_pb2.OUTCOME_TYPE_UNSUBSCRIBED: EventKind.CONTACT_UNSUBSCRIBED,
}
_CHANNELS = (
    common_pb2.CHANNEL_EMAIL,
    common_pb2.CHANNEL_SMS,
    common_pb2.CHANNEL_PUSH,
    common_pb2.CHANNEL_PHONE,
)
_PURPOSES = (
    common_pb2.PURPOSE_UNSPECIFIED,
    common_pb2.PURPOSE_RETENTION,
    common_pb2.PURPOSE_PROMOTION,
    common_pb2.PURPOSE_SERVICE,
)


def event_time(event: features_pb2.Event) -> float:
    ts = event.occurred_at
    return ts.seconds + ts.nanos / 1e9


def validate_batch(events: Sequence[features_pb2.Event], now: float, max_future: float) -> None:
    """Raise InvalidArgument naming the first bad event and field; nothing is written then."""
    if not events:
        raise InvalidArgument("events is empty; send 1..1000 events")
    if len(events) > MAX_BATCH:
        raise InvalidArgument(f"{len(events)} events in one batch; at most {MAX_BATCH}")
    for i, event in enumerate(events):
        try:
            _validate(event, now, max_future)
        except InvalidArgument as exc:
            raise InvalidArgument(f"events[{i}]: {exc.message}") from None


def _validate(e: features_pb2.Event, now: float, max_future: float) -> None:
    check_id(e.event_id, "event_id")
    kind = e.WhichOneof("payload")
    if kind is None:
        raise InvalidArgument(
            "no payload: set one of order, interaction, contact_sent, contact_outcome, item"
        )
    check_id(e.customer_id, "customer_id", required=kind != "item")
    if not e.HasField("occurred_at") or e.occurred_at.seconds <= 0:
        raise InvalidArgument("occurred_at is required")
    if event_time(e) > now + max_future:
        raise InvalidArgument(f"occurred_at is more than {max_future:g} s in the future")
    if kind == "order":
        check_id(e.order.order_id, "order.order_id")
        if not 1 <= len(e.order.lines) <= MAX_LINES:
            raise InvalidArgument(f"order.lines has {len(e.order.lines)} lines; 1..{MAX_LINES}")
        for j, line in enumerate(e.order.lines):
            check_id(line.item_id, f"order.lines[{j}].item_id")
            if abs(line.quantity) > MAX_LINE_QUANTITY:
                raise InvalidArgument(
                    f"order.lines[{j}].quantity must be within ±{MAX_LINE_QUANTITY:,}"
                )
            if not (math.isfinite(line.unit_price) and 0 <= line.unit_price < 1e7):
                raise InvalidArgument(f"order.lines[{j}].unit_price must be in [0, 1e7)")
    elif kind == "interaction":
        if e.interaction.type not in _INTERACTION:
            raise InvalidArgument(f"interaction.type {e.interaction.type} is not a known type")
        check_id(
            e.interaction.item_id,
            "interaction.item_id",
            required=e.interaction.type != features_pb2.INTERACTION_TYPE_SEARCH,
        )
    elif kind == "contact_sent":
        check_id(e.contact_sent.contact_id, "contact_sent.contact_id")
        if e.contact_sent.channel not in _CHANNELS:
            raise InvalidArgument(f"contact_sent.channel {e.contact_sent.channel} is not a channel")
        if e.contact_sent.purpose not in _PURPOSES:
            raise InvalidArgument(f"contact_sent.purpose {e.contact_sent.purpose} is unknown")
    elif kind == "contact_outcome":
        check_id(e.contact_outcome.contact_id, "contact_outcome.contact_id")
        if e.contact_outcome.channel not in _CHANNELS:
            raise InvalidArgument(
                f"contact_outcome.channel {e.contact_outcome.channel} is not a channel"
            )
        if e.contact_outcome.outcome not in _OUTCOME:
            raise InvalidArgument(
                f"contact_outcome.outcome {e.contact_outcome.outcome} is not "
                "OPENED, CLICKED, CONVERTED or UNSUBSCRIBED"
            )
    elif kind == "item":
        check_id(e.item.item_id, "item.item_id")
        if not (math.isfinite(e.item.price) and 0 <= e.item.price < 1e7):
            raise InvalidArgument("item.price must be in [0, 1e7)")


def to_canonical(
    events: Sequence[features_pb2.Event],
    customer_index: dict[str, int],
    categories: Callable[[str], str],
) -> CanonicalEvents:
    """Canonical events of customer events (item events carry none)."""
    cust: list[int] = []
    ts: list[float] = []
    kind: list[int] = []
    value: list[float] = []
    qty: list[float] = []
    aux: list[int] = []

    def add(c: int, t: float, k: EventKind, v: float = 0.0, q: float = 0.0, a: int = -1) -> None:
        cust.append(c)
        ts.append(t)
        kind.append(int(k))
        value.append(v)
        qty.append(q)
        aux.append(a)

    for e in events:
        payload = e.WhichOneof("payload")
        if payload == "item":
            continue
        c = customer_index[e.customer_id]
        t = event_time(e)
        if payload == "order":
            revenue = units = 0.0
            returned = False
            for line in e.order.lines:
                if line.quantity > 0:
                    amount = line.quantity * line.unit_price
                    revenue += amount
                    units += line.quantity
                    slot = category_slot(categories(line.item_id))
                    add(c, t, EventKind.LINE, amount, float(line.quantity), slot)
                elif line.quantity < 0:
                    returned = True
            if units > 0:
                add(c, t, EventKind.ORDER, revenue, units)
            if returned:
                add(c, t, EventKind.RETURN)
        elif payload == "interaction":
            add(c, t, _INTERACTION[e.interaction.type])
        elif payload == "contact_sent":
            add(c, t, EventKind.CONTACT_SENT, a=_CHANNELS.index(e.contact_sent.channel))
        elif payload == "contact_outcome":
            o = e.contact_outcome
            add(c, t, _OUTCOME[o.outcome], a=_CHANNELS.index(o.channel))
    return CanonicalEvents(
        np.array(cust, dtype=np.int64),
        np.array(ts, dtype=np.float64),
        np.array(kind, dtype=np.int8),
        np.array(value, dtype=np.float64),
        np.array(qty, dtype=np.float64),
        np.array(aux, dtype=np.int16),
    )
