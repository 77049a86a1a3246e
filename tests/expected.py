"""What the warehouse must hold for a simulated shop, computed from the simulator's own model
(not from the transforms), per table: row counts and money and quantity sums."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

from simulators.model import Store

Totals = dict[str, tuple]
ZERO = Decimal(0)

MEASURES = {
    "orders": "count(*), sum(total_price), sum(total_tax), sum(total_shipping)",
    "order_lines": "count(*), sum(quantity), sum(unit_price * quantity)",
    "refunds": "count(*), sum(amount)",
    "refund_lines": "count(*), sum(quantity)",
    "transactions": "count(*), sum(amount)",
    "tax_lines": "count(*), sum(amount)",
    "discounts": "count(*), sum(amount)",
    "shipping_lines": "count(*), sum(price)",
    "fulfillments": "count(*)",
}


def warehouse_totals(warehouse: Path, platform: str, shop: str) -> Totals:
    """The same measures read from the warehouse, for one shop."""
    totals: Totals = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table, measures in MEASURES.items():
            row = con.execute(
                f"select {measures} from commerce.{table} where platform = ? and shop = ?",
                [platform, shop],
            ).fetchone()
            assert row is not None
            totals[table] = tuple(ZERO if v is None else v for v in row)
    return totals


def _sum(values: object) -> Decimal:
    return sum(values, ZERO)  # type: ignore[arg-type]


def shopify_like_totals(store: Store) -> Totals:
    """Haravan's (and the Shopify-shaped platforms') measures from the model."""
    orders = store.visible()
    lines = [line for o in orders for line in o.lines]
    refunds = [r for o in orders for r in o.refunds]
    line_taxes = [o.line_tax(line) for o in orders for line in o.lines if o.line_tax(line)]
    shipping_taxes = [o.shipping_tax for o in orders if o.shipping_tax]
    order_taxes = [o.total_tax for o in orders if o.total_tax]
    return {
        "orders": (
            len(orders),
            _sum(o.total_price for o in orders),
            _sum(o.total_tax for o in orders),
            _sum(o.total_shipping for o in orders),
        ),
        "order_lines": (
            len(lines),
            sum(line.quantity for line in lines),
            _sum(line.price * line.quantity for line in lines),
        ),
        "refunds": (len(refunds), _sum(r.amount for r in refunds)),
        "refund_lines": (
            sum(len(r.lines) for r in refunds),
            sum(q for r in refunds for _, _, q in r.lines),
        ),
        "transactions": (
            len(orders) + len(refunds),
            _sum(o.total_price for o in orders) + _sum(r.amount for r in refunds),
        ),
        "tax_lines": (
            len(line_taxes) + len(shipping_taxes) + len(order_taxes),
            _sum(line_taxes) + _sum(shipping_taxes) + _sum(order_taxes),
        ),
        "discounts": (
            sum(1 for o in orders if o.discount_code),
            _sum(o.discount_code[2] for o in orders if o.discount_code),
        ),
        "shipping_lines": (
            sum(1 for o in orders if o.shipping),
            _sum(o.shipping[2] for o in orders if o.shipping),
        ),
        "fulfillments": (sum(1 for o in orders if o.fulfillment),),
    }
