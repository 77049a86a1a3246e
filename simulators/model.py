"""The simulators' shared order model: seeded, realistic orders in a platform-neutral shape
(money as Decimal in major units), the totals every platform derives from them, and the
mutations tests and the demo apply (new orders, updates, refunds, cancellations, deletions).

Platform renderers (one module per platform) turn these orders into each API's payloads.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

CURRENCIES = {  # code: (minor digits, tax rate, taxes included in prices, tax title)
    "USD": (2, Decimal("0.06"), False, "State Tax"),
    "EUR": (2, Decimal("0.19"), True, "VAT"),
    "AUD": (2, Decimal("0.10"), True, "GST"),
    "VND": (0, Decimal("0.10"), False, "VAT"),
    "RON": (2, Decimal("0.19"), False, "TVA"),
}
PRODUCTS = [
    ("Classic Tee", ["S", "M", "L"], Decimal("19.90")),
    ("Hoodie", ["M", "L"], Decimal("49.00")),
    ("Canvas Tote", [None], Decimal("12.50")),
    ("Espresso Beans 1kg", [None], Decimal("24.75")),
    ("Ceramic Mug", ["White", "Black"], Decimal("9.99")),
    ("Running Shoes", ["40", "42", "44"], Decimal("89.00")),
    ("Wool Socks", ["S/M", "L/XL"], Decimal("7.45")),
    ("Notebook A5", [None], Decimal("4.20")),
    ("Desk Lamp", ["Brass", "Steel"], Decimal("64.00")),
    ("Gift Card", [None], Decimal("25.00")),
]
VND_PER_UNIT = Decimal(23000)


@dataclass
class Line:
    id: int
    product_id: int
    variant_id: int | None
    sku: str
    title: str
    variant_title: str | None
    quantity: int
    price: Decimal
    discount: Decimal
    gift_card: bool
    taxable: bool
    requires_shipping: bool


@dataclass
class Refund:
    id: int
    created_at: datetime
    note: str | None
    restock: bool
    lines: list[tuple[int, int, int]]  # (refund line id, line id, quantity)
    amount: Decimal
    transaction_id: int


@dataclass
class Order:
    id: int
    number: int
    created_at: datetime
    updated_at: datetime
    currency: str
    email: str
    customer_id: int
    lines: list[Line]
    discount_code: tuple[str, str, Decimal] | None = None  # code, type, amount
    shipping: tuple[str, str, Decimal] | None = None  # title, code, price
    test: bool = False
    source_name: str = "web"
    financial_status: str = "paid"
    fulfillment_status: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    refunds: list[Refund] = field(default_factory=list)
    payment_id: int = 0
    fulfillment: tuple[int, datetime, str] | None = None  # id, created_at, tracking number
    history: list[tuple[int, str, datetime]] = field(default_factory=list)  # id, status, at

    # --- derived money, as every platform computes it ------------------------------------
    @property
    def digits(self) -> int:
        return CURRENCIES[self.currency][0]

    @property
    def tax_rate(self) -> Decimal:
        return CURRENCIES[self.currency][1]

    @property
    def taxes_included(self) -> bool:
        return CURRENCIES[self.currency][2]

    @property
    def tax_title(self) -> str:
        return CURRENCIES[self.currency][3]

    def round(self, amount: Decimal) -> Decimal:
        return amount.quantize(Decimal(1).scaleb(-self.digits), rounding="ROUND_HALF_UP")

    def line_tax(self, line: Line) -> Decimal:
        """Tax of one line (none on gift cards or untaxable lines)."""
        if line.gift_card or not line.taxable:
            return Decimal(0)
        net = line.price * line.quantity - line.discount
        if self.taxes_included:
            return self.round(net - net / (1 + self.tax_rate))
        return self.round(net * self.tax_rate)

    @property
    def shipping_tax(self) -> Decimal:
        if not self.shipping:
            return Decimal(0)
        price = self.shipping[2]
        if self.taxes_included:
            return self.round(price - price / (1 + self.tax_rate))
        return self.round(price * self.tax_rate)

    @property
    def line_items_price(self) -> Decimal:
        return sum((line.price * line.quantity for line in self.lines), Decimal(0))

    @property
    def total_discounts(self) -> Decimal:
        order_level = self.discount_code[2] if self.discount_code else Decimal(0)
        return sum((line.discount for line in self.lines), Decimal(0)) + order_level

    @property
    def subtotal(self) -> Decimal:
        return self.line_items_price - self.total_discounts

    @property
    def total_shipping(self) -> Decimal:
        return self.shipping[2] if self.shipping else Decimal(0)

    @property
    def total_tax(self) -> Decimal:
        return sum((self.line_tax(line) for line in self.lines), Decimal(0)) + self.shipping_tax

    @property
    def total_price(self) -> Decimal:
        tax = Decimal(0) if self.taxes_included else self.total_tax
        return self.subtotal + self.total_shipping + tax

    @property
    def refunded(self) -> Decimal:
        return sum((refund.amount for refund in self.refunds), Decimal(0))

    def line(self, line_id: int) -> Line:
        return next(line for line in self.lines if line.id == line_id)

    def refundable(self) -> dict[int, int]:
        """Quantity of each line not refunded yet."""
        left = {line.id: line.quantity for line in self.lines}
        for refund in self.refunds:
            for _, line_id, quantity in refund.lines:
                left[line_id] = left.get(line_id, 0) - quantity
        return {line_id: qty for line_id, qty in left.items() if qty > 0}


def optional(value: object) -> list:
    """[value] when it is set, else [] (for rendering optional nested records)."""
    return [value] if value is not None else []


def _seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


class Store:
    """The orders of one simulated shop, safe to mutate while the server reads them."""

    def __init__(
        self,
        orders: int = 200,
        seed: int = 7,
        currencies: tuple[str, ...] = ("USD", "EUR", "VND"),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.lock = threading.RLock()
        self.clock = lambda: _seconds(clock())
        self.random = random.Random(seed)
        self.currencies = currencies
        self.orders: dict[int, Order] = {}
        self.deleted: set[int] = set()
        self._visible: list[Order] | None = None  # sorted view, rebuilt when orders come or go
        self._by_creation: list[Order] | None = None  # the same, by creation time
        self._next_id = 450789469
        self._next_child_id = 100000
        now = self.clock()
        self._history_ends = now - timedelta(minutes=30)  # seeded life happened in the past
        start = now - timedelta(days=90)
        moments = sorted(
            start + timedelta(seconds=self.random.randrange(0, 90 * 86400 - 7200))
            for _ in range(orders)
        )
        for moment in moments:
            self._create(_seconds(moment), seasoned=True)
        self._history_ends = None

    # --- ids ------------------------------------------------------------------------------
    def _order_id(self) -> int:
        self._next_id += self.random.randint(1, 50)
        return self._next_id

    def _child_id(self) -> int:
        self._next_child_id += self.random.randint(1, 9)
        return self._next_child_id

    # --- creation -------------------------------------------------------------------------
    def _create(self, created: datetime, seasoned: bool) -> Order:
        rnd = self.random
        currency = rnd.choice(self.currencies)
        scale = VND_PER_UNIT if currency == "VND" else Decimal(1)
        lines = []
        for _ in range(rnd.choice((1, 2, 3, 3, 4))):
            index = rnd.randrange(len(PRODUCTS))
            title, variants, price = PRODUCTS[index]
            variant = rnd.choice(variants)
            gift = title == "Gift Card"
            unit = (price * scale).quantize(Decimal(1)) if currency == "VND" else price
            quantity = rnd.choice((1, 1, 1, 2, 3))
            discount = Decimal(0)
            if not gift and rnd.random() < 0.15:
                discount = (unit * quantity * Decimal("0.10")).quantize(
                    Decimal(1) if currency == "VND" else Decimal("0.01")
                )
            lines.append(
                Line(
                    id=self._child_id(),
                    product_id=632910392 + index,
                    variant_id=39072856 + index * 10 + variants.index(variant) if variant else None,
                    sku=f"SKU-{index:02d}-{variants.index(variant)}",
                    title=title,
                    variant_title=variant,
                    quantity=quantity,
                    price=unit,
                    discount=discount,
                    gift_card=gift,
                    taxable=not gift,
                    requires_shipping=not gift,
                )
            )
        order_id = self._order_id()
        customer_id = 207119551 + rnd.randrange(400)
        order = Order(
            id=order_id,
            number=1000 + len(self.orders) + len(self.deleted) + 1,
            created_at=created,
            updated_at=created,
            currency=currency,
            email=f"customer{customer_id}@example.com",
            customer_id=customer_id,
            lines=lines,
            test=rnd.random() < 0.03,
            source_name=rnd.choice(("web", "web", "pos", "api")),
            payment_id=self._child_id(),
            history=[(self._child_id(), "Pending", created)],
        )
        if rnd.random() < 0.3:
            amount = (Decimal(5) * scale) if currency == "VND" else Decimal("5.00")
            order.discount_code = ("TENOFF", "fixed_amount", amount)
        if any(line.requires_shipping for line in lines) and rnd.random() < 0.8:
            price = Decimal("4.95") if currency != "VND" else Decimal(30000)
            order.shipping = ("Standard", "standard", price)
        self.orders[order_id] = order
        self._visible = self._by_creation = None
        if seasoned:
            self._season(order)
        return order

    def _season(self, order: Order) -> None:
        """Give a seeded order a realistic life: processing, fulfilment, refunds, cancellation."""
        rnd = self.random
        moment = order.created_at + timedelta(minutes=rnd.randrange(5, 600))
        self._status(order, "Processing", moment)
        roll = rnd.random()
        if roll < 0.05:
            self._cancel(order, moment + timedelta(hours=1))
            return
        if rnd.random() < 0.6:
            shipped = self._past(moment + timedelta(hours=5))
            order.fulfillment = (self._child_id(), shipped, f"1Z{order.id}")
            order.fulfillment_status = "fulfilled"
            self._status(order, "Shipped", moment + timedelta(hours=5))
        if roll < 0.15:
            self._refund(order, moment + timedelta(days=rnd.randrange(1, 20)), partial=roll < 0.1)
        elif rnd.random() < 0.3:
            order.closed_at = self._past(moment + timedelta(days=2))
            self._status(order, "Complete", moment + timedelta(days=2))

    def _past(self, moment: datetime) -> datetime:
        """`moment`, but never later than now (nor, while seeding, than the seeded past)."""
        return min(moment, self._history_ends or self.clock())

    def _status(self, order: Order, status: str, moment: datetime) -> None:
        moment = self._past(moment)
        order.history.append((self._child_id(), status, _seconds(moment)))
        order.updated_at = max(order.updated_at, _seconds(moment))

    def _cancel(self, order: Order, moment: datetime) -> None:
        moment = self._past(moment)
        order.cancelled_at = _seconds(moment)
        order.cancel_reason = "customer"
        order.financial_status = "voided"
        self._status(order, "Cancelled", moment)

    def _refund(self, order: Order, moment: datetime, partial: bool) -> Refund | None:
        moment = self._past(moment)
        left = order.refundable()
        if not left:
            return None
        if partial and len(left) > 1:
            line_id = self.random.choice(sorted(left))
            picked = {line_id: left[line_id]}
        else:
            picked = left
        amount = Decimal(0)
        refund_lines = []
        for line_id, quantity in picked.items():
            line = order.line(line_id)
            share = line.price * quantity - line.discount * quantity / line.quantity
            tax = (
                Decimal(0)
                if order.taxes_included
                else order.line_tax(line) * quantity / line.quantity
            )
            amount += order.round(share + tax)
            refund_lines.append((self._child_id(), line_id, quantity))
        refund = Refund(
            id=self._child_id(),
            created_at=_seconds(moment),
            note=self.random.choice((None, "damaged in transit", "changed mind")),
            restock=self.random.random() < 0.5,
            lines=refund_lines,
            amount=amount,
            transaction_id=self._child_id(),
        )
        order.refunds.append(refund)
        order.financial_status = "refunded" if not order.refundable() else "partially_refunded"
        self._status(order, "Refunded" if not order.refundable() else "Partially Refunded", moment)
        return refund

    # --- mutations (what happens to a live shop) --------------------------------------------
    def visible(self) -> list[Order]:
        """Orders the API returns, ascending by id."""
        with self.lock:
            if self._visible is None or len(self._visible) != len(self.orders):
                self._visible = [self.orders[key] for key in sorted(self.orders)]
            return list(self._visible)

    def by_creation(self) -> list[Order]:
        """Orders the API returns, ascending by creation time, then id (creation times never
        change, so the view is rebuilt only when orders come or go)."""
        with self.lock:
            if self._by_creation is None or len(self._by_creation) != len(self.orders):
                self._by_creation = sorted(self.orders.values(), key=lambda o: (o.created_at, o.id))
            return list(self._by_creation)

    def add_orders(self, count: int) -> list[Order]:
        """New orders created now."""
        with self.lock:
            return [self._create(self.clock(), seasoned=False) for _ in range(count)]

    def touch(self, order_id: int) -> None:
        """An edit that changes nothing analysts see (a note), bumping updated_at."""
        with self.lock:
            self.orders[order_id].updated_at = self.clock()

    def refund(self, order_id: int, partial: bool = True) -> Refund | None:
        """Refund some (or all) of an order's lines now."""
        with self.lock:
            return self._refund(self.orders[order_id], self.clock(), partial)

    def cancel(self, order_id: int) -> None:
        """Cancel an order now."""
        with self.lock:
            self._cancel(self.orders[order_id], self.clock())

    def remove_line(self, order_id: int) -> None:
        """An edit that removes one unrefunded line (never the order's only one)."""
        with self.lock:
            order = self.orders[order_id]
            refunded = {line_id for r in order.refunds for _, line_id, _ in r.lines}
            removable = [line for line in order.lines if line.id not in refunded]
            if len(order.lines) > 1 and removable:
                order.lines.remove(removable[-1])
                order.updated_at = self.clock()

    def add_status(self, order_id: int, status: str) -> None:
        """Append a status to the order's history (Lunasoft's `statuses`)."""
        with self.lock:
            self._status(self.orders[order_id], status, self.clock())

    def delete(self, order_id: int) -> None:
        """Delete an order: the API no longer returns it."""
        with self.lock:
            self.orders.pop(order_id)
            self.deleted.add(order_id)
            self._visible = self._by_creation = None

    def mutate(self, count: int) -> dict[str, int]:
        """A random mix of what happens to a live shop between two loads (for the demo)."""
        done = {"new": 0, "refunds": 0, "cancellations": 0, "updates": 0}
        with self.lock:
            self.add_orders(count)
            done["new"] = count
            candidates = [o.id for o in self.visible() if o.cancelled_at is None]
            for order_id in self.random.sample(candidates, min(len(candidates), count * 3)):
                roll = self.random.random()
                if roll < 0.4 and self.refund(order_id, partial=roll < 0.2):
                    done["refunds"] += 1
                elif roll < 0.55:
                    self.cancel(order_id)
                    done["cancellations"] += 1
                else:
                    self.touch(order_id)
                    done["updates"] += 1
        return done
