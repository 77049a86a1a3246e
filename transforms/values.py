"""Parsing of the raw values platforms send: money, quantities, rates, timestamps, ids, statuses.

Every parser raises `MappingError` with a readable reason instead of guessing; the caller
quarantines the order that contained the bad value. Values that parse but that a warehouse
column cannot hold (too many digits for its DECIMAL) are found when the arrow tables are built.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, TypeVar

from transforms.currencies import ISO_4217

T = TypeVar("T")

MONEY_SCALE = 4  # warehouse money is DECIMAL(18, 4): exact for every ISO 4217 minor unit
_CENT = Decimal("0.01")
_NOT_DATES = {"", "0000-00-00", "0000-00-00 00:00:00", "0000-00-00T00:00:00"}
_INT64 = (Decimal(-(2**63)), Decimal(2**63 - 1))  # as Decimals: compared without conversion
_INT64_RANGE = range(-(2**63), 2**63)  # for integers: `in` compares without a Decimal


class MappingError(ValueError):
    """A payload value that cannot be mapped to the warehouse; the message is the reason.

    `value` is the refused value, the very object the payload holds, so that the caller can
    say where in the payload it sits; None when the reason is that something is missing.
    """

    def __init__(self, reason: str, value: Any = None) -> None:
        super().__init__(reason)
        self.value = value


def money(value: Any, *, cents: bool = False) -> Decimal | None:
    """Exact Decimal in the currency's major unit from a string, integer or JSON float.

    `cents=True` reads integer minor units (FlickRocket: 1490 -> 14.90). JSON floats are read
    through their shortest round-trip repr, so 30.23 stays 30.23 and never 30.2299999.
    Empty strings and None are NULL.
    """
    kind = type(value)
    if kind is str:  # the usual cases first (exact types: a bool is no int here)
        return _money(value, cents) if value else None
    if kind is int or kind is float:
        return _money(value, cents)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MappingError(f"money value {value!r} is a boolean", value)
    if not isinstance(value, str | int | float):
        raise MappingError(f"money value {value!r} is not a number", value)
    return _money(value, cents)


@lru_cache(maxsize=4096, typed=True)  # prices repeat; Decimals are immutable
def _money(value: str | int | float, cents: bool) -> Decimal:
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise MappingError(f"unparseable money value {value!r}", value) from None
    if not amount.is_finite():
        raise MappingError(f"money value {value!r} is not finite", value)
    if cents:
        if amount != amount.to_integral_value():
            raise MappingError(f"cent amount {value!r} is not a whole number", value)
        amount = amount.scaleb(-2)
    if amount.as_tuple().exponent < -MONEY_SCALE:  # type: ignore[operator]
        raise MappingError(f"money value {value!r} has more than {MONEY_SCALE} decimals", value)
    return amount


def required(parsed: T | None, column: str, *fields: str) -> T:
    """A parsed value the order cannot be loaded without (a money total): its absence is a
    mapping error naming the warehouse column and the payload fields it is read from."""
    if parsed is None:
        raise MappingError(f"{column}: no {' or '.join(fields)}")
    return parsed


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
        raise MappingError(f"unparseable tax rate {value!r}", value) from None
    return fraction.scaleb(-2) if percent else fraction


def quantity(value: Any) -> int | None:
    """A whole quantity from an int or a numeric string ("1")."""
    if type(value) is int and value in _INT64_RANGE:  # the usual case, without a Decimal
        return value
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MappingError(f"quantity {value!r} is a boolean", value)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MappingError(f"unparseable quantity {value!r}", value) from None
    if not number.is_finite() or number != number.to_integral_value():
        raise MappingError(f"quantity {value!r} is not a whole number", value)
    # checked before int(), which would take forever for a value such as "1E+999999999"
    if not _INT64[0] <= number <= _INT64[1]:
        raise MappingError(f"quantity {value!r} does not fit a 64-bit integer", value)
    return int(number)


def timestamp(value: Any, *, naive_is_utc: bool = True) -> datetime | None:
    """A UTC datetime from ISO 8601 text with or without an offset (`+02:00`, `-0600`, `Z`).

    Text without an offset is read as UTC (FlickRocket sends GMT that way). Empty strings and
    "0000-00-00" are not dates and give NULL. A time whose UTC form falls outside the years
    1-9999 ("0001-01-01T00:00:00+05:00") is a mapping error.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"timestamp {value!r} is not text", value)
    return _timestamp(value, naive_is_utc)


# An order repeats its times (created, processed, its transactions'); datetimes are immutable.
@lru_cache(maxsize=1024)
def _timestamp(value: str, naive_is_utc: bool) -> datetime | None:
    text = value.strip()
    if text in _NOT_DATES:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MappingError(f"unparseable timestamp {value!r}", value) from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise MappingError(f"timestamp {value!r} has no offset", value)
        return parsed.replace(tzinfo=UTC)  # already UTC: no conversion, which cannot overflow
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise MappingError(
            f"timestamp {value!r} is outside the years 1-9999 in UTC", value
        ) from None


def identifier(value: Any) -> str | None:
    """An id as text (platforms mix integers and strings); empty is NULL."""
    if type(value) is int:  # the usual cases first (a bool is no int here)
        return str(value)
    if type(value) is str:
        return value or None
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, float):
        raise MappingError(f"id {value!r} is a float", value)
    if not isinstance(value, int | str):
        raise MappingError(f"id {value!r} is neither a number nor text", value)
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
    raise MappingError(f"unparseable boolean {value!r}", value)


def currency(value: Any) -> str | None:
    """An ISO 4217 code, upper-cased; anything else is a mapping error."""
    if value is None or value == "":
        return None
    code = str(value).strip().upper()
    if code not in ISO_4217:
        raise MappingError(f"unknown currency {value!r}", value)
    return code


def text(value: Any) -> str | None:
    """Free text; empty strings are NULL."""
    if value is None or value == "":
        return None
    return str(value)
