"""Every customer feature, defined once, for training and for serving.

Events are first turned into *canonical events* (customer, time, kind,
value, quantity, aux). Canonical events fold into a fixed-size per-customer
*accumulator* (sums, minima, maxima and exponentially decayed sums), and the
accumulator is *finalised* into the feature vector as of a time T.

* Batch: all events up to T -> ``accumulate`` -> ``finalize(acc, T)``.
* Online: the ingestion consumer folds new events into the stored
  accumulator with the same ``accumulate`` + ``merge`` and finalises at the
  event time, so the online value equals the batch value at that time.

Windowed quantities are exponentially decayed sums with a half-life h:
S_h(T) = sum_i x_i * 2^(-(T - t_i)/h) — "orders_hl30" reads as "orders, weighting an order 30
days ago by one half". The accumulator stores each one as L = log2(sum_i x_i * 2^(t_i/h)) (t in
days since 1970): merging is then ``logaddexp2`` (order-free, exactly mergeable) and reading is
S_h(T) = 2^(L - T/h). In the log domain nothing overflows or underflows for any timestamp
(feature set 2 stored the sums themselves relative to 2020-01-01, which overflowed after 2039
and underflowed to NaN for data before about 1995). Every decayed quantity is non-negative, an
empty sum is L = -inf.

Version history: 3 stores the decayed sums in the log domain (exact from 1970 to 2100 and
beyond) and counts the usual gap between orders as at least a day; 2 added the per-category
unit-price sums and ``category_price_change`` (a rise in the price paid within a category, the
observable side of a price increase on a customer's usual items).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

FEATURE_SET_VERSION = 3
DAY = 86400.0
N_CATEGORY_SLOTS = 16
MAX_LINE_QUANTITY = 1_000_000
"""Largest |quantity| of an order line. Real exports carry measured quantities (fuel, weight)
far above any count of units; 0 is a line with nothing bought or returned (a voided or free
line, a zero-priced add-on): it is kept in the order and adds nothing to the features."""
CHANNELS = ("email", "sms", "push", "phone")


class EventKind(IntEnum):
    """Kinds of canonical events."""

    ORDER = 0  # value = revenue of positive lines, qty = units bought
    LINE = 1  # one positive order line; value = line revenue, qty = units, aux = category slot
    RETURN = 2  # an order with returned lines; value = refund, qty = units returned
    VIEW = 3
    SEARCH = 4
    WISHLIST = 5
    ADD_TO_CART = 6
    REMOVE_FROM_CART = 7
    CONTACT_SENT = 8  # aux = channel index
    CONTACT_OPENED = 9  # aux = channel index
    CONTACT_CLICKED = 10
    CONTACT_CONVERTED = 11
    CONTACT_UNSUBSCRIBED = 12
    SIGNUP = 13  # from the customers table


INTERACTION_KINDS = {
    "view": EventKind.VIEW,
    "search": EventKind.SEARCH,
    "wishlist": EventKind.WISHLIST,
    "add_to_cart": EventKind.ADD_TO_CART,
    "remove_from_cart": EventKind.REMOVE_FROM_CART,
}
OUTCOME_KINDS = {
    "opened_at": EventKind.CONTACT_OPENED,
    "clicked_at": EventKind.CONTACT_CLICKED,
    "converted_at": EventKind.CONTACT_CONVERTED,
    "unsubscribed_at": EventKind.CONTACT_UNSUBSCRIBED,
}


def category_slot(category: str) -> int:
    """Stable slot of a category for the category-mix features; -1 when unknown."""
    if not category:
        return -1
    return zlib.crc32(category.encode()) % N_CATEGORY_SLOTS


@dataclass
class CanonicalEvents:
    """Column arrays of canonical events; ``customer`` indexes a customer list."""

    customer: np.ndarray  # int64
    ts: np.ndarray  # float64 seconds since the Unix epoch (UTC)
    kind: np.ndarray  # int8
    value: np.ndarray  # float64
    qty: np.ndarray  # float64
    aux: np.ndarray  # int16

    def __len__(self) -> int:
        return len(self.ts)

    def select(self, mask: np.ndarray) -> CanonicalEvents:
        return CanonicalEvents(
            self.customer[mask],
            self.ts[mask],
            self.kind[mask],
            self.value[mask],
            self.qty[mask],
            self.aux[mask],
        )

    @staticmethod
    def concat(parts: list[CanonicalEvents]) -> CanonicalEvents:
        if not parts:
            return empty_events()
        return CanonicalEvents(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


_FIELDS = ("customer", "ts", "kind", "value", "qty", "aux")


def empty_events() -> CanonicalEvents:
    return CanonicalEvents(
        np.zeros(0, np.int64),
        np.zeros(0),
        np.zeros(0, np.int8),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0, np.int16),
    )


# ---------------------------------------------------------------- accumulator


class Op(IntEnum):
    SUM = 0
    MIN = 1
    MAX = 2


_slots: list[tuple[str, Op, float]] = []  # (name, op, half-life days or 0)


def _slot(name: str, op: Op, half_life: float = 0.0) -> int:
    _slots.append((name, op, half_life))
    return len(_slots) - 1


A_FIRST_EVENT = _slot("first_event_ts", Op.MIN)
A_SIGNUP = _slot("signup_ts", Op.MIN)
A_FIRST_ORDER = _slot("first_order_ts", Op.MIN)
A_LAST_ORDER = _slot("last_order_ts", Op.MAX)
A_N_ORDERS = _slot("n_orders", Op.SUM)
A_REVENUE = _slot("revenue", Op.SUM)
A_UNITS = _slot("units", Op.SUM)
A_N_RETURNS = _slot("n_returns", Op.SUM)
A_LAST_VIEW = _slot("last_view_ts", Op.MAX)
A_LAST_CART = _slot("last_cart_ts", Op.MAX)
A_LAST_CONTACT = _slot("last_contact_ts", Op.MAX)
A_LAST_RESPONSE = _slot("last_response_ts", Op.MAX)
A_N_UNSUB = _slot("n_unsubscribes", Op.SUM)
A_ORDERS = {h: _slot(f"orders_hl{h}", Op.SUM, h) for h in (7, 30, 90, 365)}
A_REVENUE_D = {h: _slot(f"revenue_hl{h}", Op.SUM, h) for h in (30, 90, 365)}
A_UNITS_D = {h: _slot(f"units_hl{h}", Op.SUM, h) for h in (30, 365)}
A_RETURNS = {h: _slot(f"returns_hl{h}", Op.SUM, h) for h in (90, 365)}
A_VIEWS = {h: _slot(f"views_hl{h}", Op.SUM, h) for h in (7, 30, 90)}
A_CARTS = {h: _slot(f"carts_hl{h}", Op.SUM, h) for h in (30,)}
A_REMOVES = _slot("removes_hl30", Op.SUM, 30)
A_WISHLIST = _slot("wishlist_hl90", Op.SUM, 90)
A_SEARCH = _slot("searches_hl30", Op.SUM, 30)
A_CONTACTS = {h: _slot(f"contacts_hl{h}", Op.SUM, h) for h in (30, 90)}
A_RESPONSES = {h: _slot(f"responses_hl{h}", Op.SUM, h) for h in (30, 90)}
A_CONVERSIONS = _slot("conversions_hl90", Op.SUM, 90)
A_SENT_CH = _slot("sent_email_hl90", Op.SUM, 90)
for _ch in CHANNELS[1:]:
    _slot(f"sent_{_ch}_hl90", Op.SUM, 90)
A_RESP_CH = _slot("resp_email_hl90", Op.SUM, 90)
for _ch in CHANNELS[1:]:
    _slot(f"resp_{_ch}_hl90", Op.SUM, 90)


def _category_slots(name: str, half_life: float) -> int:
    """One decayed sum per category slot; returns the first slot."""
    first = _slot(name.format(0), Op.SUM, half_life)
    for k in range(1, N_CATEGORY_SLOTS):
        _slot(name.format(k), Op.SUM, half_life)
    return first


A_CAT = _category_slots("catspend_{}_hl365", 365)
A_CAT_SPEND30 = _category_slots("catspend_{}_hl30", 30)
A_CAT_UNITS30 = _category_slots("catunits_{}_hl30", 30)
A_CAT_UNITS365 = _category_slots("catunits_{}_hl365", 365)
A_STREAM_MS = _slot("last_stream_ms", Op.MAX)  # bookkeeping of the online consumer
A_STREAM_SEQ = _slot("last_stream_seq", Op.MAX)

ACC_NAMES = tuple(s[0] for s in _slots)
ACC_OPS = np.array([s[1] for s in _slots], dtype=np.int8)
ACC_HALF_LIFE = np.array([s[2] for s in _slots], dtype=np.float64)
ACC_SIZE = len(_slots)
_DECAYED_IDX = np.flatnonzero((ACC_OPS == Op.SUM) & (ACC_HALF_LIFE > 0))
_SUM_IDX = np.flatnonzero((ACC_OPS == Op.SUM) & (ACC_HALF_LIFE == 0))
_MIN_IDX = np.flatnonzero(ACC_OPS == Op.MIN)
_MAX_IDX = np.flatnonzero(ACC_OPS == Op.MAX)

# (slot, source, channel-or-category offset?) per event kind. Source: ts|value|qty|one.
_RULES: dict[EventKind, list[tuple[int, str, bool]]] = {
    EventKind.ORDER: [
        (A_FIRST_ORDER, "ts", False),
        (A_LAST_ORDER, "ts", False),
        (A_N_ORDERS, "one", False),
        (A_REVENUE, "value", False),
        (A_UNITS, "qty", False),
        *((s, "one", False) for s in A_ORDERS.values()),
        *((s, "value", False) for s in A_REVENUE_D.values()),
        *((s, "qty", False) for s in A_UNITS_D.values()),
    ],
    EventKind.LINE: [
        (A_CAT, "value", True),
        (A_CAT_SPEND30, "value", True),
        (A_CAT_UNITS30, "qty", True),
        (A_CAT_UNITS365, "qty", True),
    ],
    EventKind.RETURN: [
        (A_N_RETURNS, "one", False),
        *((s, "one", False) for s in A_RETURNS.values()),
    ],
    EventKind.VIEW: [(A_LAST_VIEW, "ts", False), *((s, "one", False) for s in A_VIEWS.values())],
    EventKind.SEARCH: [(A_SEARCH, "one", False)],
    EventKind.WISHLIST: [(A_WISHLIST, "one", False)],
    EventKind.ADD_TO_CART: [
        (A_LAST_CART, "ts", False),
        *((s, "one", False) for s in A_CARTS.values()),
    ],
    EventKind.REMOVE_FROM_CART: [(A_REMOVES, "one", False)],
    EventKind.CONTACT_SENT: [
        (A_LAST_CONTACT, "ts", False),
        *((s, "one", False) for s in A_CONTACTS.values()),
        (A_SENT_CH, "one", True),
    ],
    EventKind.CONTACT_OPENED: [
        (A_LAST_RESPONSE, "ts", False),
        *((s, "one", False) for s in A_RESPONSES.values()),
        (A_RESP_CH, "one", True),
    ],
    EventKind.CONTACT_CLICKED: [(A_LAST_RESPONSE, "ts", False)],
    EventKind.CONTACT_CONVERTED: [(A_LAST_RESPONSE, "ts", False), (A_CONVERSIONS, "one", False)],
    EventKind.CONTACT_UNSUBSCRIBED: [(A_N_UNSUB, "one", False)],
    EventKind.SIGNUP: [(A_SIGNUP, "ts", False)],
}


def empty_acc(n: int) -> np.ndarray:
    """Accumulators of n customers with no events."""
    acc = np.zeros((n, ACC_SIZE), dtype=np.float64)
    acc[:, _MIN_IDX] = np.inf
    acc[:, _MAX_IDX] = -np.inf
    acc[:, _DECAYED_IDX] = -np.inf  # log2 of an empty sum
    return acc


def _log_terms(x: np.ndarray, ts: np.ndarray, half_life_days: float) -> np.ndarray:
    """log2(x * 2^(t/h)) of each term of a decayed sum (-inf for x == 0)."""
    if (x < 0).any():
        raise ValueError("a decayed sum takes non-negative terms only")
    with np.errstate(divide="ignore"):
        return np.log2(x) + ts / (half_life_days * DAY)


def accumulate(events: CanonicalEvents, n_customers: int) -> np.ndarray:
    """Fold canonical events into fresh accumulators (one row per customer index)."""
    acc = empty_acc(n_customers)
    if len(events) == 0:
        return acc
    flat = acc.reshape(-1)
    kinds = events.kind
    first_event = np.full(n_customers, np.inf)
    active = kinds != EventKind.SIGNUP
    np.minimum.at(first_event, events.customer[active], events.ts[active])
    acc[:, A_FIRST_EVENT] = first_event
    for kind, rules in _RULES.items():
        mask = kinds == kind
        if not mask.any():
            continue
        cust = events.customer[mask]
        ts = events.ts[mask]
        aux = events.aux[mask].astype(np.int64)
        sources = {
            "ts": ts,
            "value": events.value[mask],
            "qty": events.qty[mask],
            "one": np.ones(len(ts)),
        }
        for slot, source, offset in rules:
            x = sources[source]
            if offset:
                ok = aux >= 0
                rows, cols, x_ok, ts_ok = cust[ok], slot + aux[ok], x[ok], ts[ok]
            else:
                rows, cols, x_ok, ts_ok = cust, np.full(len(cust), slot), x, ts
            op = ACC_OPS[slot]
            idx = rows * ACC_SIZE + cols
            if op == Op.SUM and ACC_HALF_LIFE[slot] > 0:
                _log_add_at(flat, idx, _log_terms(x_ok, ts_ok, ACC_HALF_LIFE[slot]))
            elif op == Op.SUM:
                flat += np.bincount(idx, weights=x_ok, minlength=flat.size)
            elif op == Op.MIN:
                np.minimum.at(flat, idx, x_ok)
            else:
                np.maximum.at(flat, idx, x_ok)
    return acc


def _log_add_at(flat: np.ndarray, idx: np.ndarray, terms: np.ndarray) -> None:
    """flat[idx] = log2(2^flat[idx] + sum of 2^terms at idx), without overflow: each cell's
    terms are scaled by their largest before summing."""
    peak = np.full(flat.size, -np.inf)
    np.maximum.at(peak, idx, terms)
    cells = np.flatnonzero(np.isfinite(peak))
    if not len(cells):
        return
    shift = peak[idx]
    with np.errstate(invalid="ignore"):
        scaled = np.where(np.isfinite(terms), np.exp2(terms - shift), 0.0)
    sums = np.bincount(idx, weights=scaled, minlength=flat.size)[cells]
    with np.errstate(divide="ignore"):
        flat[cells] = np.logaddexp2(flat[cells], np.log2(sums) + peak[cells])


def merge(acc: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Combine two accumulators of the same customers (order-free)."""
    out = acc.copy()
    out[..., _SUM_IDX] += delta[..., _SUM_IDX]
    out[..., _DECAYED_IDX] = np.logaddexp2(acc[..., _DECAYED_IDX], delta[..., _DECAYED_IDX])
    out[..., _MIN_IDX] = np.minimum(acc[..., _MIN_IDX], delta[..., _MIN_IDX])
    out[..., _MAX_IDX] = np.maximum(acc[..., _MAX_IDX], delta[..., _MAX_IDX])
    return out


