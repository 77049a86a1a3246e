"""MerchantPro order payload -> warehouse rows.

Money is JSON numbers (floats), read exactly (30.23 stays 30.23). Timestamps carry offsets
(`+02:00`). Line items have no id: a line's id is `<product_id>:<variant_id>:<n>`, n counting
earlier lines of the same product and variant in the order (0 for the first), so it is stable
when other lines are added or removed. Line tax comes from `product_tax_percent` and
`line_tax_amount`, shipping tax from `shipping_tax_amount`; `total_tax` is their sum (the API
sends no order total for tax). Prices are net (`unit_price_net`), so `taxes_included` is false.
Line items come only with `include=line_items`: an order without them is a mapping error.
There are no refund records: an order whose `payment_status` is `refunded` gives one derived
full refund dated `date_modified`. No discount amount is sent, only `coupon_code`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from transforms import values as v
from transforms.common import derived_full_refund, line_items, tax_row
from transforms.tables import Rows

money = v.money
# The document lists `canceled` among the payment statuses, and its samples send `cancelled`.
CANCELLED = {"canceled", "cancelled"}


def line_id(item: Mapping[str, Any], seen: Counter) -> str:
    """Stable id of a line that has none: product, variant and occurrence."""
    key = (
        f"{v.identifier(item.get('product_id')) or ''}:{v.identifier(item.get('variant_id')) or ''}"
    )
    occurrence = seen[key]
    seen[key] += 1
    return f"{key}:{occurrence}"


def map_order(order: Mapping[str, Any]) -> Rows:
    """All warehouse rows of one MerchantPro order."""
    order_id = v.required_id(order.get("id"), "order id")
    seen: Counter = Counter()
    items = line_items(order)
    lines, taxes = [], []
    for item in items:
        ident = line_id(item, seen)
        tax = money(item.get("line_tax_amount"))
        lines.append(
            {
                "order_id": order_id,
                "line_id": ident,
                "product_id": v.identifier(item.get("product_id")),
                "variant_id": v.identifier(item.get("variant_id")),
                "sku": v.text(item.get("product_sku")),
                "title": v.text(item.get("product_name")),
                "variant_title": v.text(item.get("variant_name")),
                "quantity": v.quantity(item.get("quantity")),
                "unit_price": money(item.get("unit_price_net")),
                "total_discount": None,
                "tax_amount": tax,
                "taxable": None,
                "requires_shipping": None,
                "is_gift_card": None,
            }
        )
        if tax:
            taxes.append(
                tax_row(
                    order_id,
                    "line",
                    line_id=ident,
                    title=v.text(item.get("product_tax_name")),
                    rate=v.rate(item.get("product_tax_percent"), percent=True),
                    amount=tax,
                )
            )
    shipping_tax = money(order.get("shipping_tax_amount"))
    if shipping_tax:
        taxes.append(tax_row(order_id, "shipping", amount=shipping_tax))
    shipping_price = money(order.get("shipping_amount"))
    modified = v.timestamp(order.get("date_modified"))
    total = v.required(money(order.get("total_amount")), "orders.total_price", "total_amount")
    payment_status = v.status(order.get("payment_status"))
    shipping_status = v.status(order.get("shipping_status"))
    rows: Rows = {
        "orders": [
            {
                "order_id": order_id,
                "order_number": None,
                "name": None,
                "created_at": v.timestamp(order.get("date_created")),
                "updated_at": modified,
                "processed_at": None,
                "cancelled_at": None,
                "closed_at": None,
                "cancel_reason": None,
                "currency": v.currency(order.get("currency")),
                "financial_status": payment_status,
                "fulfillment_status": shipping_status,
                "order_status": None,
                "is_cancelled": payment_status in CANCELLED or shipping_status == "cancelled",
                "is_test": None,
                "taxes_included": False,
                "subtotal_price": sum(
                    (money(i.get("line_subtotal_net")) or Decimal(0) for i in items), Decimal(0)
                ),
                "total_discounts": None,
                "total_shipping": shipping_price,
                "total_tax": sum((t["amount"] for t in taxes), Decimal(0)),
                "total_surcharge": None,
                "total_price": total,
                "customer_id": v.identifier(order.get("customer_id")),
                "email": v.text(order.get("customer_email")),
                "source_name": v.text(order.get("channel_name")),
                "parent_order_id": v.identifier(order.get("parent_id")),
                "return_source_order_id": v.identifier(order.get("return_source_id")),
                "is_deleted": False,  # the platform still serves the order
            }
        ],
        "order_lines": lines,
        "tax_lines": taxes,
        "discounts": [
            {"order_id": order_id, "position": 0, "code": code, "type": "coupon", "amount": None}
            for code in [v.text(order.get("coupon_code"))]
            if code
        ],
        "shipping_lines": [
            {
                "order_id": order_id,
                "position": 0,
                "title": v.text(order.get("shipping_method_name")),
                "code": v.identifier(order.get("shipping_method_id")),
                "price": shipping_price,
            }
        ]
        if shipping_price is not None
        else [],
    }
    if payment_status == "refunded":
        rows.update(derived_full_refund(order_id, lines, modified, total))
    return rows
