"""Lunasoft shopping-cart simulator: `GET /orders` and `/orders/{id}` under the base module url,
as Lunasoft's API document describes them: 50 orders a page, `page` and `next_page` (a number or
false), default sort `-id`, filters `id` (>=) and `created_on_after`, every value a string,
"0000-00-00" for missing dates, card data, and a `statuses` history (newest first)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from simulators.model import Order
from simulators.server import BaseApi, Query, Response, SimulatorSpec
from simulators.shopify_like import parse_time

PAGE_SIZE = 50


def text(amount: Decimal) -> str:
    return f"{amount:.2f}"


def stamp(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000") if moment else ""


class LunasoftApi(BaseApi):
    name = "lunasoft"

    def route(self, path: str, query: Query) -> Response | None:
        if path == "/orders":
            return self.list_orders(query)
        match = re.fullmatch(r"/orders/(\d+)", path)
        if match:
            order = self.store.orders.get(int(match.group(1)))
            if order is None:
                return Response({"errors": ["Order not found"]}, status=404)
            return Response(self.payload(order))
        return None

    def list_orders(self, query: Query) -> Response:
        by_id = self.store.visible()  # ascending by id
        if query.get("id"):
            by_id = by_id[bisect.bisect_left(by_id, int(query["id"]), key=lambda o: o.id) :]
        orders: Iterable[Order] = by_id
        if query.get("created_on_after"):
            after = parse_time(query["created_on_after"])
            orders = (o for o in orders if o.created_at >= after)
        sort = query.get("sort") or "-id"
        if sort.lstrip("-") == "created":
            orders = sorted(orders, key=lambda o: (o.created_at, o.id))
        if sort.startswith("-"):
            orders = list(orders)[::-1]
        page = max(1, int(query.get("page") or 1))
        size = self.served(PAGE_SIZE)
        # read one order past the page (lazily, when ascending by id) to know if there is more
        window = list(islice(orders, (page - 1) * size, page * size + 1))
        chosen, more = window[:size], len(window) > size
        return Response(
            {"orders": [self.payload(o) for o in chosen], "next_page": page + 1 if more else False}
        )

    def render(self, order: Order) -> dict[str, Any]:
        history = sorted(order.history, key=lambda entry: entry[0], reverse=True)
        coupon = order.discount_code
        line_discounts = sum((line.discount for line in order.lines), Decimal(0))
        return {
            "id": str(order.id),
            "user_id": str(order.customer_id),
            "user_email": order.email,
            "current_status": history[0][1],
            "order_num": str(order.number),
            "order_description": "Site shopping order",
            "customer_note": "",
            "first_name": "Test",
            "last_name": "Customer",
            "email": order.email,
            "total": text(order.total_price),
            "tax": text(order.total_tax),
            "is_paid": order.financial_status not in ("pending", "voided"),
            "payment_option": "Credit Card",
            "payment_option_type": "authorize.net",
            "check_num": "",
            "check_date": "0000-00-00",
            "transaction_id": "0",
            "card_last_4": "0027",
            "card_type": "Visa",
            "promo_code": coupon[0] if coupon else "",
            "promo_code_discount": text(coupon[2] if coupon else Decimal(0)),
            "promo_rule_discount": text(line_discounts),
            "promo_rule_discount_shipping": "0.00",
            "gift_cert_applied": "0.00",
            "shipping_option": order.shipping[0] if order.shipping else "",
            "shipping_cost": text(order.total_shipping),
            "is_fulfilled": order.fulfillment is not None,
            "web_order": True,
            "created": stamp(order.created_at),
            "modified": stamp(order.updated_at) if order.updated_at != order.created_at else "",
            "line_items": [
                {
                    "id": str(line.id),
                    "product_id": str(line.product_id),
                    "name": line.title,
                    "sku": line.sku,
                    "cost": text(line.price),
                    "quantity": str(line.quantity),
                    "total_cost": text(line.price * line.quantity),
                    "is_gift_certificate": line.gift_card,
                    "is_fulfilled": order.fulfillment is not None,
                    "shipment_info": None,
                }
                for line in order.lines
            ],
            "statuses": [
                {
                    "id": str(status_id),
                    "status": status,
                    "notes": f"Order is {status.lower()}",
                    "notify_customer": True,
                    "created": stamp(at),
                    "modified": "",
                    "modified_user_id": None,
                }
                for status_id, status, at in history
            ],
        }


SIMULATOR = SimulatorSpec(
    LunasoftApi,
    currencies=("USD",),
    credentials={"api_key": "sim-token"},
    authorization="Bearer sim-token",
    options={"currency": "USD"},
)
