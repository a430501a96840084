"""What each customer has in the cart right now, for the recommender's live read.

A shop calling ``Recommend`` on a product page rarely sends the cart along; the ingestion
consumer knows it from the events (an item added, removed, or bought). One Redis sorted set
per customer (``Keys.cart``, the same hash tag as the customer's purchases, so one round trip
reads both): item -> the time it was last added. An item leaves when it is removed or bought;
the set keeps only the last ``CART_SECONDS`` of additions and expires with them, so a cart
left alone for a day no longer steers the answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from augur.features.v1 import features_pb2

CART_SECONDS = 6 * 3600.0  # additions older than this are no session any more

ADD = features_pb2.INTERACTION_TYPE_ADD_TO_CART
REMOVE = features_pb2.INTERACTION_TYPE_REMOVE_FROM_CART


def cart_changes(
    events: Iterable[tuple[features_pb2.Event, float]],
) -> dict[str, tuple[dict[str, float], set[str]]]:
    """customer -> (items added with their time, items removed) from (event, event time)
    pairs: for each item its latest event decides (an order line removes it)."""
    latest: dict[str, dict[str, tuple[float, bool]]] = defaultdict(dict)
    for e, t in events:
        kind = e.WhichOneof("payload")
        if kind == "interaction" and e.interaction.type in (ADD, REMOVE):
            marks = [(e.interaction.item_id, e.interaction.type == ADD)]
        elif kind == "order":
            marks = [(line.item_id, False) for line in e.order.lines if line.quantity > 0]
        else:
            continue
        mine = latest[e.customer_id]
        for item, added in marks:
            if item not in mine or t >= mine[item][0]:
                mine[item] = (t, added)
    out: dict[str, tuple[dict[str, float], set[str]]] = {}
    for customer, items in latest.items():
        adds = {i: t for i, (t, added) in items.items() if added}
        out[customer] = (adds, {i for i, (_, added) in items.items() if not added})
    return out
