"""Bad values are the order's problem, never the shop's: a value no warehouse column can hold,
a value no parser can read, a missing total or missing line items sends that one order to
`quarantine` with a reason naming the field, and the rest of its page and its shop still load."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import query, run_load, shop_for, table_row
from transforms import flickrocket, haravan, lunasoft, merchantpro, spiffy
from transforms.batch import MappedBatch, map_batch
from transforms.scrub import json_bytes
from transforms.tables import ORDER_LINES, to_arrow

FIXTURES = Path(__file__).parent / "fixtures"
SEEN = datetime(2026, 1, 1, tzinfo=UTC)
SAMPLES: dict[str, tuple[str, Callable]] = {
    "haravan": ("haravan_sample_order.json", haravan.map_order),
    "flickrocket": ("flickrocket_210797.json", flickrocket.map_order),
    "spiffy": ("spiffy_378.json", spiffy.map_order),
    "merchantpro": ("merchantpro_12345001.json", merchantpro.map_order),
    "lunasoft": ("lunasoft_54123.json", partial(lunasoft.map_order, currency="USD")),
}
BAD_ID = 9_000_001  # the order given the bad value; a good copy of the sample keeps its own id


def mapped_with(platform: str, change: Callable[[dict], Any]) -> MappedBatch:
    """The platform's sample order, and a copy with `change` applied, mapped as one page."""
    name, mapper = SAMPLES[platform]
    good = json.loads((FIXTURES / name).read_text())
    bad = copy.deepcopy(good) | {"id": str(BAD_ID) if platform == "lunasoft" else BAD_ID}
    change(bad)
    return map_batch(mapper, platform, "shop", [json_bytes([bad, good])], SEEN, True)


def rows(batch: MappedBatch, table: str) -> list[dict]:
    """The table's rows in the batch, without the markers that reset mapped orders' rows."""
    data = batch.tables[table].to_pylist() if table in batch.tables else []
    return [row for row in data if not row.get("_reset_marker")]


def quarantined(batch: MappedBatch) -> dict[str, str]:
    """Order id -> reason of the batch's quarantine rows."""
    return {row["order_id"]: row["reason"] for row in rows(batch, "quarantine")}


def order_ids(batch: MappedBatch, table: str) -> set[str]:
    return {row["order_id"] for row in rows(batch, table)}


def setter(path: str, value: Any) -> Callable[[dict], None]:
    """Set (or with `...` drop) a field of a payload given as `a.0.b`."""

    def change(payload: dict) -> None:
        *parents, last = path.split(".")
        node: Any = payload
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is ...:
            del node[last]
        else:
            node[last] = value

    return change


@pytest.mark.parametrize(
    ("platform", "path", "value", "column"),
    [
        ("haravan", "total_price", "99999999999999999999.99", "orders.total_price"),
        ("haravan", "total_price", "1E+15", "orders.total_price"),
        ("haravan", "line_items.0.price", "1E+15", "order_lines.unit_price"),
        ("haravan", "tax_lines.0.rate", "0.123456789", "tax_lines.rate"),
        ("haravan", "refunds.0.transactions.0.amount", "1E+15", "refunds.amount"),
        ("flickrocket", "total_price", 10**17, "orders.total_price"),  # cents: 1E+15
        ("spiffy", "tax_price", "12345678901234567", "orders.total_tax"),
        ("merchantpro", "total_amount", 1e15, "orders.total_price"),
        ("lunasoft", "total", "99999999999999999999.99", "orders.total_price"),
    ],
)
def test_a_value_no_column_can_hold_quarantines_only_its_order_naming_the_column(
    platform, path, value, column
):
    batch = mapped_with(platform, setter(path, value))
    reasons = quarantined(batch)
    assert list(reasons) == [str(BAD_ID)]
    assert reasons[str(BAD_ID)].startswith(f"{column}: ")
    assert (batch.orders, batch.quarantined) == (1, 1)
    for table in batch.tables:
        if table != "quarantine":
            assert str(BAD_ID) not in order_ids(batch, table), table
    assert len(order_ids(batch, "orders")) == 1 and order_ids(batch, "order_lines")
    [stored] = rows(batch, "quarantine")
    assert json.loads(stored["payload"])["id"] in (BAD_ID, str(BAD_ID))


