"""The value parsers' fast paths and caches give what their general paths give, and arrow
tables built column by column are the tables `pa.Table.from_pylist` builds."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from tests.helpers import table_row
from transforms import haravan
from transforms import values as v
from transforms.batch import map_batch
from transforms.tables import INT, ORDERS, TAX_LINES, UNFIT_ERRORS, to_arrow

SEEN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "cents", "expected"),
    [
        ("409.94", False, Decimal("409.94")),
        (" 5.5 ", False, Decimal("5.5")),
        ("-0.0001", False, Decimal("-0.0001")),
        ("1E+2", False, Decimal("1E+2")),
        ("9" * 40, False, Decimal("9" * 40)),  # parsed; the DECIMAL(18,4) column refuses it
        (30.23, False, Decimal("30.23")),
        (7, False, Decimal(7)),
        (1490, True, Decimal("14.90")),
        ("", False, None),
        (None, False, None),
    ],
)
def test_money_is_exact(value: object, cents: bool, expected: Decimal | None):
    parsed = v.money(value, cents=cents)
    assert parsed == expected and str(parsed) == str(expected)


@pytest.mark.parametrize(
    ("value", "cents", "reason"),
    [
        ("1.23456", False, "more than 4 decimals"),
        (0.00001, False, "more than 4 decimals"),
        ("12.5", True, "not a whole number"),
        ("NaN", False, "not finite"),
        ("abc", False, "unparseable"),
        (" ", False, "unparseable"),
        (True, False, "is a boolean"),
        ([1], False, "is not a number"),
    ],
)
def test_money_refuses_what_is_not_exact(value: object, cents: bool, reason: str):
    with pytest.raises(v.MappingError, match=reason) as refused:
        v.money(value, cents=cents)
    assert refused.value.value is value


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (3, 3), ("3", 3), ("2.0", 2), (2**63 - 1, 2**63 - 1), (-(2**63), -(2**63))],
)
def test_quantity_reads_whole_numbers_within_64_bits(value: object, expected: int):
    assert v.quantity(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (2**63, "does not fit a 64-bit integer"),
        (-(2**63) - 1, "does not fit a 64-bit integer"),
        (True, "is a boolean"),
        (1.5, "is not a whole number"),
        ("1E+999999999", "does not fit a 64-bit integer"),
    ],
)
def test_quantity_refuses_what_is_no_64_bit_whole_number(value: object, reason: str):
    with pytest.raises(v.MappingError, match=reason) as refused:
        v.quantity(value)
    assert refused.value.value is value


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0"), (42, "42"), ("A-1", "A-1"), ("", None), (None, None), (True, None)],
)
def test_identifier_is_text_and_empty_is_null(value: object, expected: str | None):
    assert v.identifier(value) == expected


def test_identifier_refuses_floats():
    with pytest.raises(v.MappingError, match="is a float"):
        v.identifier(1.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05T10:11:12", datetime(2024, 3, 5, 10, 11, 12, tzinfo=UTC)),
        ("2024-03-05T10:11:12Z", datetime(2024, 3, 5, 10, 11, 12, tzinfo=UTC)),
        ("2024-03-05T10:11:12+07:00", datetime(2024, 3, 5, 3, 11, 12, tzinfo=UTC)),
        ("2015-04-27T17:34:31-0600", datetime(2015, 4, 27, 23, 34, 31, tzinfo=UTC)),
        (" 0000-00-00 ", None),
    ],
)
def test_timestamps_are_utc_however_often_they_are_read(text: str, expected: datetime | None):
    first, again = v.timestamp(text), v.timestamp(text)  # the second from the cache
    assert first == again == expected
    if expected is not None:
        assert first.tzinfo is UTC and first.utcoffset() == timedelta(0)


def test_a_refused_timestamp_is_refused_each_time_as_the_very_value_read():
    """Refusals are not cached: each names the object of its own payload, which is how the
    quarantine reason finds the field it sits in."""
    for _ in range(2):
        text = "".join(["0001-01-01T00:00:00", "+05:00"])  # equal, but a new object each time
        with pytest.raises(v.MappingError, match="outside the years 1-9999") as refused:
            v.timestamp(text)
        assert refused.value.value is text
    with pytest.raises(v.MappingError, match="has no offset"):
        v.timestamp("2024-03-05T10:11:12", naive_is_utc=False)
    assert v.timestamp("2024-03-05T10:11:12") == datetime(2024, 3, 5, 10, 11, 12, tzinfo=UTC)


def test_tables_built_by_column_are_those_from_pylist_builds():
    """Every column type, NULLs, and the reset markers (after the rows, with their key values)."""
    orders = [
        table_row(
            ORDERS,
            order_id="1",
            created_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            is_test=False,
            total_price=Decimal("-99999999999999.9999"),
            total_tax=Decimal("0.1"),
        ),
        table_row(ORDERS, order_id="2", total_price=Decimal("99999999999999.9999")),
    ]
    taxes = [
        table_row(TAX_LINES, order_id="1", scope="line", line_id="7", position=2, rate=Decimal(1))
    ]
    for table, rows, resets in ((ORDERS, orders, []), (TAX_LINES, taxes, ["1", "3"])):
        markers = [
            table_row(
                table,
                order_id=order_id,
                **{
                    column: -1 if kind == INT else f"~{order_id}"
                    for column, kind in table.columns
                    if column in table.key and column != "order_id"
                },
            )
            for order_id in resets
        ]
        expected = pa.Table.from_pylist(rows + markers, schema=table.schema)
        built = to_arrow(table, "haravan", "shop", rows, resets)
        assert built.select(expected.column_names).equals(expected)
    assert to_arrow(TAX_LINES, "haravan", "shop", [], ["3"]).to_pylist() == [
        {
            "platform": "haravan",
            "shop": "shop",
            "order_id": "3",
            "scope": "~3",
            "line_id": "~3",
            "position": -1,
            "title": None,
            "rate": None,
            "amount": None,
            "_reset_marker": True,
        }
    ]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("total_price", Decimal("100000000000000")),  # 15 digits before the point: 19 in all
        ("total_price", Decimal("0.00001")),  # a fifth decimal is refused, not rounded
        ("order_number", ["a list"]),
    ],
)
def test_a_value_its_column_cannot_hold_still_fails_the_build(column: str, value: object):
    with pytest.raises(UNFIT_ERRORS):
        to_arrow(ORDERS, "haravan", "shop", [table_row(ORDERS, order_id="1", **{column: value})])


@pytest.mark.parametrize("enabled", [True, False])
def test_mapping_leaves_the_garbage_collector_as_it_found_it(enabled: bool):
    page = b'[{"id": 1, "line_items": [], "total_price": "1", "total_tax": "0"}, {"id": 2}]'
    was_enabled = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        batch = map_batch(haravan.map_order, "haravan", "shop", [page], SEEN, True)
        assert (batch.orders, batch.quarantined) == (1, 1)
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError):  # a mapper's bug, not a bad order
            map_batch(_broken, "haravan", "shop", [page], SEEN, True)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was_enabled else gc.disable)()


def _broken(payload: object) -> dict:
    raise RuntimeError("a mapper's bug")
