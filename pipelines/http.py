"""The HTTP core every source uses: one asynchronous httpx client per shop with its auth,
bounded retries with backoff (honouring Retry-After), pacing from rate-limit headers, and
one-line errors that name the shop and URL but never a credential.

Asynchronous so that one event loop fetches any number of shops at once: a shop waiting for
its rate limit or a slow API holds no thread."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import msgspec
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from pipelines.errors import ShopduckError

log = logging.getLogger("shopduck.http")

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class ApiError(ShopduckError):
    """A permanent failure talking to a shop's API; the message is one line for the user."""


class UnexpectedBody(Exception):
    """A body other than the API document says: not UTF-8, or JSON of another shape (raised
    by a decoder)."""


T = TypeVar("T")


class TransientError(Exception):
    """A failure worth retrying (429, 5xx, a cut or truncated body)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request, backoff bounds and the per-request timeout."""

    attempts: int = 6
    initial_wait: float = 1.0
    max_wait: float = 60.0
    timeout: float = 30.0


@dataclass(frozen=True)
class BucketPacer:
    """Paces requests from a leaky-bucket header such as `X-Haravan-Api-Call-Limit: 32/80`.

    When the bucket is fuller than `capacity - headroom`, sleep until it has leaked back down,
    so a long backfill runs at the leak rate instead of bouncing off 429s. The capacity is read
    from each response, so a plan with a larger bucket is used to its size.
    """

    header: str
    leak_per_second: float
    headroom: int = 8

    def wait_after(self, headers: httpx.Headers) -> float:
        """Seconds to wait before the next request, given the last response's headers."""
        value = headers.get(self.header)
        if not value or "/" not in value:
            return 0.0
        used, capacity = (int(part) for part in value.split("/", 1))
        excess = used - (capacity - self.headroom)
        return max(0.0, excess / self.leak_per_second)


