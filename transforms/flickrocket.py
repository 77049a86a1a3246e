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
from transforms.common import reconcile_to_total
from transforms.tables import Rows

money = partial(v.money, cents=True)


def tax_rows(order_id: str, tax_lines: list[Mapping[str, Any]], total_tax: Decimal | None) -> list:
    """Order-scope tax lines with the tax amount computed from the taxed base and the rate."""
    rates = [v.rate(tax.get("rate"), percent=True) for tax in tax_lines]
    bases = [money(tax.get("price")) or Decimal(0) for tax in tax_lines]
    amounts = reconcile_to_total(
        [base * (rate or 0) for base, rate in zip(bases, rates, strict=True)], total_tax
    )
    return [
        {
            "order_id": order_id,
            "scope": "order",
            "line_id": "",
            "position": position,
            "title": v.text(tax.get("title")),
            "rate": rates[position],
            "amount": amounts[position],
        }
        for position, tax in enumerate(tax_lines)
    ]


def map_order(order: Mapping[str, Any]) -> Rows:
    """All warehouse rows of one FlickRocket order."""
    order_id = v.required_id(order.get("id"), "order id")
    currency = v.currency(order.get("currency"))
    total_tax = money(order.get("total_tax"))
    shipping = sf.shipping_rows(order_id, order.get("shipping_lines") or [], money)
    customer = order.get("customer") or {}
    rows: Rows = {
        "orders": [
            {
                "order_id": order_id,
                "order_number": v.text(order.get("order_number")),
                "name": v.text(order.get("name")),
                "created_at": v.timestamp(order.get("created_at")),
                "updated_at": v.timestamp(order.get("updated_at")),
                "processed_at": v.timestamp(order.get("processed_at")),
                "cancelled_at": v.timestamp(order.get("cancelled_at")),
                "closed_at": v.timestamp(order.get("closed_at")),
                "currency": currency,
                "financial_status": v.status(order.get("financial_status")),
                "fulfillment_status": v.status(order.get("fulfillment_status")),
                "is_test": v.flag(order.get("test")),
                "taxes_included": v.flag(order.get("taxes_included")),
                "subtotal_price": money(order.get("subtotal_price")),
                "total_discounts": money(order.get("total_discounts")),
                "total_shipping": sum((s["price"] or Decimal(0) for s in shipping), Decimal(0)),
                "total_tax": total_tax,
                "total_price": money(order.get("total_price")),
                "customer_id": v.identifier(customer.get("id")),
                "email": v.text(order.get("email")),
                "source_name": v.text(order.get("source_name")),
            }
        ],
        "order_lines": sf.line_rows(order_id, order.get("line_items") or [], money),
        "tax_lines": tax_rows(order_id, order.get("tax_lines") or [], total_tax),
        "discounts": sf.discount_rows(order_id, order.get("discount_codes") or [], money),
        "shipping_lines": shipping,
        "fulfillments": sf.fulfillment_rows(order_id, order.get("fulfillments") or []),
    }
    refunds = sf.refund_rows(order_id, order.get("refunds") or [], money, currency=currency)
    rows["refunds"] = refunds["refunds"]
    rows["refund_lines"] = refunds["refund_lines"]
    rows["transactions"] = refunds["transactions"]
    return rows
