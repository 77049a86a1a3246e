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
    currency = v.currency(order.get("currency"))
    customer = order.get("customer") or {}
    codes = sf.discount_rows(order_id, order.get("discount_codes") or [], money)
    transactions = sf.transaction_rows(
        order_id, order.get("transactions") or [], money, currency=currency
    )
    rows: Rows = {
        "orders": [
            {
                "order_id": order_id,
                "order_number": v.identifier(order.get("order_number")),
                "name": v.text(order.get("name")),
                "created_at": v.timestamp(order.get("created_at")),
                "updated_at": v.timestamp(order.get("updated_at")),
                "processed_at": None,
                "cancelled_at": v.timestamp(order.get("cancelled_at")),
                "closed_at": v.timestamp(order.get("closed_at")),
                "cancel_reason": v.text(order.get("cancel_reason")),
                "currency": currency,
                "financial_status": v.status(order.get("financial_status")),
                "fulfillment_status": v.status(order.get("fulfilment_status")),
                "is_test": v.flag(order.get("test")),
                "taxes_included": v.flag(order.get("taxes_included")),
                "subtotal_price": money(order.get("subtotal_price")),
                "total_discounts": v.money_or_zero(order.get("discount_price"))
                + v.money_or_zero(order.get("cart_discount_price")),
                "total_shipping": money(order.get("shipping_price")),
                "total_tax": money(order.get("tax_price")),
                "total_surcharge": money(order.get("surcharge_price")),
                "total_price": money(order.get("total_price")),
                "customer_id": v.identifier(customer.get("id")),
                "email": v.text(order.get("email")),
                "source_name": None,
            }
        ],
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
    return rows
