"""Batches of pages -> one arrow table per warehouse table: each order payload mapped to rows,
and what cannot be mapped, or holds a value a warehouse column cannot hold, quarantined."""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from transforms.scrub import json_bytes, scrubbed_page
from transforms.tables import QUARANTINE, TABLES, UNFIT_ERRORS, Rows, iter_tables, unfit_values
from transforms.values import MappingError, identifier

OrderMapper = Callable[[Mapping[str, Any]], Rows]

# What a malformed payload raises inside a mapper: a value of the wrong type or shape, or one
# that arithmetic cannot handle (a decimal overflow, a date beyond the calendar).
_BAD_INPUT = (
    MappingError,
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    ArithmeticError,
)


def map_page(
    mapper: OrderMapper, payloads: Iterable[Mapping[str, Any]], seen_at: datetime
) -> tuple[Rows, list[str]]:
    """Rows of every table for a page, and the ids of the orders that mapped.

    The payloads are stored as they are: scrub them first (see
    `transforms.scrub.scrubbed_page`). An order that cannot be mapped becomes one `quarantine`
    row with the reason (led by where the refused value sits in the payload,
    `line_items[0].price: ...`, where that can be told) and its payload; its previously loaded
    rows are left as they were and the rest of the page still loads.
    """
    rows: Rows = defaultdict(list)
    mapped: list[str] = []
    for payload in payloads:
        raw = json_bytes(payload).decode()
        try:
            order_rows = mapper(payload)
        except _BAD_INPUT as error:
            rows["quarantine"].append(
                {
                    "order_id": _quarantine_id(payload),
                    "reason": _reason(error, payload),
                    "payload": raw,
                    "seen_at": seen_at,
                }
            )
            continue
        order = order_rows["orders"][0]
        for name, table_rows in order_rows.items():
            rows[name].extend(table_rows)
        rows["raw_orders"].append(
            {"order_id": order["order_id"], "updated_at": order["updated_at"], "payload": raw}
        )
        mapped.append(str(order["order_id"]))
    return rows, mapped


def _reason(error: Exception, payload: Any) -> str:
    """Why an order could not be mapped, led by the place of the refused value in the payload."""
    if not isinstance(error, MappingError):
        return f"{type(error).__name__}: {error}"
    place = None if error.value is None else _place_of(error.value, payload)
    return f"{place}: {error}" if place else str(error)


def _place_of(value: Any, payload: Any) -> str | None:
    """Where `value`, the very object a parser refused, sits in `payload` (`customer.id`,
    `line_items[2].quantity`); None unless it sits there exactly once. Python shares some
    objects between fields (small integers, booleans), so a value found twice cannot be
    placed."""
    places: list[str] = []
    stack: list[tuple[Any, str]] = [(payload, "")]
    while stack:
        node, place = stack.pop()
        if isinstance(node, dict):
            children = (
                (f"{place}.{key}" if place else str(key), child) for key, child in node.items()
            )
        elif isinstance(node, list):
            children = ((f"{place}[{index}]", child) for index, child in enumerate(node))
        else:
            continue
        for child_place, child in children:
            if child is value:
                places.append(child_place)
            stack.append((child, child_place))
    return places[0] if len(places) == 1 else None


def _quarantine_id(payload: Any) -> str:
    """The order id a quarantined payload is filed under: "" when it has no usable one."""
    try:
        return (identifier(payload.get("id")) if isinstance(payload, Mapping) else None) or ""
    except MappingError:
        return ""


@dataclass
class MappedBatch:
    """A batch of pages mapped to one arrow table per warehouse table that has rows."""

    tables: dict[str, pa.Table]
    orders: int
    quarantined: int


@contextmanager
def _collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused, unless something else paused it.

    Parsing and mapping allocate many containers that live until the batch is built, so the
    collector runs again and again, each full collection walking every object of the process
    (a fifth to a third of a batch's CPU when one falls within it), to find nothing: parsed
    JSON, rows and columns hold no reference cycles, and refcounting frees them (any cycle is
    found once it is resumed)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@_collection_paused()
def map_batch(
    mapper: OrderMapper,
    platform: str,
    shop: str,
    pages: list[bytes],
    seen_at: datetime,
    reset: bool,
) -> MappedBatch:
    """Map pages (compact JSON lists of order payloads) to arrow tables, without secrets (see
    `transforms.scrub.scrubbed_page`). With `reset`, each mapped order's previously loaded child
    rows are replaced (see `transforms.tables.iter_tables`). A pure function of its arguments,
    so it can run in a worker process.

    An order holding a value that a column cannot hold (see `transforms.tables.unfit_values`)
    is quarantined with the reason instead of failing the batch: the tables are built once, and
    only when that fails are the culprits looked for and the tables built again without them.
    """
    rows: Rows = defaultdict(list)
    mapped: list[str] = []
    for page in pages:
        page_rows, page_mapped = map_page(mapper, scrubbed_page(page), seen_at)
        for name, table_rows in page_rows.items():
            rows[name].extend(table_rows)
        mapped += page_mapped
    try:
        tables = _arrow_tables(platform, shop, rows, mapped if reset else [])
    except UNFIT_ERRORS:
        unfit = _unfit_orders(rows)
        if not unfit:
            raise
        _quarantine_orders(rows, unfit, seen_at)
        mapped = [order_id for order_id in mapped if order_id not in unfit]
        tables = _arrow_tables(platform, shop, rows, mapped if reset else [])
    return MappedBatch(tables, len(mapped), len(rows.get("quarantine", [])))


def _arrow_tables(platform: str, shop: str, rows: Rows, resets: list[str]) -> dict[str, pa.Table]:
    return {table.name: data for table, data in iter_tables(platform, shop, rows, resets)}


def _unfit_orders(rows: Rows) -> dict[str, str]:
    """Order id -> why a column cannot hold one of its values, for every such order."""
    reasons: dict[str, list[str]] = defaultdict(list)
    for table in TABLES:
        if table is QUARANTINE:  # already quarantined orders: nothing of theirs is loaded
            continue
        table_rows = rows.get(table.name, [])
        for index, reason in unfit_values(table, table_rows).items():
            order_reasons = reasons[str(table_rows[index]["order_id"])]
            if reason not in order_reasons:
                order_reasons.append(reason)
    return {order_id: "; ".join(found) for order_id, found in reasons.items()}


def _quarantine_orders(rows: Rows, reasons: dict[str, str], seen_at: datetime) -> None:
    """Move these mapped orders' rows out of `rows` and into quarantine, with their reasons."""
    payloads = {
        row["order_id"]: row["payload"] for row in rows["raw_orders"] if row["order_id"] in reasons
    }
    for name, table_rows in rows.items():
        if name != QUARANTINE.name:
            rows[name] = [row for row in table_rows if row["order_id"] not in reasons]
    rows[QUARANTINE.name] += [
        {"order_id": order_id, "reason": reason, "payload": payloads[order_id], "seen_at": seen_at}
        for order_id, reason in reasons.items()
    ]
