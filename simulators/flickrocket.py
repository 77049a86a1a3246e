"""FlickRocket simulator: `GET /api/orders.json`, `/api/orders/count.json`,
`/api/orders/{id}.json` as FlickRocket's API document describes them: money in integer cents,
tax lines as taxed base + percentage rate, GMT timestamps without an offset, refund lines with a
full `line_item` but no `line_item_id`, customers with password fields, and a page size the
server chooses (it ignores `limit`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from simulators.model import Order, optional
from simulators.server import SimulatorSpec
from simulators.shopify_like import ShopifyLikeApi


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(rounding="ROUND_HALF_UP"))


def gmt(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else None


def order_tax(order: Order) -> tuple[Decimal, Decimal]:
    """(taxed base, tax) as FlickRocket computes them: once per order, on the taxable total."""
    taxable = (
        sum(
            (line.price * line.quantity - line.discount for line in order.lines if line.taxable),
            Decimal(0),
        )
        + order.total_shipping
    )
    if order.taxes_included:
        base = order.round(taxable / (1 + order.tax_rate))
        return base, taxable - base
    return taxable, order.round(taxable * order.tax_rate)


def order_total(order: Order) -> Decimal:
    """What the customer paid, with FlickRocket's order-level tax."""
    tax = Decimal(0) if order.taxes_included else order_tax(order)[1]
    return order.subtotal + order.total_shipping + tax


class FlickRocketApi(ShopifyLikeApi):
    name = "flickrocket"
    prefix = "/api"
    server_page_size = 25
    default_status = None  # every order is listed; there is no status filter

    def render(self, order: Order) -> dict[str, Any]:
        base, tax = order_tax(order)

        def line_item(line: Any) -> dict[str, Any]:
            return {
                "id": line.id,
                "product_id": f"0000-{line.product_id:X}",
                "license_id": 19,
                "hd": False,
                "title": line.title,
                "license_title": "Download to own (permanent access + 1 burn)",
                "quantity": line.quantity,
                "grams": 0,
                "sku": line.sku,
                "price": cents(line.price),
                "taxable": line.taxable,
                "requires_shipping": line.requires_shipping,
                "gift_card": line.gift_card,
                "name": line.title,
                "product_exists": True,
                "total_discount": cents(line.discount),
            }

        lines = {line.id: line_item(line) for line in order.lines}
        return {
            "id": order.id,
            "email": order.email,
            "closed_at": gmt(order.closed_at),
            "created_at": gmt(order.created_at),
            "updated_at": gmt(order.updated_at),
            "theme_setting_id": 1422,
            "gateway": "TeleCash",
            "test": order.test,
            "total_weight": 0,
            "taxes_included": order.taxes_included,
            "currency": order.currency,
            "financial_status": order.financial_status,
            "confirmed": True,
            "buyer_accepts_marketing": False,
            "name": f"#{order.id}",
            "total_line_items_price": cents(order.line_items_price),
            "total_price": cents(order_total(order)),
            "subtotal_price": cents(order.subtotal),
            "total_tax": cents(tax),
            "total_discounts": cents(order.total_discounts),
            "cancelled_at": gmt(order.cancelled_at),
            "processed_at": gmt(order.created_at),
            "order_number": f"1212-{order.number}",
            "discount_codes": [
                {"id": order.id + 7, "amount": cents(amount), "code": code, "type": kind}
                for code, kind, amount in optional(order.discount_code)
            ],
            "payment_gateway_names": ["TeleCash"],
            "source_name": "webshop",
            "fulfillment_status": order.fulfillment_status,
            "tax_lines": [{"price": cents(base), "rate": int(order.tax_rate * 100)}] if tax else [],
            "line_items": list(lines.values()),
            "shipping_lines": [
                {"price": cents(price), "title": title, "tax_lines": []}
                for title, _, price in optional(order.shipping)
            ],
            "fulfillments": [
                {
                    "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.0568169+00:00"),
                    "id": fid,
                    "line_items": list(lines.values()),
                }
                for fid, at, _ in optional(order.fulfillment)
            ],
            "refunds": [
                {
                    "created_at": gmt(refund.created_at),
                    "id": refund.id,
                    "note": refund.note,
                    "order_id": order.id,
                    "refund_line_items": [
                        {"id": rl_id, "quantity": quantity, "line_item": lines[line_id]}
                        for rl_id, line_id, quantity in refund.lines
                    ],
                    "restock": refund.restock,
                    "tracking_number": None,
                    "transactions": [
                        {
                            "id": refund.transaction_id,
                            "order_id": order.id,
                            "gateway": "TeleCash",
                            "created_at": gmt(refund.created_at),
                            "test": order.test,
                            "status": "success",
                            "amount": cents(refund.amount),
                            "currency": order.currency,
                            "source_name": "web",
                        }
                    ],
                }
                for refund in order.refunds
            ],
            "customer": {
                "id": order.customer_id,
                "email": order.email,
                "first_name": "Test",
                "last_name": "User",
                "orders_count": 3,
                "state": "enabled",
                "total_spent": cents(order_total(order)),
                "password": f"pw-{order.customer_id}-secret",
                "password_confirmation": f"pw-{order.customer_id}-secret",
                "token": "TCMJEOTSBEVTDLFU",
            },
            "shipping_address": None,
        }


SIMULATOR = SimulatorSpec(
    FlickRocketApi,
    currencies=("EUR", "USD"),
    credentials={"access_token": "sim-token"},
    authorization="Bearer sim-token",
)
