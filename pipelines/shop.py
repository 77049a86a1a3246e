"""A configured shop and the options of one run: plain values, light to import."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.errors import ShopduckError
from pipelines.http import RetryPolicy


@dataclass(frozen=True)
class Shop:
    """One configured shop. `secrets` holds credentials and is never printed."""

    platform: str
    name: str
    base_url: str
    secrets: Mapping[str, str] = field(repr=False)
    lookback_minutes: int = 10
    page_size: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def page_size_within(self, maximum: int) -> int:
        """The configured PAGE_SIZE, capped at the API's maximum (the maximum by default)."""
        return min(self.page_size or maximum, maximum)

    @property
    def label(self) -> str:
        """`platform/shop`, as output names a shop."""
        return f"{self.platform}/{self.name}"

    @property
    def key(self) -> dict[str, str]:
        """The shop as `$platform` / `$shop` parameters of a warehouse query."""
        return {"platform": self.platform, "shop": self.name}

    @property
    def timezone(self) -> str:
        """The shop's calendar for reporting days (`TIMEZONE`, an IANA name; UTC by default)."""
        return str(self.options.get("timezone") or "UTC")

    def secret(self, key: str) -> str:
        """A credential; a missing one is a configuration error naming the key, not the value."""
        value = self.secrets.get(key)
        if not value:
            raise ShopduckError(
                f"{self.label}: missing credential SOURCES__{self.platform.upper()}__{key.upper()}"
            )
        return value


@dataclass(frozen=True)
class RunOptions:
    """What one `shopduck load` asks for. `started_at` is the fixed upper bound of every
    updated_at window in the run, taken once when the run starts."""

    started_at: datetime
    full_refresh: bool = False
    since: datetime | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
