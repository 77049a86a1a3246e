"""A shop's cursor and the windows a run reads with it.

A platform with an updated filter reads an updated_at window; one without (MerchantPro,
Lunasoft) re-reads a trailing window of creation dates and loads what changed in it. Both start
from the earlier of `--since` and the stored cursor less the lookback, and end at the run's fixed
start time, so no run skips time that no run has read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.settings import DEFAULT_TRAILING_DAYS
from pipelines.shop import RunOptions, Shop


@dataclass(frozen=True)
class Cursor:
    """Where a shop's next run reads from, kept in dlt's resource state.

    `read_until`: the fixed upper bound of the last run that loaded (changes up to it are in
    the warehouse). `max_id`: the highest order id read (Lunasoft's keyset for new orders).
    `history_from`: the date before which the warehouse holds no history of the shop, because
    its first load (or a full refresh) was a `--since` partial backfill.
    """

    read_until: datetime | None = None
    max_id: int | None = None
    history_from: datetime | None = None

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> Cursor:
        """The cursor as stored (also in the layout of earlier releases, which named
        `read_until` `updated_at` or `loaded_at`)."""
        state = state or {}
        until = state.get("read_until") or state.get("updated_at") or state.get("loaded_at")
        since = state.get("history_from")
        return cls(
            read_until=datetime.fromisoformat(until) if until else None,
            max_id=state.get("max_id"),
            history_from=datetime.fromisoformat(since) if since else None,
        )

    def to_state(self) -> dict[str, Any]:
        """The JSON form stored in dlt's state and in `load_runs.cursor`."""
        state: dict[str, Any] = {}
        if self.read_until is not None:
            state["read_until"] = self.read_until.isoformat()
        if self.max_id is not None:
            state["max_id"] = self.max_id
        if self.history_from is not None:
            state["history_from"] = self.history_from.isoformat()
        return state

    def advanced(self, run: RunOptions, *, max_id: int | None = None) -> Cursor:
        """The cursor after `run` loaded everything it read: read up to the run's start; a
        `--since` first load (or full refresh) starts the history there, and a later `--since`
        that reaches further back moves it earlier."""
        if run.full_refresh or self.read_until is None:
            history_from = run.since
        elif self.history_from is not None and run.since is not None:
            history_from = min(self.history_from, run.since)
        else:
            history_from = self.history_from
        return Cursor(run.started_at, self.max_id if max_id is None else max_id, history_from)


@dataclass(frozen=True)
class Window:
    """An updated_at window: orders updated in [start, end]; `start` None means everything."""

    start: datetime | None
    end: datetime

    def params(self, time_format: Any) -> dict[str, str]:
        """`updated_at_min` / `updated_at_max`, in the API's time format."""
        params = {"updated_at_max": time_format(self.end)}
        if self.start is not None:
            params["updated_at_min"] = time_format(self.start)
        return params


def updated_window(cursor: Cursor, shop: Shop, run: RunOptions, *, precision: timedelta) -> Window:
    """The updated_at window to read, up to the run's fixed start time. With a coarse filter
    (Spiffy's minutes) the start is floored and the end rounded up, so an order updated later
    in the cursor's minute is still read."""
    end = _floor(run.started_at, precision)
    if end < run.started_at:
        end += precision
    start = _start(cursor, shop, run)
    return Window(None if start is None else _floor(start, precision), end)


@dataclass(frozen=True)
class TrailingWindow:
    """For platforms without an updated filter: the orders created since `created_from` are
    read again, and those changed since `changed_since` are loaded. None means every order
    (`created_from`) or every order read (`changed_since`)."""

    created_from: datetime | None
    changed_since: datetime | None

    def changed(self, moment: datetime | None) -> bool:
        """Whether an order last changed at `moment` is to be loaded (an unknown time is)."""
        return moment is None or self.changed_since is None or moment >= self.changed_since


def trailing_window(cursor: Cursor, shop: Shop, run: RunOptions) -> TrailingWindow:
    """Everything on a first or full-refresh run without `--since`; otherwise the shop's last
    `TRAILING_DAYS` of creation dates (widened to `--since`), loading what changed since the
    previous run less the lookback (or since `--since`, if earlier)."""
    changed_since = _start(cursor, shop, run)
    if changed_since is None:
        return TrailingWindow(None, None)
    trailing_days = int(shop.options.get("trailing_days", DEFAULT_TRAILING_DAYS))
    created_from = run.started_at - timedelta(days=trailing_days)
    if run.since is not None:
        created_from = min(created_from, run.since)
    return TrailingWindow(created_from, changed_since)


def _start(cursor: Cursor, shop: Shop, run: RunOptions) -> datetime | None:
    """The earlier of `--since` and the stored cursor less the lookback; None (everything) on
    a first or full-refresh run without `--since`."""
    starts = [run.since] if run.since is not None else []
    if cursor.read_until is not None and not run.full_refresh:
        starts.append(cursor.read_until - timedelta(minutes=shop.lookback_minutes))
    return min(starts) if starts else None


def _floor(moment: datetime, precision: timedelta) -> datetime:
    moment = moment.astimezone(UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // precision) * precision
