"""Spiffy Stores order payload -> warehouse rows.

Money and tax rates are decimal strings ("10.0", rate "0.1"); a tax line's `price` is the tax
amount. Discounts are coupon codes (`discount_price`) plus shopping-cart discounts
(`cart_discount_price`); surcharges are `surcharge_price`. The spelling is `fulfilments` /
`fulfilment_status`, and variants are `variation_id` / `variation_title`. There are no refund
records: each successful refund transaction becomes a derived refund dated by the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transforms import shopify_family as sf
from transforms import values as v
from transforms.tables import Rows

money = v.money


def cart_discount_rows(order_id: str, order: Mapping[str, Any], first_position: int) -> list:
    """The shopping-cart discount as one more `discounts` row, when there is one."""
    amount = money(order.get("cart_discount_price"))
    if not amount:
        return []
    return [
        {
            "order_id": order_id,
            "position": first_position,
            "code": None,
            "type": "cart",
            "amount": amount,
        }
    ]


def derived_refunds(order_id: str, transactions: list[dict]) -> list[dict]:
    """One refund per successful refund transaction, dated by it (`is_derived`)."""
    refunds = []
    for transaction in transactions:
        if transaction["kind"] == "refund" and transaction["status"] == "success":
            transaction["refund_id"] = transaction["transaction_id"]
            refunds.append(
                {
                    "refund_id": transaction["transaction_id"],
                    "order_id": order_id,
                    "created_at": transaction["created_at"],
                    "note": None,
                    "restock": None,
                    "amount": transaction["amount"],
                    "is_derived": True,
                }
            )
    return refunds


def map_order(order: Mapping[str, Any]) -> Rows:
    """All warehouse rows of one Spiffy Stores order."""
    order_id = v.required_id(order.get("id"), "order id")
    row = sf.order_row(order_id, order, money, fulfillment="fulfilment_status")
    row.update(
        total_discounts=v.money_or_zero(order.get("discount_price"))
        + v.money_or_zero(order.get("cart_discount_price")),
        total_shipping=money(order.get("shipping_price")),
        total_tax=money(order.get("tax_price")),
        total_surcharge=money(order.get("surcharge_price")),
    )
    codes = sf.discount_rows(order_id, order.get("discount_codes") or [], money)
    transactions = sf.transaction_rows(
        order_id, order.get("transactions") or [], money, currency=row["currency"]
    )
    return {
        "orders": [row],
        "order_lines": sf.line_rows(
            order_id,
            order.get("line_items") or [],
            money,
            variant_id="variation_id",
            variant_title="variation_title",
            discount="discount_price",
        ),
        "tax_lines": sf.tax_line_rows(order_id, "order", "", order.get("tax_lines") or [], money),
        "discounts": codes + cart_discount_rows(order_id, order, len(codes)),
        "shipping_lines": sf.shipping_rows(order_id, order.get("shipping_lines") or [], money),
        "fulfillments": sf.fulfillment_rows(order_id, order.get("fulfilments") or []),
        "refunds": derived_refunds(order_id, transactions),
        "transactions": transactions,
    }
