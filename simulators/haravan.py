"""Haravan simulator: `GET /com/orders.json`, `/com/orders/count.json`, `/com/orders/{id}.json`
as Haravan's API document describes them (open orders unless `status=any`, `limit` up to 250,
`X-Haravan-Api-Call-Limit`, decimal-string money, refunds with refund line items)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from simulators.model import Order, optional
from simulators.server import SimulatorSpec
from simulators.shopify_like import ShopifyLikeApi


def money(amount: Decimal, digits: int = 2) -> str:
    return f"{amount:.{max(digits, 2)}f}"


def when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class HaravanApi(ShopifyLikeApi):
    name = "haravan"
    prefix = "/com"
    rate_limit_header = "X-Haravan-Api-Call-Limit"
    default_limit = 50
    max_limit = 250
    time_filters: ClassVar = {
        **ShopifyLikeApi.time_filters,
        "processed_at": lambda o: o.created_at,
    }

    def render(self, order: Order) -> dict[str, Any]:
        def line_item(line: Any) -> dict[str, Any]:
            tax = order.line_tax(line)
            return {
                "fulfillment_service": "manual",
                "fulfillment_status": "fulfilled" if order.fulfillment else None,
                "gift_card": line.gift_card,
                "grams": 200,
                "id": line.id,
                "price": money(line.price),
                "product_id": line.product_id,
                "quantity": line.quantity,
                "requires_shipping": line.requires_shipping,
                "sku": line.sku,
                "taxable": line.taxable,
                "title": line.title,
                "variant_id": line.variant_id,
                "variant_title": line.variant_title,
                "vendor": None,
                "name": f"{line.title} - {line.variant_title}"
                if line.variant_title
                else line.title,
                "properties": [],
                "product_exists": True,
                "fulfillable_quantity": 0 if order.fulfillment else line.quantity,
                "total_discount": money(line.discount),
                "tax_lines": [
                    {"price": money(tax), "rate": float(order.tax_rate), "title": order.tax_title}
                ]
                if tax
                else [],
            }

        shipping_lines = []
        if order.shipping:
            title, code, price = order.shipping
            shipping_tax = order.shipping_tax
            shipping_lines.append(
                {
                    "code": code,
                    "price": money(price),
                    "source": "haravan",
                    "title": title,
                    "tax_lines": [
                        {
                            "price": money(shipping_tax),
                            "rate": float(order.tax_rate),
                            "title": order.tax_title,
                        }
                    ]
                    if shipping_tax
                    else [],
                }
            )
        lines = {line.id: line_item(line) for line in order.lines}
        total_tax = order.total_tax
        return {
            "buyer_accepts_marketing": False,
            "cancel_reason": order.cancel_reason,
            "cancelled_at": when(order.cancelled_at),
            "cart_token": f"c{order.id:x}",
            "closed_at": when(order.closed_at),
            "confirmed": True,
            "created_at": when(order.created_at),
            "currency": order.currency,
            "email": order.email,
            "financial_status": order.financial_status,
            "fulfillment_status": order.fulfillment_status,
            "gateway": "bogus",
            "id": order.id,
            "name": f"#{order.number}",
            "note": None,
            "number": order.number - 1000,
            "order_number": order.number,
            "processed_at": when(order.created_at),
            "source_name": order.source_name,
            "subtotal_price": money(order.subtotal),
            "taxes_included": order.taxes_included,
            "test": order.test,
            "total_discounts": money(order.total_discounts),
            "total_line_items_price": money(order.line_items_price),
            "total_price": money(order.total_price),
            "total_tax": money(total_tax),
            "total_weight": 0,
            "updated_at": when(order.updated_at),
            "discount_codes": [
                {"code": code, "amount": money(amount), "type": kind}
                for code, kind, amount in optional(order.discount_code)
            ],
            "note_attributes": [],
            "tax_lines": [
                {"price": money(total_tax), "rate": float(order.tax_rate), "title": order.tax_title}
            ]
            if total_tax
            else [],
            "line_items": list(lines.values()),
            "shipping_lines": shipping_lines,
            "fulfillments": [
                {
                    "created_at": when(at),
                    "id": fid,
                    "order_id": order.id,
                    "service": "manual",
                    "status": "success",
                    "tracking_company": "UPS",
                    "tracking_number": tracking,
                    "updated_at": when(at),
                    "line_items": list(lines.values()),
                }
                for fid, at, tracking in optional(order.fulfillment)
            ],
            "transactions": [
                {
                    "amount": money(order.total_price),
                    "created_at": when(order.created_at),
                    "currency": order.currency,
                    "gateway": "bogus",
                    "id": order.payment_id,
                    "kind": "sale",
                    "order_id": order.id,
                    "status": "success",
                    "test": order.test,
                }
            ],
            "refunds": [
                {
                    "created_at": when(refund.created_at),
                    "id": refund.id,
                    "note": refund.note,
                    "order_id": order.id,
                    "restock": refund.restock,
                    "user_id": 799407056,
                    "refund_line_items": [
                        {
                            "id": rl_id,
                            "line_item_id": line_id,
                            "quantity": quantity,
                            "line_item": lines[line_id],
                        }
                        for rl_id, line_id, quantity in refund.lines
                        if line_id in lines
                    ],
                    "transactions": [
                        {
                            "amount": money(refund.amount),
                            "authorization": "authorization-key",
                            "created_at": when(refund.created_at),
                            "currency": order.currency,
                            "gateway": "bogus",
                            "id": refund.transaction_id,
                            "kind": "refund",
                            "order_id": order.id,
                            "status": "success",
                            "test": order.test,
                        }
                    ],
                }
                for refund in order.refunds
            ],
            "customer": {
                "id": order.customer_id,
                "email": order.email,
                "first_name": "Bob",
                "last_name": "Norman",
                "orders_count": 1,
                "state": "disabled",
                "total_spent": money(order.total_price),
            },
            "payment_details": {
                "credit_card_bin": "424242",
                "credit_card_company": "Visa",
                "credit_card_number": "•••• •••• •••• 4242",
            },
        }


SIMULATOR = SimulatorSpec(
    HaravanApi,
    currencies=("VND", "USD", "EUR"),
    credentials={"access_token": "sim-token"},
    authorization="Bearer sim-token",
)
