"""Lunasoft shopping-cart order payload -> warehouse rows.

Everything is a string: ids, money ("322.85"), quantities ("1"). Empty strings and
"0000-00-00" are not dates and become NULL. Timestamps look like `2015-04-27T17:34:31-0600`.
An empty string is how Lunasoft sends "no value" (`"modified": ""`), so an empty `tax` is NULL;
an absent or null `tax`, an order without its `total`, and absent or null `line_items` are
mapping errors.
Orders carry no currency (the shop's configured `currency` is used) and no line tax: the
order's `tax` is one order-scope tax line. The `statuses` history goes to
`order_status_history`; an order whose history reaches a refund status gives one derived full
refund dated by that status entry, and a cancel status dates the cancellation. Card data
(`card_last_4`, `card_type`, `check_num`) is stripped before mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from transforms import values as v
from transforms.common import derived_full_refund, line_items, tax_row
from transforms.tables import Rows

REFUND_STATUSES = {"refunded"}
CANCEL_STATUSES = {"cancelled", "canceled"}
money = v.money


def history_rows(order_id: str, statuses: list[Mapping[str, Any]]) -> list[dict]:
    """The status history, oldest first (the API lists newest first)."""
    entries = [
        {
            "status": v.status(entry.get("status")),
            "created_at": v.timestamp(entry.get("created")),
            "notes": v.text(entry.get("notes")),
            "_id": int(v.identifier(entry.get("id")) or 0),
        }
        for entry in statuses
    ]
    entries.sort(key=lambda e: e["_id"])
    return [
        {
            "order_id": order_id,
            "position": position,
            "status": e["status"],
            "created_at": e["created_at"],
            "notes": e["notes"],
        }
        for position, e in enumerate(entries)
    ]


def discount_rows(order_id: str, order: Mapping[str, Any]) -> list[dict]:
    """Promo code and promo rule discounts that took money off."""
    parts = [
        (v.text(order.get("promo_code")), "promo_code", money(order.get("promo_code_discount"))),
        (None, "promo_rule", money(order.get("promo_rule_discount"))),
        (None, "promo_rule_shipping", money(order.get("promo_rule_discount_shipping"))),
    ]
    kept = [(code, kind, amount) for code, kind, amount in parts if code or amount]
    return [
        {"order_id": order_id, "position": position, "code": code, "type": kind, "amount": amount}
        for position, (code, kind, amount) in enumerate(kept)
    ]


def map_order(order: Mapping[str, Any], currency: str | None = None) -> Rows:
    """All warehouse rows of one Lunasoft order; `currency` is the shop's configured one."""
    order_id = v.required_id(order.get("id"), "order id")
    history = history_rows(order_id, order.get("statuses") or [])
    created = v.timestamp(order.get("created"))
    items = line_items(order)
    lines = [
        {
            "order_id": order_id,
            "line_id": v.required_id(item.get("id"), "line item id"),
            "product_id": v.identifier(item.get("product_id")),
            "variant_id": None,
            "sku": v.text(item.get("sku")),
            "title": v.text(item.get("name")),
            "variant_title": None,
            "quantity": v.quantity(item.get("quantity")),
            "unit_price": money(item.get("cost")),
            "total_discount": None,
            "tax_amount": None,
            "taxable": None,
            "requires_shipping": None,
            "is_gift_card": v.flag(item.get("is_gift_certificate")),
        }
        for item in items
    ]
    total = v.required(money(order.get("total")), "orders.total_price", "total")
    # required as sent, not as parsed: "" is Lunasoft's "no value" and loads as NULL
    tax = money(v.required(order.get("tax"), "orders.total_tax", "tax"))
    current_status = v.status(order.get("current_status"))
    shipping = money(order.get("shipping_cost"))
    discounts = discount_rows(order_id, order)
    cancelled = next((e for e in history if e["status"] in CANCEL_STATUSES), None)
    refunded = next((e for e in history if e["status"] in REFUND_STATUSES), None)
    rows: Rows = {
        "orders": [
            {
                "order_id": order_id,
                "order_number": v.identifier(order.get("order_num")),
                "name": None,
                "created_at": created,
                "updated_at": v.timestamp(order.get("modified")) or created,
                "processed_at": None,
                "cancelled_at": cancelled["created_at"] if cancelled else None,
                "closed_at": None,
                "cancel_reason": None,
                "currency": v.currency(currency),
                "financial_status": "paid" if v.flag(order.get("is_paid")) else "pending",
                "fulfillment_status": "fulfilled" if v.flag(order.get("is_fulfilled")) else None,
                "order_status": current_status,
                # the list endpoint sends no `statuses`: the current status alone may say it
                "is_cancelled": cancelled is not None or current_status in CANCEL_STATUSES,
                "is_test": None,
                "taxes_included": None,
                "subtotal_price": sum(
                    (money(i.get("total_cost")) or Decimal(0) for i in items), Decimal(0)
                ),
                "total_discounts": sum((d["amount"] or Decimal(0) for d in discounts), Decimal(0)),
                "total_shipping": shipping,
                "total_tax": tax,
                "total_surcharge": None,
                "total_price": total,
                "customer_id": v.identifier(order.get("user_id")),
                "email": v.text(order.get("email")),
                "source_name": "web" if v.flag(order.get("web_order")) else None,
                "parent_order_id": None,
                "return_source_order_id": None,
                "is_deleted": False,  # the platform still serves the order
            }
        ],
        "order_lines": lines,
        "tax_lines": [tax_row(order_id, "order", amount=tax)] if tax else [],
        "discounts": discounts,
        "shipping_lines": [
            {
                "order_id": order_id,
                "position": 0,
                "title": v.text(order.get("shipping_option")),
                "code": None,
                "price": shipping,
            }
        ]
        if shipping or order.get("shipping_option")
        else [],
        "order_status_history": history,
    }
    if refunded:
        rows.update(
            derived_full_refund(order_id, lines, refunded["created_at"], total, refunded["notes"])
        )
    return rows
