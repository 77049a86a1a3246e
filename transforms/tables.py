"""The warehouse tables of the contract (`commerce` schema): columns, arrow types and keys.

Every table starts with `platform` and `shop`. Child tables of an order are replaced as a whole
when the order is reloaded: each page carries one reset marker row per order and child table,
which dlt's delete-insert merge uses to delete the order's old rows (and then discards, because
the marker column is a `hard_delete` hint).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter

import pyarrow as pa

ID = pa.string()
TEXT = pa.string()
MONEY = pa.decimal128(18, 4)
RATE = pa.decimal128(12, 8)
TIME = pa.timestamp("us", tz="UTC")
INT = pa.int64()
BOOL = pa.bool_()

ORDER_KEY = ("platform", "shop", "order_id")
RESET_MARKER = "_reset_marker"
# What building an arrow column raises for a value its type cannot hold: too many digits for a
# DECIMAL (ArrowInvalid), an integer beyond int64 (OverflowError), a list where text belongs
# (ArrowTypeError).
UNFIT_ERRORS = (pa.ArrowException, OverflowError)
_TYPE_NAMES = {
    ID: "VARCHAR",
    MONEY: "DECIMAL(18,4)",
    RATE: "DECIMAL(12,8)",
    TIME: "TIMESTAMPTZ",
    INT: "BIGINT",
    BOOL: "BOOLEAN",
}


@dataclass(frozen=True)
class Table:
    """One warehouse table: its name, unique key and typed columns (after platform, shop)."""

    name: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, pa.DataType], ...]
    child_of_order: bool = True  # replaced as a whole when its order is reloaded

    @cached_property
    def schema(self) -> pa.Schema:
        """Arrow schema of the rows a mapper produces (without platform and shop)."""
        return pa.schema(
            [
                pa.field(name, kind, nullable=name not in self.key and name != "order_id")
                for name, kind in self.columns
            ]
        )

    @cached_property
    def column_names(self) -> frozenset[str]:
        """The names of the columns a mapper may fill (without platform and shop)."""
        return frozenset(name for name, _ in self.columns)

    def marker_columns(self, order_ids: list[str]) -> list[list[object]]:
        """The columns of the reset marker rows that replace the rows of `order_ids` in this
        table: the order's id, a key value no real row has (-1, `~<order id>`), else NULL."""
        columns: list[list[object]] = []
        for column, kind in self.columns:
            if column == "order_id":
                columns.append(list(order_ids))
            elif column not in self.key:
                columns.append([None] * len(order_ids))
            elif kind == INT:
                columns.append([-1] * len(order_ids))
            else:
                columns.append([f"~{order_id}" for order_id in order_ids])
        return columns


