"""Spiffy Stores order payload -> warehouse rows.

Money and tax rates are decimal strings ("10.0", rate "0.1"); a tax line's `price` is the tax
amount. Discounts are coupon codes (`discount_price`) plus shopping-cart discounts
(`cart_discount_price`); surcharges are `surcharge_price`. The document spells `tax_price`,
`fulfilments` / `fulfilment_status`, `variation_id` / `variation_title` and a line's
`discount_price`; payloads in the wild (the sample order of Spiffy's own API client) use
Shopify's names instead (`total_tax`, `fulfillments`, `variant_id`, `total_discount`,
`total_discounts`, and no `shipping_price`), so both are read, the documented one first. There
are no refund records: each successful refund transaction becomes a derived refund dated by the
transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from transforms import shopify_family as sf
from transforms import values as v
from transforms.common import derived_refund, line_items
from transforms.tables import Rows

money = v.money
SPELLING = sf.Spelling(
    total_tax=("tax_price", "total_tax"),
    fulfillment_status=("fulfilment_status", "fulfillment_status"),
    fulfillments=("fulfilments", "fulfillments"),
    variant_id=("variation_id", "variant_id"),
    variant_title=("variation_title", "variant_title"),
    line_discount=("discount_price", "total_discount"),
)


def total_discounts(order: Mapping[str, Any]) -> Decimal | None:
    """Coupon plus cart discounts as documented, else Shopify's single `total_discounts`."""
    coupons, cart = order.get("discount_price"), order.get("cart_discount_price")
    if coupons is None and cart is None:
        return money(order.get("total_discounts"))
    return v.money_or_zero(coupons) + v.money_or_zero(cart)


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


def refunding(transactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The transactions, each successful refund one linked to the refund it is derived into:
    the refund takes the transaction's id (new rows; the given ones are left as they are)."""
    return [
        {**t, "refund_id": t["transaction_id"]}
        if t["kind"] == "refund" and t["status"] == "success"
        else t
        for t in transactions
    ]


def derived_refunds(order_id: str, transactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One refund per refund transaction linked by `refunding`, dated by it (`is_derived`)."""
    return [
        derived_refund(t["refund_id"], order_id, t["created_at"], t["amount"])
        for t in transactions
        if t["refund_id"] is not None
    ]


def map_order(order: Mapping[str, Any]) -> Rows:
    """All warehouse rows of one Spiffy Stores order."""
    order_id = v.required_id(order.get("id"), "order id")
    shipping = sf.shipping_rows(order_id, order.get("shipping_lines") or [], money)
    row = sf.order_row(order_id, order, money, SPELLING)
    shipping_price = money(order.get("shipping_price"))
    row.update(
        total_discounts=total_discounts(order),
        # Shopify's spelling has no order shipping figure: its shipping lines say it
        total_shipping=sf.shipping_total(shipping) if shipping_price is None else shipping_price,
        total_surcharge=money(order.get("surcharge_price")),
    )
    codes = sf.discount_rows(order_id, order.get("discount_codes") or [], money)
    transactions = refunding(
        sf.transaction_rows(
            order_id, order.get("transactions") or [], money, currency=row["currency"]
        )
    )
    return {
        "orders": [row],
        "order_lines": sf.line_rows(order_id, line_items(order), money, SPELLING),
        "tax_lines": sf.tax_line_rows(order_id, "order", "", order.get("tax_lines") or [], money),
        "discounts": codes + cart_discount_rows(order_id, order, len(codes)),
        "shipping_lines": shipping,
        "fulfillments": sf.fulfillment_rows(order_id, order, SPELLING),
        "refunds": derived_refunds(order_id, transactions),
        "transactions": transactions,
    }
