"""Mapped chunks gathered into batches for dlt, one copy of every order per load.

An API may serve an order more than once in one load (a record served again within or across
pages while orders change). Only one copy may reach the warehouse, or a first load (appended,
not merged) stores it twice with every child row doubled: the copy with the latest
`updated_at` is kept, the last one read on a tie. A copy still held here simply replaces the
other; a newer copy of an order already handed to dlt is kept apart, for a second load package
that replaces the first copy as a whole (children included) after the first package loads. A
copy that cannot be mapped, read after one that could, has no known change time: the mapped
copy is kept, and the other is quarantined beside it rather than lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import dlt
import pyarrow as pa
import pyarrow.compute as pc

from transforms.batch import MappedBatch
from transforms.tables import RAW_ORDERS, RESET_MARKER, TABLES, to_arrow

# Payloads reach dlt in slices of at most this much JSON, each written as a parquet row group of
# its own (settings.DLT_SETTINGS): DuckDB reads a row group 2,048 rows at a time, and a load
# failed at its 128MB when 2,000 orders of 20 KB made one row group of 40 MB; in row groups of
# 2 MB, one load job took 160 MB of such payloads.
SLICE_BYTES = 2_000_000
PAYLOAD = "payload"  # the column of raw_orders and quarantine that holds them
# Change times are compared as microseconds since the epoch: arrow gives them as integers at
# once, where building a datetime with its time zone for each (`to_pylist`) took 7 microseconds,
# a third of a second of every 50,000 orders loaded.
UNKNOWN = -(2**63)  # the change time of a copy that could not be mapped: before any other
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Copy:
    """One copy of an order: when it last changed (microseconds since the epoch) and a digest
    of its payload (two copies with the same time and payload are the same copy served twice)."""

    changed: int
    digest: int
    mapped: bool

    def replaces(self, other: Copy) -> bool:
        """Whether this copy, read after `other`, is the one to keep."""
        if self.changed != other.changed:
            return self.changed > other.changed
        return self.digest != other.digest


@dataclass
class Chunk:
    """A mapped chunk's tables and the copy of each order they hold (ids are unique within a
    chunk, see `pipelines.mapping.UniqueChunks`)."""

    tables: dict[str, pa.Table]
    copies: dict[str, Copy]
    anonymous: int = 0  # quarantined records without a usable id: never deduplicated

    @classmethod
    def of(cls, mapped: MappedBatch) -> Chunk:
        copies: dict[str, Copy] = {}
        orders, raw = mapped.tables.get("orders"), mapped.tables.get("raw_orders")
        if orders is not None and raw is not None:
            for order_id, changed, payload in zip(
                orders["order_id"].to_pylist(),
                micros(orders["updated_at"]),
                raw["payload"].to_pylist(),
                strict=True,
            ):
                copies[order_id] = Copy(
                    UNKNOWN if changed is None else changed, hash(payload), mapped=True
                )
        anonymous = 0
        quarantine = mapped.tables.get("quarantine")
        if quarantine is not None:
            rows = quarantine.filter(pc.invert(quarantine[RESET_MARKER]))
            for order_id, payload in zip(
                rows["order_id"].to_pylist(), rows["payload"].to_pylist(), strict=True
            ):
                if order_id:
                    copies.setdefault(order_id, Copy(UNKNOWN, hash(payload), mapped=False))
                else:
                    anonymous += 1
        return cls(dict(mapped.tables), copies, anonymous)

    def without(self, ids: set[str]) -> Chunk:
        """This chunk less every row of the orders `ids`."""
        return self._filtered(ids, keep=False)

    def only(self, ids: set[str]) -> Chunk:
        """Only the rows of the orders `ids`."""
        return self._filtered(ids, keep=True)

    def _filtered(self, ids: set[str], keep: bool) -> Chunk:
        chosen = pa.array(sorted(ids), pa.string())
        tables = {}
        for name, table in self.tables.items():
            wanted = pc.is_in(table["order_id"], value_set=chosen)
            subset = table.filter(wanted if keep else pc.invert(wanted))
            if subset.num_rows:
                tables[name] = subset
        copies = {i: c for i, c in self.copies.items() if (i in ids) == keep}
        return Chunk(tables, copies, 0 if keep else self.anonymous)


Place = Literal["held", "late", "flushed"]


@dataclass
class KeptPayloads:
    """The payloads `raw_orders` holds of a shop, as a replay reads them: order id -> its
    `updated_at` and a hash of its payload (compact JSON). They are the replay's input, and
    rewriting those the mapping stores again unchanged would be most of its work: a replay
    writes only the payload rows that `changed` keeps. The hash is Python's (keyed SipHash,
    64 bits, as `Copy` compares copies): an order's new payload taken for its old one has a
    chance of 2**-64, and it hashes 70 MB of payloads six times faster than blake2b."""

    copies: dict[str, tuple[int | None, int]] = field(default_factory=dict)

    def add(self, order_id: str, updated_at: datetime | None, payload: bytes) -> None:
        """Note a kept payload."""
        changed = None if updated_at is None else (updated_at - EPOCH) // timedelta(microseconds=1)
        self.copies[order_id] = (changed, hash(payload))

    def changed(self, raw: pa.Table) -> pa.Table:
        """The rows of a `raw_orders` table that differ from the kept payloads of their orders."""
        differs = [
            self.copies.get(order_id) != (updated_at, hash(payload))
            for order_id, updated_at, payload in zip(
                raw["order_id"].to_pylist(),
                micros(raw["updated_at"]),
                raw["payload"].cast(pa.binary()).to_pylist(),  # as bytes, like those kept
                strict=True,
            )
        ]
        return raw.filter(pa.array(differs, pa.bool_()))


@dataclass
class OneCopyBatches:
    """Mapped chunks, gathered into batches of about `batch_orders` orders for dlt, keeping one
    copy of every order (see the module docstring). With `kept` (a replay), only the payload
    rows that differ from the kept ones are handed on."""

    batch_orders: int
    kept: KeptPayloads | None = None
    held: list[Chunk] = field(default_factory=list)
    late: list[Chunk] = field(default_factory=list)
    winners: dict[str, Copy] = field(default_factory=dict)
    places: dict[str, Place] = field(default_factory=dict)
    flushed: set[str] = field(default_factory=set)  # orders of which dlt has a copy
    written: set[str] = field(default_factory=set)  # tables flushed so far
    anonymous: int = 0
    beside: int = 0  # quarantined copies of orders also mapped

    def add(self, mapped: MappedBatch) -> Iterator[Any]:
        """Take a mapped chunk; yields the tables of a batch once one is full."""
        chunk = Chunk.of(mapped)
        self.anonymous += chunk.anonymous
        repeats, to_late = set(), set()
        for order_id, copy in list(chunk.copies.items()):
            kept = self.winners.get(order_id)
            if kept is None:
                continue
            if kept.mapped and not copy.mapped:
                # A copy that cannot be mapped beside one that could: the mapped one is kept,
                # and this one's quarantine row goes in too (it may be the newer, and a replay
                # reads a loaded order's quarantined update beside it: it is the only copy).
                del chunk.copies[order_id]
                self.beside += 1
                continue
            if not copy.replaces(kept):
                repeats.add(order_id)
                continue
            if self.places[order_id] != "flushed":
                self._drop(order_id)
            if order_id in self.flushed:  # only a later package can replace what dlt has
                to_late.add(order_id)
        if repeats:
            chunk = chunk.without(repeats)
        if to_late:
            self.late.append(chunk.only(to_late))
            chunk = chunk.without(to_late)
        for order_id, copy in chunk.copies.items():
            self.winners[order_id] = copy
            self.places[order_id] = "held"
        for order_id in to_late:
            self.winners[order_id] = self.late[-1].copies[order_id]
            self.places[order_id] = "late"
        self.held.append(chunk)
        if sum(len(c.copies) + c.anonymous for c in self.held) >= self.batch_orders:
            yield from self.flush()

    def _drop(self, order_id: str) -> None:
        """Forget the copy of `order_id` still held (here or among the late copies)."""
        chunks = self.held if self.places[order_id] == "held" else self.late
        for index, chunk in enumerate(chunks):
            if order_id in chunk.copies:
                chunks[index] = chunk.without({order_id})
                return

    def flush(self) -> Iterator[Any]:
        """The held chunks as one arrow table per warehouse table, marked with its name."""
        yield from _marked(self.held, self.kept)
        for chunk in self.held:
            self.written.update(chunk.tables)
            self.places.update(dict.fromkeys(chunk.copies, "flushed"))
            self.flushed.update(chunk.copies)
        self.held = []

    def late_tables(self, platform: str, shop: str) -> Iterator[Any]:
        """The late copies' tables, for the second package (see the module docstring), with a
        reset marker wherever a late copy has no rows in a child table, so that the merge
        deletes what its first copy had there (markers already present do no harm)."""
        mapped = sorted(i for chunk in self.late for i, c in chunk.copies.items() if c.mapped)
        markers = []
        for table in TABLES:
            if not table.child_of_order or not mapped:
                continue
            present = {
                order_id
                for chunk in self.late
                if table.name in chunk.tables
                for order_id in chunk.tables[table.name]["order_id"].to_pylist()
            }
            missing = [order_id for order_id in mapped if order_id not in present]
            if missing:
                markers.append((table.name, to_arrow(table, platform, shop, [], missing)))
        yield from _marked(self.late)
        for name, marker in markers:
            yield dlt.mark.with_table_name(marker, name)

    def missing_tables(self, platform: str, shop: str) -> Iterator[Any]:
        """An empty arrow table for every table no batch had rows for: a first load creates
        them all, so the reporting models find every table."""
        for table in TABLES:
            if table.name not in self.written:
                empty = to_arrow(table, platform, shop, [])
                yield dlt.mark.with_table_name(empty, table.name)

    @property
    def fetched(self) -> int:
        """Distinct orders read (mapped or quarantined)."""
        return len(self.winners) + self.anonymous

    @property
    def orders(self) -> int:
        """Distinct orders mapped."""
        return sum(copy.mapped for copy in self.winners.values())

    @property
    def quarantined(self) -> int:
        """Distinct orders quarantined (a mapped order's quarantined copy too)."""
        return self.fetched - self.orders + self.beside


def micros(times: pa.ChunkedArray) -> list[int | None]:
    """A column of timestamps (microseconds, UTC) as integers."""
    return times.cast(pa.int64()).to_pylist()


def _marked(chunks: Iterable[Chunk], kept: KeptPayloads | None = None) -> Iterator[Any]:
    parts: dict[str, list[pa.Table]] = {}
    for chunk in chunks:
        for name, table in chunk.tables.items():
            parts.setdefault(name, []).append(table)
    for name, tables in parts.items():
        table = pa.concat_tables(tables)
        if kept is not None and name == RAW_ORDERS.name:
            table = kept.changed(table)
        pieces = _slices(table, PAYLOAD) if PAYLOAD in table.column_names else [table]
        for piece in pieces:
            yield dlt.mark.with_table_name(piece, name)


def _slices(table: pa.Table, column: str) -> Iterator[pa.Table]:
    """`table` in consecutive slices holding at most SLICE_BYTES of `column` (or one row)."""
    start = size = 0
    for row, length in enumerate(pc.binary_length(table[column]).fill_null(0).to_pylist()):
        if size and size + length > SLICE_BYTES:
            yield table.slice(start, row - start)
            start, size = row, 0
        size += length
    yield table.slice(start)
