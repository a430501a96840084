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
    return f"{v * 100:.0f} %"


TEMPLATES: dict[str, Callable[[float], str]] = {
    "days_since_last_order": lambda v: f"Last order {v:.0f} days ago",
    "order_overdue_ratio": lambda v: f"Next order is late: {v:.1f}x the customer's usual gap",
    "mean_days_between_orders": lambda v: f"Usually orders every {v:.0f} days",
    "orders_hl30": lambda v: f"About {v:.1f} orders in recent weeks",
    "orders_hl90": lambda v: f"About {v:.1f} orders in recent months",
    "order_trend": lambda v: f"Ordering at {_pct(v)} of the customer's yearly rate",
    "revenue_trend": lambda v: f"Spending at {_pct(v)} of the customer's yearly rate",
    "browsing_trend": lambda v: f"Visits at {_pct(v)} of their usual rate",
    "views_hl7": lambda v: f"About {v:.0f} product views in the last days",
    "days_since_last_view": lambda v: f"Last visit {v:.0f} days ago",
    "returns_hl90": lambda v: f"{v:.1f} recent returns (possible service problem)",
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
    "unanswered_contacts_hl30": lambda v: f"{v:.0f} recent messages left unanswered",
    "response_rate_hl90": lambda v: f"Answers {_pct(v)} of messages",
    "days_since_last_response": lambda v: f"Last answered a message {v:.0f} days ago",
    "cart_to_order_ratio": lambda v: f"{v:.1f} cart additions per order recently (abandoned carts)",
    "carts_hl30": lambda v: f"{v:.0f} cart additions in recent weeks",
    "tenure_days": lambda v: f"Customer for {v:.0f} days",
    "orders_total": lambda v: f"{v:.0f} orders so far",
    "unsubscribes_total": lambda v: f"Unsubscribed {v:.0f} time(s)",
}
_DOCS = {f.name: f.doc for f in FEATURES}


def reason_text(feature: str, value: float) -> str:
    """A sentence describing the customer's value of a feature."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"No data: {_DOCS.get(feature, feature)}"
    template = TEMPLATES.get(feature)
    if template is not None:
        return template(float(value))
    return f"{_DOCS.get(feature, feature).capitalize()}: {value:.2f}"
