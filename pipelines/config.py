"""Shops from dlt configuration: `[sources.<platform>]` (one shop, the flat way) and
`[sources.<platform>.shops.<name>]` (named shops), from `.dlt/*.toml` or environment variables
such as `SOURCES__HARAVAN__BASE_URL` and `SOURCES__HARAVAN__SHOPS__EU__BASE_URL`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dlt

from pipelines.errors import ShopduckError
from pipelines.http import RetryPolicy
from pipelines.settings import (
    COMMON_OPTION_KEYS,
    DEFAULT_LOCK_WAIT_SECONDS,
    DEFAULT_LOOKBACK_MINUTES,
)
from pipelines.shop import Shop
from platforms import PLATFORMS


def _get(section: str, key: str, secret: bool = False) -> Any:
    accessor = dlt.secrets if secret else dlt.config
    value = accessor.get(f"{section}.{key}")
    if value is None and not secret:
        value = dlt.secrets.get(f"{section}.{key}")
    return value


def _shop_names(platform: str) -> list[str]:
    names: set[str] = set()
    for accessor in (dlt.config, dlt.secrets):
        section = accessor.get(f"sources.{platform}.shops")
        if isinstance(section, dict):
            names.update(section)
    prefix = f"SOURCES__{platform.upper()}__SHOPS__"
    for variable in os.environ:
        if variable.startswith(prefix):
            names.add(variable[len(prefix) :].split("__", 1)[0].lower())
    return sorted(names)


def _read_shop(platform: str, section: str, name: str | None) -> Shop | None:
    base_url = _get(section, "base_url")
    if not base_url:
        return None
    label = _get(section, "shop") or name or urlsplit(str(base_url)).netloc
    declared = PLATFORMS[platform]
    secrets = {key: _get(section, key, secret=True) for key in declared.credentials}
    page_size = _get(section, "page_size")
    lookback = _get(section, "lookback_minutes")
    keys = COMMON_OPTION_KEYS + declared.options
    options = {k: v for k in keys if (v := _get(section, k)) is not None}
    if "timezone" in options:
        _check_timezone(f"{platform}/{label}", str(options["timezone"]))
    return Shop(
        platform=platform,
        name=str(label),
        base_url=str(base_url),
        secrets={k: str(v) for k, v in secrets.items() if v is not None},
        lookback_minutes=DEFAULT_LOOKBACK_MINUTES if lookback in (None, "") else int(lookback),
        page_size=int(page_size) if page_size else None,
        options=options,
    )


def _check_timezone(shop: str, name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ShopduckError(
            f"{shop}: TIMEZONE {name!r} is not an IANA time zone name (e.g. Asia/Ho_Chi_Minh)"
        ) from None


def configured_shops(platforms: Iterable[str] = (), shops: Iterable[str] = ()) -> list[Shop]:
    """Every configured shop, optionally only of the given platforms or with the given labels.
    A platform without a `BASE_URL` has no shop and is skipped."""
    wanted_platforms, wanted_shops = set(platforms), set(shops)
    unknown = wanted_platforms - set(PLATFORMS)
    if unknown:
        raise ShopduckError(f"unknown platform(s): {', '.join(sorted(unknown))}")
    found: list[Shop] = []
    for platform in PLATFORMS:
        if wanted_platforms and platform not in wanted_platforms:
            continue
        candidates = [_read_shop(platform, f"sources.{platform}", None)]
        candidates += [
            _read_shop(platform, f"sources.{platform}.shops.{name}", name)
            for name in _shop_names(platform)
        ]
        found += [s for s in candidates if s and (not wanted_shops or s.name in wanted_shops)]
    return found


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based): the shops whose stable hash of `platform/shop` falls
    there, so N schedulers split the shops with no coordination."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`I/N`, with 1 <= I <= N."""
        index, _, count = text.partition("/")
        if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
            raise ValueError(f"expected I/N with 1 <= I <= N, such as 2/3, not {text!r}")
        return cls(int(index), int(count))

    def holds(self, shop: Shop) -> bool:
        """Whether `shop` belongs to this shard."""
        return shard_of(shop, self.count) == self.index


def shard_of(shop: Shop, count: int) -> int:
    """The shard (1..count) of a shop: a hash of `platform/shop` that is the same on every host
    and every run (sha256, unlike Python's salted `hash`)."""
    digest = hashlib.sha256(shop.label.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def retry_policy() -> RetryPolicy:
    """Retry settings from `[shopduck]` (`SHOPDUCK__RETRY_ATTEMPTS`, `..._RETRY_INITIAL_WAIT`,
    `..._RETRY_MAX_WAIT`, `..._REQUEST_TIMEOUT`), defaulting to `RetryPolicy()`."""
    default = RetryPolicy()
    return RetryPolicy(
        attempts=int(dlt.config.get("shopduck.retry_attempts") or default.attempts),
        initial_wait=float(dlt.config.get("shopduck.retry_initial_wait") or default.initial_wait),
        max_wait=float(dlt.config.get("shopduck.retry_max_wait") or default.max_wait),
        timeout=float(dlt.config.get("shopduck.request_timeout") or default.timeout),
    )


def lock_wait_seconds() -> float:
    """How long a load waits for another one to release the warehouse
    (`SHOPDUCK__LOCK_WAIT_SECONDS`, default 60)."""
    return float(dlt.config.get("shopduck.lock_wait_seconds") or DEFAULT_LOCK_WAIT_SECONDS)