def standard_wait(headers: httpx.Headers, now: float | None = None) -> float:
    """Seconds to wait before the next request by the common rate-limit headers, for APIs
    whose documents say nothing of a limit: none while requests remain in the window; when
    none remain, until the window resets. Understands `X-RateLimit-Remaining` /
    `X-RateLimit-Reset` (seconds, or a Unix time) and the IETF draft's `RateLimit-Remaining` /
    `RateLimit-Reset` and `RateLimit: limit=.., remaining=.., reset=..`."""
    fields: dict[str, str] = {}
    for item in headers.get("RateLimit", "").split(","):
        name, _, value = item.strip().partition("=")
        fields[name.strip().lower()] = value.strip()
    for prefix in ("X-RateLimit-", "RateLimit-"):
        for name in ("remaining", "reset"):
            value = headers.get(prefix + name)
            if value is not None:
                fields.setdefault(name, value)
    try:
        remaining, reset = float(fields["remaining"]), float(fields["reset"])
    except (KeyError, ValueError):
        return 0.0
    if remaining > 0:
        return 0.0
    if reset > 1_000_000_000:  # a Unix time, not a number of seconds
        reset -= time.time() if now is None else now
    return max(0.0, reset)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings every client shares (httpx's defaults: certificates verified against
    certifi's authorities). Each client making its own loads the authorities again, tens of
    milliseconds of CPU: seconds for a run of many shops, before their first requests."""
    return httpx.create_ssl_context()


def bearer(token: str) -> dict[str, str]:
    """Headers for `Authorization: Bearer`."""
    return {"Authorization": f"Bearer {token}"}


def require_safe_url(base_url: str) -> None:
    """HTTPS is required for anything but loopback, so credentials never travel in clear."""
    parts = urlsplit(base_url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return
    raise ApiError(f"base_url {base_url!r} must use https (plain http only for localhost)")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The seconds a `Retry-After` header asks to wait (None: no such header, or unreadable)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # the other form RFC 9110 allows: an HTTP date
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class ApiClient:
    """GETs JSON from one shop's API with auth, retries and pacing.

    Pacing: a request waits for the rate the shop is configured with (`rate`, requests a
    second), for the platform's bucket header (`pacer`) and for the common rate-limit headers
    of the last response (`standard_wait`), so a shop runs at its limit without collecting
    429s. `in_flight`, shared by every client of a run, bounds the responses being read at
    once (what a run holds in memory), whatever the number of shops; waiting for the pace
    holds no place in it."""

    def __init__(
        self,
        shop: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        policy: RetryPolicy | None = None,
        pacer: BucketPacer | None = None,
        rate: float | None = None,
        in_flight: asyncio.Semaphore | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        require_safe_url(base_url)
        self.shop = shop
        self.policy = policy or RetryPolicy()
        self.pacer = pacer
        self.requests = 0
        self._interval = 1.0 / rate if rate else 0.0
        self._in_flight = in_flight
        self._sleep = sleep
        self._pause_until = 0.0
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Accept": "application/json", **(headers or {})},
            auth=auth,
            timeout=self.policy.timeout,
            verify=tls_context(),
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def get(
        self, path: str, params: Mapping[str, Any] | None, decode: Callable[[bytes], T]
    ) -> T:
        """`GET path?params`, its JSON body decoded by `decode`, retried on transient failures
        (an invalid body, usually cut short, among them)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((TransientError, httpx.TransportError)),
            stop=stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return await retrying(self._get_once, path, params, decode)
        except (TransientError, httpx.TransportError) as error:
            url = self._http.build_request("GET", path, params=params).url
            reason = (
                error if isinstance(error, TransientError) else f"{type(error).__name__}: {error}"
            )
            raise ApiError(
                f"{self.shop}: GET {url} failed after {self.policy.attempts} attempts: {reason}"
            ) from None

    def _wait(self, retry_state: Any) -> float:
        error = retry_state.outcome.exception()
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, self.policy.max_wait)
        backoff = self.policy.initial_wait * 2 ** (retry_state.attempt_number - 1)
        return min(self.policy.max_wait, backoff * (0.5 + random.random() / 2))

    async def _get_once(
        self, path: str, params: Mapping[str, Any] | None, decode: Callable[[bytes], T]
    ) -> T:
        await self._respect_pacing()
        self.requests += 1
        if self._in_flight is None:
            return self._checked(await self._http.get(path, params=params), decode)
        async with self._in_flight:
            return self._checked(await self._http.get(path, params=params), decode)

    def _checked(self, response: httpx.Response, decode: Callable[[bytes], T]) -> T:
        """The response's body decoded, or the error it means; learns the pace from it."""
        wait = standard_wait(response.headers)
        if self.pacer is not None:
            wait = max(wait, self.pacer.wait_after(response.headers))
        self._pause_until = max(self._pause_until, time.monotonic() + wait)
        status = response.status_code
        if status == 429 or status >= 500:
            raise TransientError(f"HTTP {status}", retry_after=retry_after_seconds(response))
        if status in (401, 403):
            raise ApiError(
                f"{self.shop}: HTTP {status} from GET {response.url}: the credentials were refused"
            )
        if status >= 400:
            raise ApiError(f"{self.shop}: HTTP {status} from GET {response.url}")
        return self._decode(response, decode)

    async def _respect_pacing(self) -> None:
        now = time.monotonic()
        delay = self._pause_until - now
        # the configured rate spaces the starts of requests
        self._pause_until = max(self._pause_until, now) + self._interval
        if delay > 0:
            log.debug("%s: pacing %.2fs for the rate limit", self.shop, delay)
            await self._sleep(delay)

    def _decode(self, response: httpx.Response, decode: Callable[[bytes], T]) -> T:
        content_type = response.headers.get("Content-Type", "")
        body = response.content
        if "html" in content_type or body[:64].lstrip()[:1] == b"<":
            raise ApiError(
                f"{self.shop}: GET {response.url} returned an HTML page, not JSON "
                f"(is base_url right?)"
            )
        try:
            return decode(body)
        except UnexpectedBody as error:
            raise ApiError(f"{self.shop}: GET {response.url}: {error}") from None
        except msgspec.DecodeError as error:  # a cut or truncated body: worth another attempt
            raise TransientError(f"invalid JSON body ({error})") from None
