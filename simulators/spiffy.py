"""Spiffy Stores simulator: `GET /api/orders.json`, `/api/orders/count.json`,
`/api/orders/{id}.json` as Spiffy Stores' API document describes them: open orders unless `status`,
`limit` 30 by default and at most 50, filters to the minute ("2014-12-31 12:00"), decimal-string
money, coupon and cart discounts, surcharges, `fulfilments`, and refunds only as transactions.

`SpiffyApi.spelling = "shopify"` sends the orders with Shopify's names instead, as the sample
order of Spiffy's own API client does (`total_tax`, `fulfillments`, `variant_id`, ...)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from simulators.model import Order, optional
from simulators.server import SimulatorSpec, basic
from simulators.shopify_like import ShopifyLikeApi

SURCHARGE_RATE = Decimal("0.015")
# documented name -> Shopify's, for orders and for line items
SHOPIFY_ORDER_NAMES = {
    "tax_price": "total_tax",
    "fulfilment_status": "fulfillment_status",
    "fulfilments": "fulfillments",
}
SHOPIFY_LINE_NAMES = {
    "variation_id": "variant_id",
    "variation_title": "variant_title",
    "discount_price": "total_discount",
    "fulfilment_status": "fulfillment_status",
}


def money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def zulu(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def surcharge(order: Order) -> Decimal:
    """A card surcharge on every seventh order."""
    if order.id % 7:
        return Decimal(0)
    return order.round((order.subtotal + order.total_shipping) * SURCHARGE_RATE)


def order_total(order: Order) -> Decimal:
    return order.total_price + surcharge(order)


def transaction(
    order: Order, ident: int, amount: Decimal, at: datetime, kind: str, status: str = "Success"
) -> dict[str, Any]:
    """One entry of an order's `transactions`, as Spiffy spells it ("Sale", "Success")."""
    return {
        "id": ident,
        "order_id": order.id,
        "amount": money(amount),
        "authorization": "",
        "created_at": zulu(at),
        "gateway": "Friendly Bank",
        "kind": kind,
        "status": status,
        "transaction_id": "",
        "description": f"{kind.upper()} {status.upper()}",
    }


def shopify_spelling(order: dict[str, Any]) -> dict[str, Any]:
    """A documented order payload spelt with Shopify's names: coupon and cart discounts as one
    `total_discounts`, and no `shipping_price` (Shopify has none; the shipping lines say it)."""
    renamed = {SHOPIFY_ORDER_NAMES.get(key, key): value for key, value in order.items()}
    discounts = Decimal(renamed.pop("discount_price")) + Decimal(renamed.pop("cart_discount_price"))
    renamed["total_discounts"] = money(discounts)
    del renamed["shipping_price"]
    renamed["line_items"] = [
        {SHOPIFY_LINE_NAMES.get(key, key): value for key, value in item.items()}
        for item in order["line_items"]
    ]
    return renamed


class SpiffyApi(ShopifyLikeApi):
    name = "spiffy"
    prefix = "/api"
    default_limit = 30
    max_limit = 50
    fulfillment_status_param = "fulfilment_status"
    time_filters: ClassVar = {
        **ShopifyLikeApi.time_filters,
        "closed_at": lambda o: o.closed_at,
    }
    spelling = "documented"  # or "shopify"

    def payload(self, order: Order, **options: Any) -> dict[str, Any]:
        # passed on as a render option, so that renders are cached per spelling
        return super().payload(order, spelling=self.spelling, **options)

    def render(self, order: Order, spelling: str = "documented") -> dict[str, Any]:
        documented = self.render_documented(order)
        return shopify_spelling(documented) if spelling == "shopify" else documented

    def render_documented(self, order: Order) -> dict[str, Any]:
        coupon = order.discount_code[2] if order.discount_code else Decimal(0)
        cart_discount = sum((line.discount for line in order.lines), Decimal(0))
        extra = surcharge(order)
        transactions = [
            transaction(order, order.payment_id, order_total(order), order.created_at, "Sale")
        ]
        for refund in order.refunds:
            transactions.append(
                transaction(
                    order, refund.transaction_id, refund.amount, refund.created_at, "Refund"
                )
            )
            if refund.id % 5 == 0:  # a declined attempt too: not money returned
                transactions.append(
                    transaction(
                        order,
                        refund.transaction_id + 1,
                        refund.amount,
                        refund.created_at,
                        "Refund",
                        "Failure",
                    )
                )
        return {
            "id": order.id,
            "order_number": order.number,
            "name": f"#{order.number:06d}",
            "browser_ip": "127.0.0.1",
            "created_at": zulu(order.created_at),
            "updated_at": zulu(order.updated_at),
            "currency": order.currency,
            "email": order.email,
            "credit": "0.0",
            "taxes_included": order.taxes_included,
            "tax_price": money(order.total_tax),
            "included_tax_price": money(order.total_tax if order.taxes_included else Decimal(0)),
            "tax_label": order.tax_title,
            "discount_price": money(coupon),
            "cart_discount_price": money(cart_discount),
            "shipping_price": money(order.total_shipping),
            "surcharge_price": money(extra),
            "surcharge_percentage": "1.5" if extra else "0.0",
            "surcharge_label": "Surcharge on payment by Visa card (1.5%)" if extra else "",
            "subtotal_price": money(order.subtotal),
            "total_line_items_price": money(order.line_items_price),
            "total_price": money(order_total(order)),
            "test": order.test,
            "gateway": "Friendly Bank",
            "note": None,
            "financial_status": order.financial_status,
            "fulfilment_status": order.fulfillment_status,
            "cancel_reason": order.cancel_reason,
            "cancelled_at": zulu(order.cancelled_at),
            "closed_at": zulu(order.closed_at),
            "tax_lines": [
                {
                    "title": order.tax_title,
                    "rate": str(order.tax_rate),
                    "price": money(order.total_tax),
                }
            ]
            if order.total_tax
            else [],
            "discount_codes": [
                {"code": code, "amount": money(amount), "type": kind}
                for code, kind, amount in optional(order.discount_code)
            ],
            "shipping_lines": [
                {"title": title, "code": code, "price": money(price)}
                for title, code, price in optional(order.shipping)
            ],
            "customer": {
                "id": order.customer_id,
                "email": order.email,
                "name": "Important Customer",
                "orders_count": 2,
                "state": "enabled",
                "total_spent": "11230.63",
            },
            "line_items": [
                {
                    "id": line.id,
                    "product_id": line.product_id,
                    "variation_id": line.variant_id,
                    "product_exists": True,
                    "quantity": line.quantity,
                    "sku": line.sku,
                    "name": line.title,
                    "title": line.title,
                    "variation_title": line.variant_title,
                    "vendor": "Spiffy Stores",
                    "price": money(line.price),
                    "taxable": line.taxable,
                    "discount_price": money(line.discount),
                    "total_price": money(line.price * line.quantity - line.discount),
                    "requires_shipping": line.requires_shipping,
                    "gift_card": line.gift_card,
                    "fulfilment_status": order.fulfillment_status,
                }
                for line in order.lines
            ],
            "fulfilments": [
                {
                    "id": fid,
                    "created_at": zulu(at),
                    "status": "success",
                    "tracking_company": "Australia Post",
                    "tracking_number": tracking,
                }
                for fid, at, tracking in optional(order.fulfillment)
            ],
            "transactions": transactions,
        }


SIMULATOR = SimulatorSpec(
    SpiffyApi,
    currencies=("AUD", "USD"),
    credentials={"api_key": "sim-key", "password": "sim-password"},
    authorization=basic("sim-key", "sim-password"),
)
