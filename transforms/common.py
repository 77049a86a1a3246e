"""Mapping helpers that several platforms share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from transforms.tables import Rows
from transforms.values import MappingError, round_cents

TaxScope = Literal["order", "line", "shipping"]


def first_present(record: Mapping[str, Any], names: Sequence[str]) -> Any:
    """The value of the first of `names` that `record` has (neither absent nor null).

    For a field that a platform's document spells one way and its payloads in the wild another
    way: the documented name comes first, so it wins when both are sent."""
    for name in names:
        value = record.get(name)
        if value is not None:
            return value
    return None


def line_items(order: Mapping[str, Any]) -> list[Any]:
    """The order's `line_items`: absent or null is a mapping error, since loading the order
    without lines would delete the lines it has in the warehouse; `[]` is an order without
    lines."""
    items = order.get("line_items")
    if items is None:
        raise MappingError("order_lines: no line_items")
    if not isinstance(items, list):
        raise MappingError(f"line_items {items!r} is not a list", items)
    return items


def spread_rounding_to_total(amounts: Sequence[Decimal], total: Decimal | None) -> list[Decimal]:
    """Computed tax amounts adjusted so that they add up to the order's `total`.

    Platforms that send a taxed base and a rate (FlickRocket) round the order's tax once, so
    per-line rounding can be off by a cent per line. The residue, when it is within that
    rounding error, goes to the largest line; a larger gap is left for the checks to report.
    """
    rounded = [round_cents(amount) for amount in amounts]
    if total is None or not rounded:
        return rounded
    residue = total - sum(rounded, Decimal(0))
    if residue and abs(residue) <= Decimal("0.01") * len(rounded):
        largest = max(range(len(rounded)), key=lambda i: abs(rounded[i]))
        rounded[largest] += residue
    return rounded


def prorated(amount: Decimal | None, part: int, whole: int | None) -> Decimal:
    """`amount` * part / whole, rounded to cents; zero when there is nothing to share."""
    if not amount or not whole:
        return Decimal(0)
    return round_cents(amount * part / whole)


def tax_row(
    order_id: str,
    scope: TaxScope,
    *,
    line_id: str = "",
    position: int = 0,
    title: str | None = None,
    rate: Decimal | None = None,
    amount: Decimal | None,
) -> dict[str, Any]:
    """A `tax_lines` row. `line_id` names the order line of a line-scope tax and is "" for the
    other scopes, since it is part of the table's key; `position` counts the scope's tax lines
    (per line, for line scope)."""
    return {
        "order_id": order_id,
        "scope": scope,
        "line_id": line_id,
        "position": position,
        "title": title,
        "rate": rate,
        "amount": amount,
    }


def derived_refund(
    refund_id: str,
    order_id: str,
    created_at: datetime | None,
    amount: Decimal | None,
    note: str | None = None,
) -> dict[str, Any]:
    """A `refunds` row for a platform without refund records, derived from what says money
    was returned (a status, a refund transaction): `is_derived`, and no restock known."""
    return {
        "refund_id": refund_id,
        "order_id": order_id,
        "created_at": created_at,
        "note": note,
        "restock": None,
        "amount": amount,
        "is_derived": True,
    }


def derived_full_refund(
    order_id: str,
    lines: list[dict[str, Any]],
    created_at: datetime | None,
    amount: Decimal | None,
    note: str | None = None,
) -> Rows:
    """The `refunds` and `refund_lines` rows of a refund of the whole order, derived from the
    order's status: every line, its full quantity and net (MerchantPro, Lunasoft)."""
    refund_id = f"{order_id}-refunded"
    return {
        "refunds": [derived_refund(refund_id, order_id, created_at, amount, note)],
        "refund_lines": [
            {
                "refund_id": refund_id,
                "refund_line_id": line["line_id"],
                "order_id": order_id,
                "line_id": line["line_id"],
                "quantity": line["quantity"],
                "subtotal": (line["unit_price"] or Decimal(0)) * (line["quantity"] or 0)
                - (line["total_discount"] or Decimal(0)),
            }
            for line in lines
        ],
    }
