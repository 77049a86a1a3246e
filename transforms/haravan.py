"""Haravan order payload -> warehouse rows.

Money is decimal text ("409.94"); tax line `price` is the tax amount and `rate` a fraction;
refunds carry `refund_line_items` (with `line_item_id`) and refund transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from transforms import shopify_family as sf
from transforms import values as v
from transforms.tables import Rows

money = v.money


def map_order(order: Mapping[str, Any]) -> Rows:
    """All warehouse rows of one Haravan order."""
    order_id = v.required_id(order.get("id"), "order id")
    currency = v.currency(order.get("currency"))
    shipping = sf.shipping_rows(order_id, order.get("shipping_lines") or [], money)
    customer = order.get("customer") or {}
    rows: Rows = {
        "orders": [
            {
                "order_id": order_id,
                "order_number": v.identifier(order.get("order_number")),
                "name": v.text(order.get("name")),
                "created_at": v.timestamp(order.get("created_at")),
                "updated_at": v.timestamp(order.get("updated_at")),
                "processed_at": v.timestamp(order.get("processed_at")),
                "cancelled_at": v.timestamp(order.get("cancelled_at")),
                "closed_at": v.timestamp(order.get("closed_at")),
                "cancel_reason": v.status(order.get("cancel_reason")),
                "currency": currency,
                "financial_status": v.status(order.get("financial_status")),
                "fulfillment_status": v.status(order.get("fulfillment_status")),
                "is_test": v.flag(order.get("test")),
                "taxes_included": v.flag(order.get("taxes_included")),
                "subtotal_price": money(order.get("subtotal_price")),
                "total_discounts": money(order.get("total_discounts")),
                "total_shipping": sum((s["price"] or Decimal(0) for s in shipping), Decimal(0)),
                "total_tax": money(order.get("total_tax")),
                "total_price": money(order.get("total_price")),
                "customer_id": v.identifier(customer.get("id")),
                "email": v.text(order.get("email")),
                "source_name": v.text(order.get("source_name")),
            }
        ],
        "order_lines": sf.line_rows(order_id, order.get("line_items") or [], money),
        "tax_lines": sf.nested_tax_rows(order_id, order, money),
        "discounts": sf.discount_rows(order_id, order.get("discount_codes") or [], money),
        "shipping_lines": shipping,
        "fulfillments": sf.fulfillment_rows(order_id, order.get("fulfillments") or []),
        "transactions": sf.transaction_rows(
            order_id, order.get("transactions") or [], money, currency=currency
        ),
    }
    refunds = sf.refund_rows(order_id, order.get("refunds") or [], money, currency=currency)
    rows["refunds"] = refunds["refunds"]
    rows["refund_lines"] = refunds["refund_lines"]
    rows["transactions"] += refunds["transactions"]
    return rows
