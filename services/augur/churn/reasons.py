"""Reason codes in words a retention agent understands.

Each feature that can explain a churn score has a sentence template; the
value is formatted into it. Features without a template fall back to their
plain description.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from augur.features.definitions import FEATURES


def _pct(v: float) -> str:
    return f"{_num(v * 100, 0)} %"


def _num(v: float, digits: int = 1) -> str:
    """A number as an agent reads it: rounded, no "-0", no trailing ".0"."""
    text = f"{round(v, digits) + 0.0:,.{digits}f}"
    if digits and text.endswith("." + "0" * digits):
        text = text[: -digits - 1]
    return "0" if text in ("-0", "-0.0") else text


def _times(v: float) -> str:
    return "more than 10x" if v > 10 else f"{_num(v)}x"


TEMPLATES: dict[str, Callable[[float], str]] = {
    "days_since_last_order": lambda v: f"Last order {_num(v, 0)} days ago",
    "days_since_first_order": lambda v: f"First order {_num(v, 0)} days ago",
    "order_overdue_ratio": lambda v: (
        f"Next order is late: {_times(v)} the customer's usual gap"
        if v > 1
        else f"Last order {_pct(v)} of the customer's usual gap ago"
    ),
    "mean_days_between_orders": lambda v: f"Usually orders every {_num(v, 0)} days",
    "orders_hl7": lambda v: f"About {_num(v)} orders in the last days",
    "orders_hl30": lambda v: f"About {_num(v)} orders in recent weeks",
    "orders_hl90": lambda v: f"About {_num(v)} orders in recent months",
    "orders_hl365": lambda v: f"About {_num(v)} orders over the past year",
    "revenue_hl30": lambda v: f"Spent about {_num(v, 0)} in recent weeks",
    "revenue_hl90": lambda v: f"Spent about {_num(v, 0)} in recent months",
    "revenue_hl365": lambda v: f"Spent about {_num(v, 0)} over the past year",
    "revenue_total": lambda v: f"Spent {_num(v, 0)} in all",
    "avg_order_value": lambda v: f"Average order of {_num(v)}",
    "order_trend": lambda v: f"Ordering at {_pct(v)} of the customer's yearly rate",
    "revenue_trend": lambda v: f"Spending at {_pct(v)} of the customer's yearly rate",
    "browsing_trend": lambda v: f"Visits at {_pct(v)} of their usual rate",
    "views_hl7": lambda v: f"About {_num(v, 0)} product views in the last days",
    "views_hl30": lambda v: f"About {_num(v, 0)} product views in recent weeks",
    "views_hl90": lambda v: f"About {_num(v, 0)} product views in recent months",
    "days_since_last_view": lambda v: f"Last visit {_num(v, 0)} days ago",
    "returns_hl90": lambda v: f"{_num(v)} recent returns (possible service problem)",
    "return_rate": lambda v: f"{_pct(v)} of orders had a return this year",
    "unit_price_change": lambda v: (
        f"Pays {_pct(v - 1)} more per item than the year average"
        if v >= 1
        else f"Pays {_pct(1 - v)} less per item than the year average"
    ),
    "category_price_change": lambda v: (
        f"Pays {_pct(v)} more per item in one of their categories than over the year"
        if v >= 0
        else f"Pays {_pct(-v)} less per item in one of their categories than over the year"
    ),
    "top_category_share": lambda v: f"{_pct(v)} of spend in their favourite category",
    "category_entropy": lambda v: (
        "Buys in one category only"
        if v < 0.05
        else f"Spend spread over about {_num(2**v, 0)} categories"
    ),
    "unanswered_contacts_hl30": lambda v: f"{_num(v, 0)} recent messages left unanswered",
    "response_rate_hl90": lambda v: f"Answers {_pct(v)} of messages",
    "days_since_last_response": lambda v: f"Last answered a message {_num(v, 0)} days ago",
    "cart_to_order_ratio": lambda v: (
        f"{_num(v)} cart additions per order recently (abandoned carts)"
    ),
    "carts_hl30": lambda v: f"{_num(v, 0)} cart additions in recent weeks",
    "days_since_last_cart": lambda v: f"Last added to the cart {_num(v, 0)} days ago",
    "tenure_days": lambda v: f"Customer for {_num(v, 0)} days",
    "orders_total": lambda v: f"{_num(v, 0)} orders so far",
    "unsubscribes_total": lambda v: f"Unsubscribed {_num(v, 0)} time(s)",
}
_DOCS = {f.name: f.doc for f in FEATURES}


def reason_text(feature: str, value: float) -> str:
    """A sentence describing the customer's (known) value of a feature."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"No data: {_DOCS.get(feature, feature)}"
    template = TEMPLATES.get(feature)
    if template is not None:
        return template(float(value))
    return f"{_DOCS.get(feature, feature).capitalize()}: {_num(float(value), 2)}"