@pytest.mark.parametrize(
    ("platform", "path", "value", "field"),
    [
        ("haravan", "customer.id", {"id": 1}, "customer.id"),
        ("haravan", "line_items.1.variant_id", [39072856], "line_items[1].variant_id"),
        ("haravan", "created_at", "0001-01-01T00:00:00+05:00", "created_at"),
        (
            "haravan",
            "fulfillments.0.created_at",
            "9999-12-31T23:00:00-05:00",
            "fulfillments[0].created_at",
        ),
        ("haravan", "line_items.2.quantity", "1E+30", "line_items[2].quantity"),
        (
            "spiffy",
            "transactions.0.created_at",
            "0001-01-01T00:30:00+01:00",
            "transactions[0].created_at",
        ),
        ("lunasoft", "user_id", ["628"], "user_id"),
        ("merchantpro", "date_created", "0001-01-01T01:00:00+03:00", "date_created"),
    ],
)
def test_a_value_no_parser_can_read_quarantines_only_its_order_naming_the_field(
    platform, path, value, field
):
    batch = mapped_with(platform, setter(path, value))
    reasons = quarantined(batch)
    assert list(reasons) == [str(BAD_ID)]
    assert reasons[str(BAD_ID)].startswith(f"{field}: "), reasons
    assert (batch.orders, batch.quarantined) == (1, 1)


def test_an_order_id_that_is_not_a_scalar_is_quarantined_under_no_id():
    batch = mapped_with("haravan", setter("id", {"id": BAD_ID}))
    assert quarantined(batch) == {"": "id: id {'id': 9000001} is neither a number nor text"}
    assert batch.orders == 1


def test_an_arithmetic_error_inside_a_mapper_is_a_reason_not_a_crash():
    # a taxed base of 10^38: its tax rounded to cents needs more digits than Decimal carries
    batch = mapped_with("flickrocket", setter("tax_lines.0.price", 10**40))
    [reason] = quarantined(batch).values()
    assert reason.startswith("InvalidOperation")
    assert batch.orders == 1


@pytest.mark.parametrize(
    ("platform", "path", "value", "reason"),
    [
        ("haravan", "total_price", ..., "orders.total_price: no total_price"),
        ("haravan", "total_price", None, "orders.total_price: no total_price"),
        ("haravan", "total_price", "", "orders.total_price: no total_price"),
        ("haravan", "total_tax", ..., "orders.total_tax: no total_tax"),
        ("haravan", "line_items", None, "order_lines: no line_items"),
        ("haravan", "line_items", ..., "order_lines: no line_items"),
        ("flickrocket", "total_price", None, "orders.total_price: no total_price"),
        ("flickrocket", "total_tax", ..., "orders.total_tax: no total_tax"),
        ("flickrocket", "line_items", None, "order_lines: no line_items"),
        ("spiffy", "total_price", ..., "orders.total_price: no total_price"),
        ("spiffy", "tax_price", ..., "orders.total_tax: no tax_price or total_tax"),
        ("spiffy", "line_items", None, "order_lines: no line_items"),
        ("merchantpro", "total_amount", None, "orders.total_price: no total_amount"),
        ("merchantpro", "line_items", ..., "order_lines: no line_items"),
        ("lunasoft", "total", "", "orders.total_price: no total"),
        ("lunasoft", "total", ..., "orders.total_price: no total"),
        ("lunasoft", "tax", None, "orders.total_tax: no tax"),
        ("lunasoft", "tax", ..., "orders.total_tax: no tax"),
        ("lunasoft", "line_items", None, "order_lines: no line_items"),
    ],
)
def test_a_missing_total_or_missing_line_items_quarantines_the_order(platform, path, value, reason):
    batch = mapped_with(platform, setter(path, value))
    assert quarantined(batch) == {str(BAD_ID): reason}
    assert batch.orders == 1