# ---------------------------------------------------------------- features


@dataclass(frozen=True)
class Feature:
    """A served feature: name and the sentence a retention agent reads."""

    name: str
    doc: str


FEATURES: tuple[Feature, ...] = (
    Feature("tenure_days", "days since sign-up or first activity"),
    Feature("days_since_last_order", "days since the last order"),
    Feature("days_since_first_order", "days since the first order"),
    Feature("orders_total", "orders ever placed"),
    Feature("revenue_total", "total spend"),
    Feature("avg_order_value", "average order value"),
    Feature("mean_days_between_orders", "usual number of days between orders"),
    Feature("order_overdue_ratio", "days since last order relative to the usual gap"),
    Feature("orders_hl7", "orders in recent days (7-day half-life)"),
    Feature("orders_hl30", "orders in recent weeks (30-day half-life)"),
    Feature("orders_hl90", "orders in recent months (90-day half-life)"),
    Feature("orders_hl365", "orders over the past year (365-day half-life)"),
    Feature("revenue_hl30", "spend in recent weeks"),
    Feature("revenue_hl90", "spend in recent months"),
    Feature("revenue_hl365", "spend over the past year"),
    Feature("order_trend", "recent order rate relative to the yearly rate"),
    Feature("revenue_trend", "recent spend rate relative to the yearly rate"),
    Feature("returns_hl90", "returns in recent months"),
    Feature("return_rate", "share of orders with a return over the past year"),
    Feature("views_hl7", "product views in recent days"),
    Feature("views_hl30", "product views in recent weeks"),
    Feature("views_hl90", "product views in recent months"),
    Feature("browsing_trend", "recent browsing rate relative to the usual rate"),
    Feature("days_since_last_view", "days since the last product view"),
    Feature("carts_hl30", "items added to the cart in recent weeks"),
    Feature("cart_to_order_ratio", "cart additions per order in recent weeks"),
    Feature("removes_hl30", "items removed from the cart in recent weeks"),
    Feature("wishlist_hl90", "wish-list additions in recent months"),
    Feature("searches_hl30", "searches in recent weeks"),
    Feature("days_since_last_cart", "days since the last cart addition"),
    Feature("contacts_hl30", "contacts received in recent weeks"),
    Feature("contacts_hl90", "contacts received in recent months"),
    Feature("responses_hl30", "contacts answered in recent weeks"),
    Feature("unanswered_contacts_hl30", "contacts left unanswered in recent weeks"),
    Feature("response_rate_hl90", "share of contacts answered in recent months"),
    Feature("days_since_last_contact", "days since the last contact"),
    Feature("days_since_last_response", "days since the customer last answered a contact"),
    *(Feature(f"response_rate_{ch}", f"{ch} response rate (smoothed)") for ch in CHANNELS),
    Feature("conversions_hl90", "conversions from contacts in recent months"),
    Feature("unsubscribes_total", "unsubscriptions ever"),
    Feature("top_category_share", "share of spend in the favourite category"),
    Feature("category_entropy", "spread of spend across categories (bits)"),
    Feature("avg_unit_price_hl30", "average unit price paid in recent weeks"),
    Feature("unit_price_change", "recent unit price paid relative to the yearly average"),
    Feature(
        "category_price_change",
        "largest change of the unit price paid within one category, recent weeks against "
        "the year (categories with at least one unit bought recently)",
    ),
)
CATEGORY_PRICE_MIN_UNITS = 1.0  # decayed units (30-day half-life) a category needs
FEATURE_NAMES = tuple(f.name for f in FEATURES)
N_FEATURES = len(FEATURES)
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}


