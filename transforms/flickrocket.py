"""FlickRocket order payload -> warehouse rows.

Money is integer cents (1490 -> 14.90): order totals, line prices and discounts, discount code
amounts and refund transaction amounts. A tax line is `{"price": base, "rate": 19}`: `price` is
the taxed base and `rate` a percentage, so the tax amount is base x rate / 100, reconciled to the
order's `total_tax`. Refund lines carry the whole `line_item` and no `line_item_id`. Timestamps
are GMT without an offset. Customers may carry `password` fields (stripped before mapping).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import Any

from transforms import shopify_family as sf
from transforms import values as v
from transforms.common import line_items, spread_rounding_to_total, tax_row
from transforms.tables import Rows

money = partial(v.money, cents=True)


def tax_rows(order_id: str, tax_lines: list[Mapping[str, Any]], total_tax: Decimal | None) -> list:
    """Order-scope tax lines with the tax amount computed from the taxed base and the rate."""
    rates = [v.rate(tax.get("rate"), percent=True) for tax in tax_lines]
    bases = [money(tax.get("price")) or Decimal(0) for tax in tax_lines]
    amounts = spread_rounding_to_total(
        [base * (rate or 0) for base, rate in zip(bases, rates, strict=True)], total_tax
    )
    return [
        tax_row(
            order_id,
            "order",
            position=position,
            title=v.text(tax.get("title")),
            rate=rates[position],
            amount=amounts[position],
        )
        for position, tax in enumerate(tax_lines)
    ]


def map_order(order: Mapping[str, Any]) -> Rows:
    """All warehouse rows of one FlickRocket order."""
    order_id = v.required_id(order.get("id"), "order id")
    shipping = sf.shipping_rows(order_id, order.get("shipping_lines") or [], money)
    row = sf.order_row(order_id, order, money)
    row["total_shipping"] = sf.shipping_total(shipping)
    rows: Rows = {
        "orders": [row],
        "order_lines": sf.line_rows(order_id, line_items(order), money),
        "tax_lines": tax_rows(order_id, order.get("tax_lines") or [], row["total_tax"]),
        "discounts": sf.discount_rows(order_id, order.get("discount_codes") or [], money),
        "shipping_lines": shipping,
        "fulfillments": sf.fulfillment_rows(order_id, order),
    }
    refunds = sf.refund_rows(order_id, order.get("refunds") or [], money, currency=row["currency"])
    rows["refunds"] = refunds["refunds"]
    rows["refund_lines"] = refunds["refund_lines"]
    rows["transactions"] = refunds["transactions"]
    return rows
