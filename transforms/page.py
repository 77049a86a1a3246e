"""Map one page of platform payloads to warehouse rows, quarantining what cannot be mapped."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from transforms.tables import Rows
from transforms.values import MappingError, identifier

OrderMapper = Callable[[Mapping[str, Any]], Rows]

# What a malformed payload raises inside a mapper: a value of the wrong type or shape.
_BAD_INPUT = (MappingError, KeyError, TypeError, ValueError, AttributeError, IndexError)

SENSITIVE_KEYS = frozenset(
    {
        "password",
        "password_confirmation",
        "credit_card_number",
        "credit_card_bin",
        "card_number",
        "card_last_4",
        "card_type",
        "check_num",
        "cvv",
        "cvv_result_code",
        "avs_result_code",
    }
)


def scrub(payload: Any) -> Any:
    """Remove passwords, card data and other secrets from a freshly parsed payload, at any depth,
    in place (the payload belongs to this page), and return it."""
    stack = [payload]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in [key for key in node if key in SENSITIVE_KEYS]:
                del node[key]
            stack.extend(value for value in node.values() if isinstance(value, dict | list))
        elif isinstance(node, list):
            stack.extend(value for value in node if isinstance(value, dict | list))
    return payload


def map_page(
    mapper: OrderMapper, payloads: Iterable[Mapping[str, Any]], seen_at: datetime
) -> tuple[Rows, list[str]]:
    """Rows of every table for a page, and the ids of the orders that mapped.

    Secrets and card data are stripped first (see `scrub`). An order that cannot be mapped
    becomes one `quarantine` row with the reason and its payload;
    its previously loaded rows are left as they were and the rest of the page still loads.
    """
    rows: Rows = defaultdict(list)
    mapped: list[str] = []
    for payload in map(scrub, payloads):
        raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        try:
            order_rows = mapper(payload)
        except _BAD_INPUT as error:
            reason = (
                str(error)
                if isinstance(error, MappingError)
                else f"{type(error).__name__}: {error}"
            )
            order_id = identifier(payload.get("id")) if isinstance(payload, Mapping) else None
            rows["quarantine"].append(
                {"order_id": order_id or "", "reason": reason, "payload": raw, "seen_at": seen_at}
            )
            continue
        order = order_rows["orders"][0]
        order["is_deleted"] = False
        for name, table_rows in order_rows.items():
            rows[name].extend(table_rows)
        rows["raw_orders"].append(
            {"order_id": order["order_id"], "updated_at": order["updated_at"], "payload": raw}
        )
        mapped.append(str(order["order_id"]))
    return rows, mapped
