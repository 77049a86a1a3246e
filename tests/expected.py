"""What the warehouse must hold for a simulated shop, computed from the simulator's own model
(not from the transforms), per table: row counts and money and quantity sums."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pipelines.warehouse import Warehouse, as_warehouse
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


def warehouse_totals(warehouse: Warehouse | Path, platform: str, shop: str) -> Totals:
    """The same measures read from the warehouse (DuckDB or Postgres), for one shop."""
    totals: Totals = {}
    with as_warehouse(warehouse).connect(read_only=True) as db:
        for table, measures in MEASURES.items():
            [row] = db.rows(
                f"select {measures} from commerce.{table} where platform = $platform "
                "and shop = $shop",
                {"platform": platform, "shop": shop},
            )
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


def flickrocket_totals(store: Store) -> Totals:
    """FlickRocket: order-level tax, no order transactions (refund transactions only)."""
    from simulators.flickrocket import order_tax, order_total

    totals = shopify_like_totals(store)
    orders = store.visible()
    refunds = [r for o in orders for r in o.refunds]
    taxes = [order_tax(o)[1] for o in orders if order_tax(o)[1]]
    totals["orders"] = (
        len(orders),
        _sum(order_total(o) for o in orders),
        _sum(order_tax(o)[1] for o in orders),
        _sum(o.total_shipping for o in orders),
    )
    totals["transactions"] = (len(refunds), _sum(r.amount for r in refunds))
    totals["tax_lines"] = (len(taxes), _sum(taxes))
    return totals


def spiffy_totals(store: Store) -> Totals:
    """Spiffy: surcharges, cart discounts, refunds derived from successful refund transactions."""
    from simulators.spiffy import order_total

    totals = shopify_like_totals(store)
    orders = store.visible()
    refunds = [r for o in orders for r in o.refunds]
    declined = [r for r in refunds if r.id % 5 == 0]
    cart = [d for o in orders if (d := _sum(line.discount for line in o.lines))]
    coupons = [o.discount_code[2] for o in orders if o.discount_code]
    totals["orders"] = (
        len(orders),
        _sum(order_total(o) for o in orders),
        _sum(o.total_tax for o in orders),
        _sum(o.total_shipping for o in orders),
    )
    totals["refund_lines"] = (0, ZERO)
    totals["transactions"] = (
        len(orders) + len(refunds) + len(declined),
        _sum(order_total(o) for o in orders) + _sum(r.amount for r in refunds + declined),
    )
    taxes = [o.total_tax for o in orders if o.total_tax]
    totals["tax_lines"] = (len(taxes), _sum(taxes))
    totals["discounts"] = (len(coupons) + len(cart), _sum(coupons) + _sum(cart))
    return totals


def _full_refund_totals(orders: list, refunded: list) -> dict[str, tuple]:
    lines = [line for o in refunded for line in o.lines]
    return {
        "refunds": (len(refunded), _sum(o.total_price for o in refunded)),
        "refund_lines": (len(lines), sum(line.quantity for line in lines)),
    }


def merchantpro_totals(store: Store) -> Totals:
    """MerchantPro: line and shipping tax lines, coupons without amounts, derived full refunds."""
    totals = shopify_like_totals(store)
    orders = store.visible()
    refunded = [o for o in orders if o.financial_status == "refunded"]
    line_taxes = [o.line_tax(line) for o in orders for line in o.lines if o.line_tax(line)]
    shipping_taxes = [o.shipping_tax for o in orders if o.shipping and o.shipping_tax]
    totals.update(_full_refund_totals(orders, refunded))
    totals["transactions"] = (0, ZERO)
    totals["tax_lines"] = (
        len(line_taxes) + len(shipping_taxes),
        _sum(line_taxes) + _sum(shipping_taxes),
    )
    totals["discounts"] = (sum(1 for o in orders if o.discount_code), ZERO)
    totals["fulfillments"] = (0,)
    return totals


def lunasoft_totals(store: Store) -> Totals:
    """Lunasoft: one order-scope tax line, promo discounts, refunds derived from the history."""
    totals = shopify_like_totals(store)
    orders = store.visible()
    refunded = [o for o in orders if any(status == "Refunded" for _, status, _ in o.history)]
    taxes = [o.total_tax for o in orders if o.total_tax]
    rules = [d for o in orders if (d := _sum(line.discount for line in o.lines))]
    coupons = [o.discount_code[2] for o in orders if o.discount_code]
    totals.update(_full_refund_totals(orders, refunded))
    totals["transactions"] = (0, ZERO)
    totals["tax_lines"] = (len(taxes), _sum(taxes))
    totals["discounts"] = (len(coupons) + len(rules), _sum(coupons) + _sum(rules))
    totals["fulfillments"] = (0,)
    return totals


EXPECTED = {
    "haravan": shopify_like_totals,
    "flickrocket": flickrocket_totals,
    "spiffy": spiffy_totals,
    "merchantpro": merchantpro_totals,
    "lunasoft": lunasoft_totals,
}


def expected_totals(platform: str, store: Store) -> Totals:
    """The measures a correct load of `store` gives for `platform`."""
    return EXPECTED[platform](store)
