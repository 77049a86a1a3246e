"""Pieces shared by the platforms whose payloads follow Shopify's order shape
(Haravan, FlickRocket, Spiffy Stores): line items, discount codes, shipping lines,
fulfilments and transactions. Each platform passes its own money parser and, where its
payloads spell a field otherwise, its `Spelling`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from transforms import values as v
from transforms.common import TaxScope, first_present, prorated, tax_row

Money = Callable[[Any], Decimal | None]


@dataclass(frozen=True)
class Spelling:
    """The payload names of the fields that Shopify-shaped platforms spell differently: for
    each, the names to read in order, the platform's documented one first (see
    `transforms.common.first_present`)."""

    total_tax: tuple[str, ...] = ("total_tax",)
    fulfillment_status: tuple[str, ...] = ("fulfillment_status",)
    fulfillments: tuple[str, ...] = ("fulfillments",)
    variant_id: tuple[str, ...] = ("variant_id",)
    variant_title: tuple[str, ...] = ("variant_title",)
    line_discount: tuple[str, ...] = ("total_discount",)


SHOPIFY = Spelling()


def order_row(
    order_id: str, order: Mapping[str, Any], money: Money, spelling: Spelling = SHOPIFY
) -> dict[str, Any]:
    """The `orders` row as Shopify-shaped payloads spell it; platforms override what differs.
    An order without its total or its tax total is a mapping error."""
    customer = order.get("customer") or {}
    cancelled_at = v.timestamp(order.get("cancelled_at"))
    financial_status = v.status(order.get("financial_status"))
    return {
        "order_id": order_id,
        "order_number": v.identifier(order.get("order_number")),
        "name": v.text(order.get("name")),
        "created_at": v.timestamp(order.get("created_at")),
        "updated_at": v.timestamp(order.get("updated_at")),
        "processed_at": v.timestamp(order.get("processed_at")),
        "cancelled_at": cancelled_at,
        "closed_at": v.timestamp(order.get("closed_at")),
        "cancel_reason": v.status(order.get("cancel_reason")),
        # Haravan and Spiffy void the payment of a cancelled order (FlickRocket never voids)
        "is_cancelled": cancelled_at is not None or financial_status == "voided",
        "currency": v.currency(order.get("currency")),
        "financial_status": financial_status,
        "fulfillment_status": v.status(first_present(order, spelling.fulfillment_status)),
        "order_status": None,
        "is_test": v.flag(order.get("test")),
        "taxes_included": v.flag(order.get("taxes_included")),
        "subtotal_price": money(order.get("subtotal_price")),
        "total_discounts": money(order.get("total_discounts")),
        "total_shipping": None,  # each platform's mapper sets it (from its shipping lines)
        "total_tax": v.required(
            money(first_present(order, spelling.total_tax)), "orders.total_tax", *spelling.total_tax
        ),
        "total_surcharge": None,
        "total_price": v.required(
            money(order.get("total_price")), "orders.total_price", "total_price"
        ),
        "customer_id": v.identifier(customer.get("id")),
        "email": v.text(order.get("email")),
        "source_name": v.text(order.get("source_name")),
        "parent_order_id": None,
        "return_source_order_id": None,
        "is_deleted": False,  # the platform still serves the order
    }


def line_rows(
    order_id: str,
    items: list[Mapping[str, Any]],
    money: Money,
    spelling: Spelling = SHOPIFY,
) -> list[dict[str, Any]]:
    """`order_lines` rows; `tax_amount` is the sum of the line's own tax lines, if it has any."""
    rows = []
    for item in items:
        tax_lines = item.get("tax_lines")
        rows.append(
            {
                "order_id": order_id,
                "line_id": v.required_id(item.get("id"), "line item id"),
                "product_id": v.identifier(item.get("product_id")),
                "variant_id": v.identifier(first_present(item, spelling.variant_id)),
                "sku": v.text(item.get("sku")),
                "title": v.text(item.get("title")),
                "variant_title": v.text(first_present(item, spelling.variant_title)),
                "quantity": v.quantity(item.get("quantity")),
                "unit_price": money(item.get("price")),
                "total_discount": money(first_present(item, spelling.line_discount)),
                "tax_amount": sum(
                    (money(t.get("price")) or Decimal(0) for t in tax_lines), Decimal(0)
                )
                if tax_lines
                else None,
                "taxable": v.flag(item.get("taxable")),
                "requires_shipping": v.flag(item.get("requires_shipping")),
                "is_gift_card": v.flag(item.get("gift_card")),
            }
        )
    return rows


def tax_line_rows(
    order_id: str,
    scope: TaxScope,
    line_id: str,
    tax_lines: list[Mapping[str, Any]],
    money: Money,
    first_position: int = 0,
) -> list[dict[str, Any]]:
    """`tax_lines` rows whose `price` is the tax amount and `rate` a fraction (Shopify's shape)."""
    return [
        tax_row(
            order_id,
            scope,
            line_id=line_id,
            position=first_position + position,
            title=v.text(tax.get("title")),
            rate=v.rate(tax.get("rate")),
            amount=money(tax.get("price")),
        )
        for position, tax in enumerate(tax_lines)
    ]


