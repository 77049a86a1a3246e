"""Parsing of the raw values platforms send: money, quantities, rates, timestamps, ids, statuses.

Every parser raises `MappingError` with a readable reason instead of guessing; the caller
quarantines the order that contained the bad value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from transforms.currencies import ISO_4217

MONEY_SCALE = 4  # warehouse money is DECIMAL(18, 4): exact for every ISO 4217 minor unit
_CENT = Decimal("0.01")
_NOT_DATES = {"", "0000-00-00", "0000-00-00 00:00:00", "0000-00-00T00:00:00"}


class MappingError(ValueError):
    """A payload value that cannot be mapped to the warehouse; the message is the reason."""


def money(value: Any, *, cents: bool = False) -> Decimal | None:
    """Exact Decimal in the currency's major unit from a string, integer or JSON float.

    `cents=True` reads integer minor units (FlickRocket: 1490 -> 14.90). JSON floats are read
    through their shortest round-trip repr, so 30.23 stays 30.23 and never 30.2299999.
    Empty strings and None are NULL.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MappingError(f"money value {value!r} is a boolean")
    if not isinstance(value, str | int | float):
        raise MappingError(f"money value {value!r} is not a number")
    return _money(value, cents)


@lru_cache(maxsize=65536, typed=True)  # prices repeat; Decimals are immutable
def _money(value: str | int | float, cents: bool) -> Decimal:
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise MappingError(f"unparseable money value {value!r}") from None
    if not amount.is_finite():
        raise MappingError(f"money value {value!r} is not finite")
    if cents:
        if amount != amount.to_integral_value():
            raise MappingError(f"cent amount {value!r} is not a whole number")
        amount = amount.scaleb(-2)
    if amount.as_tuple().exponent < -MONEY_SCALE:  # type: ignore[operator]
        raise MappingError(f"money value {value!r} has more than {MONEY_SCALE} decimals")
    return amount


def money_or_zero(value: Any, *, cents: bool = False) -> Decimal:
    """`money`, with NULL read as zero (for summing parts such as discounts)."""
    return money(value, cents=cents) or Decimal(0)


def round_cents(amount: Decimal) -> Decimal:
    """Round half-up to two decimals (how shops round tax and prorated amounts)."""
    return amount.quantize(_CENT, rounding="ROUND_HALF_UP")


def rate(value: Any, *, percent: bool = False) -> Decimal | None:
    """A tax rate as a fraction (0.19); `percent=True` reads 19 as 19 %."""
    if value is None or value == "":
        return None
    try:
        fraction = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        raise MappingError(f"unparseable tax rate {value!r}") from None
    return fraction.scaleb(-2) if percent else fraction


def quantity(value: Any) -> int | None:
    """A whole quantity from an int or a numeric string ("1")."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MappingError(f"quantity {value!r} is a boolean")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MappingError(f"unparseable quantity {value!r}") from None
    if number != number.to_integral_value():
        raise MappingError(f"quantity {value!r} is not a whole number")
    return int(number)


def timestamp(value: Any, *, naive_is_utc: bool = True) -> datetime | None:
    """A UTC datetime from ISO 8601 text with or without an offset (`+02:00`, `-0600`, `Z`).

    Text without an offset is read as UTC (FlickRocket sends GMT that way). Empty strings and
    "0000-00-00" are not dates and give NULL.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"timestamp {value!r} is not text")
    text = value.strip()
    if text in _NOT_DATES:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MappingError(f"unparseable timestamp {value!r}") from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise MappingError(f"timestamp {value!r} has no offset")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def identifier(value: Any) -> str | None:
    """An id as text (platforms mix integers and strings); empty is NULL."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, float):
        raise MappingError(f"id {value!r} is a float")
    if not isinstance(value, int | str):
        raise MappingError(f"id {value!r} is neither a number nor text")
    return str(value)


def required_id(value: Any, what: str) -> str:
    """Like `identifier`, but a missing id is a mapping error."""
    ident = identifier(value)
    if ident is None:
        raise MappingError(f"missing {what}")
    return ident


def status(value: Any) -> str | None:
    """A status lower-cased; empty or the string "null" is NULL."""
    if value is None:
        return None
    text = str(value).strip().lower()
    return None if text in ("", "null") else text


def flag(value: Any) -> bool | None:
    """A boolean from true/false or the strings "true"/"false"."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise MappingError(f"unparseable boolean {value!r}")


def currency(value: Any) -> str | None:
    """An ISO 4217 code, upper-cased; anything else is a mapping error."""
    if value is None or value == "":
        return None
    code = str(value).strip().upper()
    if code not in ISO_4217:
        raise MappingError(f"unknown currency {value!r}")
    return code


def text(value: Any) -> str | None:
    """Free text; empty strings are NULL."""
    if value is None or value == "":
        return None
    return str(value)
