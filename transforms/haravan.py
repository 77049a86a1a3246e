"""Haravan order payload -> warehouse rows.

Money is decimal text ("409.94"); tax line `price` is the tax amount and `rate` a fraction;
refunds carry `refund_line_items` (with `line_item_id`) and refund transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transforms import shopify_family as sf
from transforms import values as v
from transforms.common import line_items
from transforms.tables import Rows

money = v.money


def map_order(order: Mapping[str, Any]) -> Rows:
    """All warehouse rows of one Haravan order."""
    order_id = v.required_id(order.get("id"), "order id")
    shipping = sf.shipping_rows(order_id, order.get("shipping_lines") or [], money)
    row = sf.order_row(order_id, order, money)
    row["total_shipping"] = sf.shipping_total(shipping)
    currency = row["currency"]
    rows: Rows = {
        "orders": [row],
        "order_lines": sf.line_rows(order_id, line_items(order), money),
        "tax_lines": sf.nested_tax_rows(order_id, order, money),
        "discounts": sf.discount_rows(order_id, order.get("discount_codes") or [], money),
        "shipping_lines": shipping,
        "fulfillments": sf.fulfillment_rows(order_id, order),
        "transactions": sf.transaction_rows(
            order_id, order.get("transactions") or [], money, currency=currency
        ),
    }
    refunds = sf.refund_rows(order_id, order.get("refunds") or [], money, currency=currency)
    rows["refunds"] = refunds["refunds"]
    rows["refund_lines"] = refunds["refund_lines"]
    rows["transactions"] += refunds["transactions"]
    return rows