def nested_tax_rows(
    order_id: str, order: Mapping[str, Any], money: Money, *, shipping_field: str = "shipping_lines"
) -> list[dict[str, Any]]:
    """Tax lines at every scope: the order's own, each line item's and each shipping line's."""
    rows = tax_line_rows(order_id, "order", "", order.get("tax_lines") or [], money)
    for item in order.get("line_items") or []:
        line_id = v.required_id(item.get("id"), "line item id")
        rows += tax_line_rows(order_id, "line", line_id, item.get("tax_lines") or [], money)
    position = 0
    for shipping in order.get(shipping_field) or []:
        shipping_taxes = shipping.get("tax_lines") or []
        rows += tax_line_rows(order_id, "shipping", "", shipping_taxes, money, position)
        position += len(shipping_taxes)
    return rows


def discount_rows(order_id: str, codes: list[Mapping[str, Any]], money: Money) -> list[dict]:
    """`discounts` rows from `discount_codes`."""
    return [
        {
            "order_id": order_id,
            "position": position,
            "code": v.text(code.get("code")),
            "type": v.status(code.get("type")),
            "amount": money(code.get("amount")),
        }
        for position, code in enumerate(codes)
    ]


def shipping_total(shipping: list[dict]) -> Decimal:
    """The order's shipping: the sum of its `shipping_lines` rows' prices."""
    return sum((line["price"] or Decimal(0) for line in shipping), Decimal(0))


def shipping_rows(order_id: str, lines: list[Mapping[str, Any]], money: Money) -> list[dict]:
    """`shipping_lines` rows."""
    return [
        {
            "order_id": order_id,
            "position": position,
            "title": v.text(line.get("title")),
            "code": v.text(line.get("code")),
            "price": money(line.get("price")),
        }
        for position, line in enumerate(lines)
    ]


def fulfillment_rows(
    order_id: str, order: Mapping[str, Any], spelling: Spelling = SHOPIFY
) -> list[dict]:
    """`fulfillments` rows from the order's fulfilments."""
    fulfillments = first_present(order, spelling.fulfillments) or []
    return [
        {
            "fulfillment_id": v.required_id(f.get("id"), "fulfillment id"),
            "order_id": order_id,
            "status": v.status(f.get("status")),
            "created_at": v.timestamp(f.get("created_at")),
            "tracking_company": v.text(f.get("tracking_company")),
            "tracking_number": v.text(f.get("tracking_number")),
        }
        for f in fulfillments
    ]


def transaction_rows(
    order_id: str,
    transactions: list[Mapping[str, Any]],
    money: Money,
    *,
    refund_id: str | None = None,
    default_kind: str | None = None,
    currency: str | None = None,
) -> list[dict]:
    """`transactions` rows; kind and status lower-cased."""
    return [
        {
            "transaction_id": v.required_id(t.get("id"), "transaction id"),
            "order_id": order_id,
            "refund_id": refund_id,
            "kind": v.status(t.get("kind")) or default_kind,
            "status": v.status(t.get("status")),
            "amount": money(t.get("amount")),
            "currency": v.currency(t.get("currency")) or currency,
            "gateway": v.text(t.get("gateway")),
            "created_at": v.timestamp(t.get("created_at")),
            "is_test": v.flag(t.get("test")),
        }
        for t in transactions
    ]


def refund_amount(transactions: list[dict]) -> Decimal:
    """Money returned by a refund: its successful refund transactions."""
    return sum(
        (
            t["amount"] or Decimal(0)
            for t in transactions
            if t["kind"] == "refund" and t["status"] in ("success", None)
        ),
        Decimal(0),
    )


def refund_rows(
    order_id: str,
    refunds: list[Mapping[str, Any]],
    money: Money,
    *,
    currency: str | None,
) -> dict[str, list[dict]]:
    """`refunds`, `refund_lines` and refund `transactions` from Shopify-shaped refund records.

    A refund line is linked to its order line by `line_item_id`, or by the embedded
    `line_item.id` where the platform sends no `line_item_id` (FlickRocket). Its subtotal is the
    platform's `subtotal` where sent, else quantity x the line's price less the line's discount
    prorated to the refunded quantity. A refund's amount is its successful refund transactions.
    """
    out: dict[str, list[dict]] = {"refunds": [], "refund_lines": [], "transactions": []}
    for refund in refunds:
        refund_id = v.required_id(refund.get("id"), "refund id")
        transactions = transaction_rows(
            order_id,
            refund.get("transactions") or [],
            money,
            refund_id=refund_id,
            default_kind="refund",
            currency=currency,
        )
        out["transactions"] += transactions
        out["refunds"].append(
            {
                "refund_id": refund_id,
                "order_id": order_id,
                "created_at": v.timestamp(refund.get("created_at")),
                "note": v.text(refund.get("note")),
                "restock": v.flag(refund.get("restock")),
                "amount": refund_amount(transactions),
                "is_derived": False,
            }
        )
        for item in refund.get("refund_line_items") or []:
            line = item.get("line_item") or {}
            refunded = v.quantity(item.get("quantity")) or 0
            subtotal = money(item.get("subtotal"))
            if subtotal is None:
                price = money(line.get("price")) or Decimal(0)
                discount = money(line.get("total_discount"))
                subtotal = price * refunded - prorated(
                    discount, refunded, v.quantity(line.get("quantity"))
                )
            out["refund_lines"].append(
                {
                    "refund_id": refund_id,
                    "refund_line_id": v.required_id(item.get("id"), "refund line id"),
                    "order_id": order_id,
                    "line_id": v.required_id(
                        item.get("line_item_id") or line.get("id"), "refunded line item id"
                    ),
                    "quantity": refunded,
                    "subtotal": subtotal,
                }
            )
    return out
