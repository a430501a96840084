"""The data contract: the tables a user brings, column by column.

This module is the single description of the event log; the loader validates
against it and ``docs/data-contract.md`` documents it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from augur.features.definitions import MAX_LINE_QUANTITY


class Kind(StrEnum):
    """How a column is parsed and checked."""

    ID = "id"  # non-empty printable string, at most 128 characters
    OPTIONAL_ID = "optional_id"  # as ID, may be empty
    TIMESTAMP = "timestamp"  # ISO-8601 with an offset (or Z); parquet: tz-aware
    OPTIONAL_TIMESTAMP = "optional_timestamp"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"  # true/false/1/0/yes/no (any case)
    CHOICE = "choice"  # one of Column.choices
    TIMEZONE = "timezone"  # IANA name, may be empty
    TEXT = "text"  # free text, may be empty


@dataclass(frozen=True)
class Column:
    """One column of a table."""

    name: str
    kind: Kind
    required: bool = True
    """A required column must be present in the file; an optional one may be absent."""
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    nonzero: bool = False
    default: object = None
    doc: str = ""


@dataclass(frozen=True)
class Table:
    """One table of the event log."""

    name: str
    columns: tuple[Column, ...]
    required: bool = False
    unique: tuple[str, ...] = ()
    doc: str = ""
    after: tuple[tuple[str, str], ...] = field(default=())
    """(later, earlier) column pairs: later must not precede earlier when both are set."""

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


CHANNELS = ("email", "sms", "push", "phone")
INTERACTION_TYPES = ("view", "add_to_cart", "remove_from_cart", "wishlist", "search")
PURPOSES = ("retention", "promotion", "service")

ORDERS = Table(
    "orders",
    (
        Column("customer_id", Kind.ID, doc="Customer identifier."),
        Column("order_id", Kind.ID, doc="Order identifier; lines of one order share it."),
        Column("item_id", Kind.ID, doc="Item identifier."),
        Column("timestamp", Kind.TIMESTAMP, doc="Order time, ISO-8601 with offset."),
        Column(
            "quantity",
            Kind.INT,
            min_value=-MAX_LINE_QUANTITY,
            max_value=MAX_LINE_QUANTITY,
            doc="Units (or a measured quantity such as litres); negative for a return; 0 for a "
            "line with nothing bought or returned, which is kept and adds nothing.",
        ),
        Column(
            "unit_price", Kind.FLOAT, min_value=0, max_value=1e7, doc="Price per unit paid, >= 0."
        ),
    ),
    required=True,
    doc="One row per order line. Required.",
)

INTERACTIONS = Table(
    "interactions",
    (
        Column("customer_id", Kind.ID, doc="Customer identifier."),
        Column("item_id", Kind.OPTIONAL_ID, doc="Item; may be empty for searches."),
        Column("timestamp", Kind.TIMESTAMP, doc="Event time, ISO-8601 with offset."),
        Column("type", Kind.CHOICE, choices=INTERACTION_TYPES, doc="Interaction type."),
    ),
    doc="Browsing events. Optional.",
)

CONTACTS = Table(
    "contacts",
    (
        Column("customer_id", Kind.ID, doc="Customer identifier."),
        Column("contact_id", Kind.ID, doc="Contact identifier, unique."),
        Column("channel", Kind.CHOICE, choices=CHANNELS, doc="Channel used."),
        Column("sent_at", Kind.TIMESTAMP, doc="Send time, ISO-8601 with offset."),
        Column(
            "purpose",
            Kind.CHOICE,
            required=False,
            choices=PURPOSES,
            default="promotion",
            doc="Purpose; default promotion.",
        ),
        Column("opened_at", Kind.OPTIONAL_TIMESTAMP, required=False, doc="Open time or empty."),
        Column("clicked_at", Kind.OPTIONAL_TIMESTAMP, required=False, doc="Click time or empty."),
        Column(
            "converted_at", Kind.OPTIONAL_TIMESTAMP, required=False, doc="Conversion time or empty."
        ),
        Column(
            "unsubscribed_at",
            Kind.OPTIONAL_TIMESTAMP,
            required=False,
            doc="Unsubscribe time or empty.",
        ),
    ),
    unique=("contact_id",),
    after=(
        ("opened_at", "sent_at"),
        ("clicked_at", "sent_at"),
        ("converted_at", "sent_at"),
        ("unsubscribed_at", "sent_at"),
    ),
    doc="Contacts sent and their outcomes. Optional.",
)

CUSTOMERS = Table(
    "customers",
    (
        Column("customer_id", Kind.ID, doc="Customer identifier, unique."),
        Column("signup_at", Kind.OPTIONAL_TIMESTAMP, required=False, doc="Sign-up time."),
        Column(
            "timezone",
            Kind.TIMEZONE,
            required=False,
            default="",
            doc="IANA zone, e.g. Europe/Paris.",
        ),
        Column(
            "segment",
            Kind.TEXT,
            required=False,
            default="",
            doc="Marketing segment, e.g. a region or tier; outreach plans select on it.",
        ),
        *(
            Column(f"consent_{ch}", Kind.BOOL, required=False, default=False, doc=f"{ch} consent.")
            for ch in CHANNELS
        ),
        Column(
            "ended_at",
            Kind.OPTIONAL_TIMESTAMP,
            required=False,
            doc="Explicit end of the relationship (contract cancelled), or empty.",
        ),
    ),
    unique=("customer_id",),
    doc="One row per customer. Optional.",
)

ITEMS = Table(
    "items",
    (
        Column("item_id", Kind.ID, doc="Item identifier, unique."),
        Column("category", Kind.TEXT, required=False, default="", doc="Category name."),
        Column(
            "price", Kind.FLOAT, required=False, min_value=0, default=0.0, doc="Current unit price."
        ),
        Column("in_stock", Kind.BOOL, required=False, default=True, doc="Sellable now."),
    ),
    unique=("item_id",),
    doc="Catalogue. Optional.",
)

TABLES: dict[str, Table] = {t.name: t for t in (ORDERS, INTERACTIONS, CONTACTS, CUSTOMERS, ITEMS)}