ORDERS = Table(
    "orders",
    ORDER_KEY,
    (
        ("order_id", ID),
        ("order_number", TEXT),
        ("name", TEXT),
        ("created_at", TIME),
        ("updated_at", TIME),
        ("processed_at", TIME),
        ("cancelled_at", TIME),
        ("closed_at", TIME),
        ("cancel_reason", TEXT),
        # cancelled_at is set, or a platform's own status says cancelled (Haravan and Spiffy
        # `voided`, ...): so that queries need no platform's vocabulary
        ("is_cancelled", BOOL),
        ("currency", TEXT),
        ("financial_status", TEXT),
        ("fulfillment_status", TEXT),
        ("order_status", TEXT),
        ("is_test", BOOL),
        ("taxes_included", BOOL),
        ("subtotal_price", MONEY),
        ("total_discounts", MONEY),
        ("total_shipping", MONEY),
        ("total_tax", MONEY),
        ("total_surcharge", MONEY),
        ("total_price", MONEY),
        ("customer_id", ID),
        ("email", TEXT),
        ("source_name", TEXT),
        ("parent_order_id", ID),
        ("return_source_order_id", ID),
        ("is_deleted", BOOL),
    ),
    child_of_order=False,
)
ORDER_LINES = Table(
    "order_lines",
    (*ORDER_KEY, "line_id"),
    (
        ("order_id", ID),
        ("line_id", ID),
        ("product_id", ID),
        ("variant_id", ID),
        ("sku", TEXT),
        ("title", TEXT),
        ("variant_title", TEXT),
        ("quantity", INT),
        ("unit_price", MONEY),
        ("total_discount", MONEY),
        ("tax_amount", MONEY),
        ("taxable", BOOL),
        ("requires_shipping", BOOL),
        ("is_gift_card", BOOL),
    ),
)
REFUNDS = Table(
    "refunds",
    ("platform", "shop", "refund_id"),
    (
        ("refund_id", ID),
        ("order_id", ID),
        ("created_at", TIME),
        ("note", TEXT),
        ("restock", BOOL),
        ("amount", MONEY),
        ("is_derived", BOOL),
    ),
)
REFUND_LINES = Table(
    "refund_lines",
    ("platform", "shop", "refund_id", "refund_line_id"),
    (
        ("refund_id", ID),
        ("refund_line_id", ID),
        ("order_id", ID),
        ("line_id", ID),
        ("quantity", INT),
        ("subtotal", MONEY),
    ),
)
TRANSACTIONS = Table(
    "transactions",
    ("platform", "shop", "transaction_id"),
    (
        ("transaction_id", ID),
        ("order_id", ID),
        ("refund_id", ID),
        ("kind", TEXT),
        ("status", TEXT),
        ("amount", MONEY),
        ("currency", TEXT),
        ("gateway", TEXT),
        ("created_at", TIME),
        ("is_test", BOOL),
    ),
)
TAX_LINES = Table(
    "tax_lines",
    (*ORDER_KEY, "scope", "line_id", "position"),
    (
        ("order_id", ID),
        ("scope", TEXT),
        ("line_id", ID),
        ("position", INT),
        ("title", TEXT),
        ("rate", RATE),
        ("amount", MONEY),
    ),
)
DISCOUNTS = Table(
    "discounts",
    (*ORDER_KEY, "position"),
    (("order_id", ID), ("position", INT), ("code", TEXT), ("type", TEXT), ("amount", MONEY)),
)
SHIPPING_LINES = Table(
    "shipping_lines",
    (*ORDER_KEY, "position"),
    (("order_id", ID), ("position", INT), ("title", TEXT), ("code", TEXT), ("price", MONEY)),
)
FULFILLMENTS = Table(
    "fulfillments",
    ("platform", "shop", "fulfillment_id"),
    (
        ("fulfillment_id", ID),
        ("order_id", ID),
        ("status", TEXT),
        ("created_at", TIME),
        ("tracking_company", TEXT),
        ("tracking_number", TEXT),
    ),
)
ORDER_STATUS_HISTORY = Table(
    "order_status_history",
    (*ORDER_KEY, "position"),
    (("order_id", ID), ("position", INT), ("status", TEXT), ("created_at", TIME), ("notes", TEXT)),
)
RAW_ORDERS = Table(
    "raw_orders",
    ORDER_KEY,
    (("order_id", ID), ("updated_at", TIME), ("payload", TEXT)),
    child_of_order=False,
)
QUARANTINE = Table(
    "quarantine",
    (*ORDER_KEY, "reason"),
    (("order_id", ID), ("reason", TEXT), ("payload", TEXT), ("seen_at", TIME)),
)

TABLES: tuple[Table, ...] = (
    ORDERS,
    ORDER_LINES,
    REFUNDS,
    REFUND_LINES,
    TRANSACTIONS,
    TAX_LINES,
    DISCOUNTS,
    SHIPPING_LINES,
    FULFILLMENTS,
    ORDER_STATUS_HISTORY,
    RAW_ORDERS,
    QUARANTINE,
)
JSON_COLUMNS = {"raw_orders": ("payload",), "quarantine": ("payload",)}

# Table name -> its rows. A row has every column of its table and no other key: `to_arrow`
# checks, so a misspelt or forgotten column fails instead of loading as NULL.
Rows = dict[str, list[dict[str, object]]]