def test_an_empty_list_of_line_items_is_not_missing():
    batch = mapped_with("haravan", setter("line_items", []))
    assert not quarantined(batch) and batch.orders == 2
    assert order_ids(batch, "order_lines") == {"450789469"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda row: row.update(varient_id=row.pop("variant_id")),
            r"\['varient_id'\].*\['variant_id'\]",
        ),
        (lambda row: row.pop("tax_amount"), r"not columns \[\], columns missing \['tax_amount'\]"),
        (lambda row: row.update(note=None), r"not columns \['note'\], columns missing \[\]"),
    ],
    ids=["misspelt", "missing", "extra"],
)
def test_a_row_whose_keys_are_not_its_columns_fails_loudly(change: Callable, message: str):
    """`pa.Table.from_pylist` would drop the misspelt key and load NULL for the missing column;
    `to_arrow` names the table and the keys instead."""
    row = table_row(ORDER_LINES, order_id="1", line_id="1")
    to_arrow(ORDER_LINES, "haravan", "shop", [row])  # the whole row is fine
    change(row)
    with pytest.raises(ValueError, match="^order_lines rows .*" + message):
        to_arrow(ORDER_LINES, "haravan", "shop", [row])

    def mistaken(payload: dict) -> dict:
        rows = haravan.map_order(payload)
        change(rows["order_lines"][0])
        return rows

    page = (FIXTURES / "haravan_sample_order.json").read_text()
    with pytest.raises(ValueError, match=message):  # a mapper's mistake is no data problem
        map_batch(mistaken, "haravan", "shop", [f"[{page}]".encode()], SEEN, True)


# --- end to end: the shop loads, and loads again ------------------------------------------

SCENARIOS = {
    "haravan": {
        "total_price": ("99999999999999999999.99", "orders.total_price: "),
        "customer": ({"id": {"id": 1}}, "customer.id: "),
        "created_at": ("0001-01-01T00:00:00+05:00", "created_at: "),
        "line_items": (None, "order_lines: no line_items"),
    },
    "lunasoft": {
        "total": ("1E+15", "orders.total_price: "),
        "user_id": (["628"], "user_id: "),
        "tax": (..., "orders.total_tax: no tax"),
    },
    "spiffy": {
        "total_price": ("1E+15", "orders.total_price: "),
        "line_items": (None, "order_lines: no line_items"),
    },
}


@pytest.mark.parametrize("platform", sorted(SCENARIOS))
def test_bad_orders_are_quarantined_and_the_rest_of_the_page_and_the_shop_load(
    platform, simulator, warehouse
):
    sim = simulator(platform, orders=40)
    orders = sim.store.visible()
    bad: dict[str, str] = {}
    patches = SCENARIOS[platform].items()
    for order, (field, (value, reason)) in zip(orders[5::7][: len(patches)], patches, strict=True):
        sim.renderer.patches[order.id] = {field: value}
        bad[str(order.id)] = reason
    shop = shop_for(platform, sim)
    for _ in range(2):  # a rerun meets the same bad orders and loads just as well
        [result] = run_load([shop], warehouse, full_refresh=True)
        assert result.ok, result.error
        reasons = dict(query(warehouse, "select order_id, reason from commerce.quarantine"))
        assert set(reasons) == set(bad)
        assert all(reasons[i].startswith(bad[i]) for i in bad), reasons
        loaded = {i for (i,) in query(warehouse, "select order_id from commerce.orders")}
        assert loaded == {str(o.id) for o in orders} - set(bad)
        assert query(
            warehouse,
            "select count(*) from commerce.order_lines where list_contains(?, order_id)",
            [list(bad)],
        ) == [(0,)]
