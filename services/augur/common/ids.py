"""Identifiers every service accepts (customer, item, order, contact, campaign ids): one rule."""

from __future__ import annotations

from augur.common.errors import InvalidArgument

MAX_ID = 128


def check_id(value: str, what: str, required: bool = True) -> None:
    """1..128 printable characters (no control characters)."""
    if not value:
        if required:
            raise InvalidArgument(f"{what} is required")
        return
    if len(value) > MAX_ID:
        raise InvalidArgument(f"{what} has {len(value)} characters; at most {MAX_ID}")
    if not value.isprintable():
        raise InvalidArgument(f"{what} contains control or non-printable characters")
