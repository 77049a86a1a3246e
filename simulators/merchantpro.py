"""MerchantPro simulator: `GET /api/v2/orders` and `/api/v2/orders/{id}` as
MerchantPro's API document describes them: `data` envelope with `meta.count` and
`meta.links.next`, `start`/`limit` offsets (at most 100), line items only with
`include=line_items`, `fields`, the documented filters and sorts, money as JSON floats and
timestamps with a `+02:00` offset. Orders have no refund records: a fully refunded order's
`payment_status` is `refunded`."""

from __future__ import annotations

import bisect
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from simulators.model import Order
from simulators.server import BaseApi, Query, Response, SimulatorSpec, basic
from simulators.shopify_like import parse_time

BUCHAREST = timezone(timedelta(hours=2))
LIST_FIELDS_EXCLUDED = {"line_items"}


def number(amount: Decimal) -> float | int:
    """Money as MerchantPro sends it: a JSON number."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def local(moment: datetime | None) -> str | None:
    return moment.astimezone(BUCHAREST).isoformat() if moment else None


def payment_status(order: Order) -> str:
    return {"voided": "canceled", "refunded": "refunded", "pending": "awaiting"}.get(
        order.financial_status, "paid"
    )


def shipping_status(order: Order) -> str:
    if order.cancelled_at:
        return "cancelled"
    return "shipped" if order.fulfillment else "awaiting"


class MerchantProApi(BaseApi):
    name = "merchantpro"
    max_limit = 100

    def route(self, path: str, query: Query) -> Response | None:
        if path == "/api/v2/orders":
            return self.list_orders(path, query)
        match = re.fullmatch(r"/api/v2/orders/(\d+)", path)
        if match:
            order = self.store.orders.get(int(match.group(1)))
            if order is None:
                return Response({"error": "Resource not found"}, status=404)
            return Response(self.fields(self.payload(order), query))
        return None

    def list_orders(self, path: str, query: Query) -> Response:
        sort = query.get("sort")
        orders = self.store.by_creation() if sort == "date_created" else self.store.visible()
        if query.get("id"):
            orders = [o for o in orders if o.id == int(query["id"])]
        if query.get("ids"):
            wanted = {int(i) for i in query["ids"].split(",") if i}
            orders = [o for o in orders if o.id in wanted]
        for name, value_of in (
            ("payment_status", payment_status),
            ("shipping_status", shipping_status),
        ):
            if query.get(name):
                orders = [o for o in orders if value_of(o) == query[name]]
        if query.get("customer_id"):
            orders = [o for o in orders if o.customer_id == int(query["customer_id"])]
        if query.get("created_after"):
            after = parse_time(query["created_after"])
            if sort == "date_created":  # already sorted by creation: bisect
                orders = orders[bisect.bisect_left(orders, after, key=lambda o: o.created_at) :]
            else:
                orders = [o for o in orders if o.created_at >= after]
        if query.get("created_before"):
            before = parse_time(query["created_before"])
            orders = [o for o in orders if o.created_at < before]
        if sort == "date_created.desc":
            orders.sort(key=lambda o: (o.created_at, o.id), reverse=True)
        elif sort != "date_created":  # undocumented default: newest id first
            orders.sort(key=lambda o: o.id, reverse=True)
        start = int(query.get("start") or 0)
        limit = min(int(query.get("limit") or self.max_limit), self.max_limit)
        chosen = orders[start : start + self.served(limit)]
        include = set((query.get("include") or "").split(","))
        data = [
            self.fields(self.payload(o, with_lines="line_items" in include), query) for o in chosen
        ]
        end = start + len(data)  # the next page starts after what was served, not after `limit`
        following = {**query, "start": end, "limit": limit}
        return Response(
            {
                "data": data,
                "meta": {
                    "count": {
                        "total": len(orders),
                        "current": len(data),
                        "start": start,
                        "limit": limit,
                    },
                    "links": {
                        "prev": None,
                        "current": f"{path}?{urlencode(query)}",
                        "next": f"{path}?{urlencode(following)}" if end < len(orders) else None,
                    },
                },
            }
        )

    @staticmethod
    def fields(payload: dict[str, Any], query: Query) -> dict[str, Any]:
        if not query.get("fields"):
            return payload
        wanted = {f.strip() for f in query["fields"].split(",")} | {"id"}
        return {k: v for k, v in payload.items() if k in wanted}

    def render(self, order: Order, with_lines: bool = True) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": order.id,
            "parent_id": order.id - 1 if order.number % 25 == 0 else None,
            "return_source_id": None,
            "payment_status": payment_status(order),
            "payment_status_text": payment_status(order).title(),
            "payment_method_code": "cash_delivery",
            "shipping_status": shipping_status(order),
            "shipping_method_id": 3 if order.shipping else 0,
            "shipping_method_name": order.shipping[0] if order.shipping else None,
            "shipping_amount": number(order.total_shipping) if order.shipping else None,
            "shipping_tax_amount": number(order.shipping_tax) if order.shipping else None,
            "total_amount": number(order.total_price),
            "currency": order.currency,
            "coupon_code": order.discount_code[0] if order.discount_code else None,
            "customer_id": order.customer_id,
            "customer_email": order.email,
            "customer_device": "desktop",
            "date_created": local(order.created_at),
            "date_modified": local(order.updated_at),
            "created_by": "customer",
            "meta_fields": None,
            "tags": None,
            "billing_name": "John Smith",
            "billing_country_code": "RO",
        }
        if with_lines:
            items = []
            for line in order.lines:
                net = line.price * line.quantity - line.discount
                tax = order.line_tax(line)
                items.append(
                    {
                        "item_type": "product",
                        "product_id": line.product_id,
                        "variant_id": line.variant_id,
                        "variant_name": line.variant_title,
                        "product_sku": line.sku,
                        "product_name": line.title,
                        "product_tax_name": order.tax_title,
                        "product_tax_percent": int(order.tax_rate * 100) if tax else 0,
                        "quantity": line.quantity,
                        "unit_price_net": number(line.price),
                        "unit_tax_amount": number(order.round(tax / line.quantity)),
                        "unit_price_gross": number(line.price + order.round(tax / line.quantity)),
                        "line_subtotal_net": number(net),
                        "line_tax_amount": number(tax),
                        "line_subtotal_gross": number(net + tax),
                    }
                )
            payload["line_items"] = items
        return payload


SIMULATOR = SimulatorSpec(
    MerchantProApi,
    currencies=("RON", "USD"),
    credentials={"api_key": "sim-key", "api_secret": "sim-secret"},
    authorization=basic("sim-key", "sim-secret"),
)