def to_arrow(
    table: Table,
    platform: str,
    shop: str,
    rows: list[dict[str, object]],
    reset_orders: Iterable[str] = (),
) -> pa.Table:
    """Arrow table of `rows` with platform and shop prepended and, for child tables, the
    `_reset_marker` column plus one marker row per order in `reset_orders`.

    A row whose keys are not exactly the table's columns raises ValueError (see
    `check_columns`); a value that its column cannot hold raises one of `UNFIT_ERRORS`."""
    check_columns(table, rows)
    markers = list(reset_orders)
    # Built column by column: `pa.Table.from_pylist` costs about twice as much, as it looks each
    # key up row by row; itemgetter and zip transpose the rows in C.
    names = [name for name, _ in table.columns]
    columns = zip(*map(itemgetter(*names), rows), strict=True) if rows else [()] * len(names)
    arrays = [
        pa.array([*values, *marker_values], kind)
        for (_, kind), values, marker_values in zip(
            table.columns, columns, table.marker_columns(markers), strict=True
        )
    ]
    body = pa.Table.from_arrays(arrays, schema=table.schema)
    count = body.num_rows
    body = body.add_column(0, pa.field("shop", ID, nullable=False), pa.array([shop] * count, ID))
    body = body.add_column(
        0, pa.field("platform", ID, nullable=False), pa.array([platform] * count, ID)
    )
    if table.child_of_order:
        flags = [False] * len(rows) + [True] * len(markers)
        body = body.append_column(pa.field(RESET_MARKER, BOOL), pa.array(flags, BOOL))
    return body


def check_columns(table: Table, rows: list[dict[str, object]]) -> None:
    """Raise ValueError, naming the table and the keys, unless every row has exactly the
    columns of `table` (without platform and shop).

    Building the columns would drop a key that is not a column (and `pa.Table.from_pylist`
    would load a column that is not a key as NULL), so a mapper's misspelt or forgotten column
    would load without a word: a row says every column, None where the platform sends nothing.
    The rows of one mapper share a few key orders, so each distinct one is compared once."""
    for keys in {tuple(row) for row in rows}:
        if frozenset(keys) != table.column_names:
            unknown = sorted(set(keys) - table.column_names)
            missing = sorted(table.column_names.difference(keys))
            raise ValueError(
                f"{table.name} rows do not have its columns: "
                f"keys that are not columns {unknown}, columns missing {missing}"
            )


def unfit_values(table: Table, rows: list[dict[str, object]]) -> dict[int, str]:
    """The rows holding a value that its column cannot hold: row index -> the reason, naming
    the table and the column (`orders.total_price: 1E+15 does not fit DECIMAL(18,4)`).

    Each column is built on its own, and only the values of a column that fails are built one
    by one, so this is meant for a batch whose tables failed to build."""
    unfit: dict[int, str] = {}
    for column, kind in table.columns:
        values = [row.get(column) for row in rows]
        if _fits(values, kind):
            continue
        for index, value in enumerate(values):
            if index not in unfit and not _fits([value], kind):
                unfit[index] = f"{table.name}.{column}: {value} does not fit {_TYPE_NAMES[kind]}"
    return unfit


def _fits(values: list[object], kind: pa.DataType) -> bool:
    try:
        pa.array(values, kind)
    except UNFIT_ERRORS:
        return False
    return True


def iter_tables(
    platform: str, shop: str, rows: Rows, reset_orders: list[str]
) -> Iterator[tuple[Table, pa.Table]]:
    """Arrow tables for a batch of orders: every table with rows or with orders to reset.

    An order's new rows replace its previous ones through the merge key; an order in
    `reset_orders` left without rows in a child table gets a marker row there instead, which
    deletes what it had."""
    for table in TABLES:
        table_rows = rows.get(table.name, [])
        markers: list[str] = []
        if table.child_of_order and reset_orders:
            present = {row["order_id"] for row in table_rows}
            markers = [order_id for order_id in reset_orders if order_id not in present]
        if table_rows or markers:
            yield table, to_arrow(table, platform, shop, table_rows, markers)
