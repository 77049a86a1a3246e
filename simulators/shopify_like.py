"""List, count and single-order routes shared by the Shopify-shaped APIs (Haravan, Spiffy
Stores, FlickRocket): the filters each document lists, default status, limit caps, `page`,
`since_id`, `ids` and `fields`. A platform subclass renders one order and sets its quirks."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from simulators.model import Order
from simulators.server import BaseApi, Query, Response

_ZONE = re.compile(r"\s+[A-Z]{3,4}\s+([+-]\d{2}:?\d{2})$")  # "2005-07-31 15:57:11 EDT -04:00"


def parse_time(value: str) -> datetime:
    """A filter timestamp in any of the documents' formats; no offset means UTC."""
    text = value.strip().replace("Z", "+00:00")
    zone = _ZONE.search(text)
    if zone:
        text = text[: zone.start()] + zone.group(1)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def status_of(order: Order) -> str:
    if order.cancelled_at is not None:
        return "cancelled"
    return "closed" if order.closed_at is not None else "open"


class ShopifyLikeApi(BaseApi):
    """Routes of a Shopify-shaped orders API over a `Store`."""

    name = "shopify-like"
    prefix = "/api"
    default_limit: int | None = 50
    max_limit: int = 250
    server_page_size: int | None = None  # set when the server ignores `limit`
    default_status: str | None = "open"
    fulfillment_status_param = "fulfillment_status"
    time_filters: ClassVar[dict[str, Callable[[Order], datetime | None]]] = {
        "created_at": lambda o: o.created_at,
        "updated_at": lambda o: o.updated_at,
    }

    # --- routing -------------------------------------------------------------------------
    def route(self, path: str, query: Query) -> Response | None:
        if path == f"{self.prefix}/orders.json":
            return Response({"orders": self.list_orders(query)})
        if path == f"{self.prefix}/orders/count.json":
            return Response({"count": len(self.select(query))})
        match = re.fullmatch(rf"{self.prefix}/orders/(\d+)\.json", path)
        if match:
            order = self.store.orders.get(int(match.group(1)))
            if order is None:
                return Response({"errors": "Not Found"}, status=404)
            return Response({"order": self.fields(self.payload(order), query)})
        return None

    def list_orders(self, query: Query) -> list[dict[str, Any]]:
        if self.server_page_size is not None:
            limit = self.server_page_size
        else:
            limit = min(int(query.get("limit") or self.default_limit or 50), self.max_limit)
        limit = self.served(limit)
        page = max(1, int(query.get("page") or 1))
        chosen = itertools.islice(self.matching(query), (page - 1) * limit, page * limit)
        return [self.fields(self.payload(order), query) for order in chosen]

    def select(self, query: Query) -> list[Order]:
        """The orders matching every filter, ascending by id."""
        return list(self.matching(query))

    def matching(self, query: Query) -> Iterator[Order]:
        """The orders matching every filter, ascending by id, lazily (a page stops early)."""
        orders = self.store.visible()
        if query.get("since_id"):
            since = int(query["since_id"])
            orders = orders[bisect.bisect_right(orders, since, key=lambda o: o.id) :]
        wanted = {int(i) for i in query["ids"].split(",") if i} if "ids" in query else None
        bounds = [
            (value_of, parse_time(low) if low else None, parse_time(high) if high else None)
            for name, value_of in self.time_filters.items()
            for low, high in [(query.get(f"{name}_min"), query.get(f"{name}_max"))]
            if low or high
        ]
        status = query.get("status", self.default_status)
        financial = query.get("financial_status")
        fulfillment = query.get(self.fulfillment_status_param)
        fulfilled = None if fulfillment in ("null", "not_fulfilled") else fulfillment
        for order in orders:
            if wanted is not None and order.id not in wanted:
                continue
            if any(
                (low and (value_of(order) or _NEVER) < low)
                or (high and (value_of(order) or _NEVER) > high)
                for value_of, low, high in bounds
            ):
                continue
            if status and status != "any" and status_of(order) != status:
                continue
            if financial and financial != "any" and order.financial_status != financial:
                continue
            if fulfillment and fulfillment != "any" and order.fulfillment_status != fulfilled:
                continue
            yield order

    @staticmethod
    def fields(payload: dict[str, Any], query: Query) -> dict[str, Any]:
        if not query.get("fields"):
            return payload
        wanted = {f.strip() for f in query["fields"].split(",")}
        return {k: v for k, v in payload.items() if k in wanted}


_NEVER = datetime.min.replace(tzinfo=UTC)