def feature_index(name: str) -> int:
    return _INDEX[name]


def _decayed(acc: np.ndarray, slot: int, as_of: np.ndarray) -> np.ndarray:
    return np.exp2(acc[:, slot] - as_of / (ACC_HALF_LIFE[slot] * DAY))


def _rate(value: np.ndarray, half_life_days: float) -> np.ndarray:
    """Events per day implied by a decayed sum (its mean age is h / ln 2)."""
    return value * np.log(2) / half_life_days


def _days_since(ts: np.ndarray, as_of: np.ndarray) -> np.ndarray:
    out = (as_of - ts) / DAY
    out[~np.isfinite(ts)] = np.nan
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    out[~np.isfinite(out)] = np.nan
    return out


def finalize(acc: np.ndarray, as_of: np.ndarray | float) -> np.ndarray:
    """Feature matrix (float32, one row per accumulator row) as of the given time(s)."""
    acc = np.atleast_2d(acc)
    n = acc.shape[0]
    t = np.broadcast_to(np.asarray(as_of, dtype=np.float64), (n,))
    out = np.empty((n, N_FEATURES), dtype=np.float64)
    d: dict[int, np.ndarray] = {
        int(slot): _decayed(acc, int(slot), t) for slot in np.flatnonzero(ACC_HALF_LIFE > 0)
    }

    start = np.minimum(acc[:, A_SIGNUP], acc[:, A_FIRST_EVENT])
    n_orders = acc[:, A_N_ORDERS]
    span = (acc[:, A_LAST_ORDER] - acc[:, A_FIRST_ORDER]) / DAY
    # at least a day: several baskets on one day are one shopping trip, and a gap of minutes
    # made the overdue ratio explode (205,787x the usual gap)
    mean_gap = np.where(n_orders >= 2, np.maximum(_ratio(span, n_orders - 1), 1.0), np.nan)
    since_last_order = _days_since(acc[:, A_LAST_ORDER], t)
    contacts30, resp30 = d[A_CONTACTS[30]], d[A_RESPONSES[30]]
    spend = np.stack([d[A_CAT + k] for k in range(N_CATEGORY_SLOTS)], axis=1)
    total_spend = spend.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = spend / total_spend[:, None]
        entropy = -np.nansum(np.where(shares > 0, shares * np.log2(shares), 0.0), axis=1)
    unit30 = _ratio(d[A_REVENUE_D[30]], d[A_UNITS_D[30]])
    cat_units30 = np.stack([d[A_CAT_UNITS30 + k] for k in range(N_CATEGORY_SLOTS)], axis=1)
    cat_unit30 = _ratio(
        np.stack([d[A_CAT_SPEND30 + k] for k in range(N_CATEGORY_SLOTS)], axis=1), cat_units30
    )
    cat_unit365 = _ratio(
        spend, np.stack([d[A_CAT_UNITS365 + k] for k in range(N_CATEGORY_SLOTS)], axis=1)
    )
    cat_change = _ratio(cat_unit30, cat_unit365)
    cat_change[~(cat_units30 >= CATEGORY_PRICE_MIN_UNITS) | np.isnan(cat_change)] = -np.inf
    category_price_change = cat_change.max(axis=1) - 1.0
    category_price_change[~np.isfinite(category_price_change)] = np.nan
    unit365 = _ratio(d[A_REVENUE_D[365]], d[A_UNITS_D[365]])

    cols = {
        "tenure_days": _days_since(start, t),
        "days_since_last_order": since_last_order,
        "days_since_first_order": _days_since(acc[:, A_FIRST_ORDER], t),
        "orders_total": n_orders,
        "revenue_total": acc[:, A_REVENUE],
        "avg_order_value": _ratio(acc[:, A_REVENUE], n_orders),
        "mean_days_between_orders": mean_gap,
        "order_overdue_ratio": _ratio(since_last_order, mean_gap),
        "orders_hl7": d[A_ORDERS[7]],
        "orders_hl30": d[A_ORDERS[30]],
        "orders_hl90": d[A_ORDERS[90]],
        "orders_hl365": d[A_ORDERS[365]],
        "revenue_hl30": d[A_REVENUE_D[30]],
        "revenue_hl90": d[A_REVENUE_D[90]],
        "revenue_hl365": d[A_REVENUE_D[365]],
        "order_trend": _ratio(_rate(d[A_ORDERS[30]], 30), _rate(d[A_ORDERS[365]], 365)),
        "revenue_trend": _ratio(_rate(d[A_REVENUE_D[30]], 30), _rate(d[A_REVENUE_D[365]], 365)),
        "returns_hl90": d[A_RETURNS[90]],
        "return_rate": _ratio(d[A_RETURNS[365]], d[A_ORDERS[365]]),
        "views_hl7": d[A_VIEWS[7]],
        "views_hl30": d[A_VIEWS[30]],
        "views_hl90": d[A_VIEWS[90]],
        "browsing_trend": _ratio(_rate(d[A_VIEWS[7]], 7), _rate(d[A_VIEWS[90]], 90)),
        "days_since_last_view": _days_since(acc[:, A_LAST_VIEW], t),
        "carts_hl30": d[A_CARTS[30]],
        "cart_to_order_ratio": d[A_CARTS[30]] / (d[A_ORDERS[30]] + 1.0),
        "removes_hl30": d[A_REMOVES],
        "wishlist_hl90": d[A_WISHLIST],
        "searches_hl30": d[A_SEARCH],
        "days_since_last_cart": _days_since(acc[:, A_LAST_CART], t),
        "contacts_hl30": contacts30,
        "contacts_hl90": d[A_CONTACTS[90]],
        "responses_hl30": resp30,
        "unanswered_contacts_hl30": np.maximum(contacts30 - resp30, 0.0),
        "response_rate_hl90": (d[A_RESPONSES[90]] + 0.5) / (d[A_CONTACTS[90]] + 2.0),
        "days_since_last_contact": _days_since(acc[:, A_LAST_CONTACT], t),
        "days_since_last_response": _days_since(acc[:, A_LAST_RESPONSE], t),
        **{
            f"response_rate_{ch}": (d[A_RESP_CH + i] + 0.5) / (d[A_SENT_CH + i] + 2.0)
            for i, ch in enumerate(CHANNELS)
        },
        "conversions_hl90": d[A_CONVERSIONS],
        "unsubscribes_total": acc[:, A_N_UNSUB],
        "top_category_share": _ratio(spend.max(axis=1), total_spend),
        "category_entropy": np.where(total_spend > 0, entropy, np.nan),
        "avg_unit_price_hl30": unit30,
        "unit_price_change": _ratio(unit30, unit365),
        "category_price_change": category_price_change,
    }
    for i, name in enumerate(FEATURE_NAMES):
        out[:, i] = cols[name]
    return out.astype(np.float32)
