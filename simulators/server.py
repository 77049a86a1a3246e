"""The simulators' shared HTTP core: a loopback server that routes requests to a platform's
renderer, checks credentials, enforces an optional rate limit (a platform's leaky bucket, or a
fixed number of requests a second announced in `X-RateLimit-*` headers), injects faults
(429s, 5xx bursts, slow responses, cut connections, truncated or HTML bodies) on request and
lets tests rewrite successful bodies before they are sent."""

from __future__ import annotations

import base64
import contextlib
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import orjson

from simulators.model import Order, Store

FAULTS = ("429", "429-bare", "500", "502", "503", "slow", "cut", "truncated", "html")


class Response:
    """What a route answers: status, JSON body and extra headers."""

    def __init__(self, body: Any, status: int = 200, headers: dict[str, str] | None = None):
        self.body = body
        self.status = status
        self.headers = headers or {}


Query = dict[str, str]
Rewrite = Callable[[str, Any], Any]


class Renderer(Protocol):
    """A platform's API: its credentials check and its routes over the shared store."""

    name: str
    rate_limit_header: str | None

    def authorized(self, authorization: str | None) -> bool: ...

    def route(self, path: str, query: Query) -> Response | None: ...


class BaseApi:
    """What every platform's API shares: the store it serves and the credentials it accepts."""

    name = "base"
    rate_limit_header: str | None = None

    def __init__(self, store: Store, credentials: str = "Bearer sim-token") -> None:
        self.store = store
        self.credentials = credentials
        self.patches: dict[int, dict[str, Any]] = {}  # order id -> fields to overwrite (... drops)
        # At most this many records a list response, whatever `limit` asks or the document says:
        # real APIs cap silently, and differently by plan.
        self.page_cap: int | None = None
        self._rendered: dict[tuple, dict[str, Any]] = {}

    def served(self, size: int) -> int:
        """How many records a list page holds when `size` would be served without a cap."""
        return size if self.page_cap is None else min(size, self.page_cap)

    def authorized(self, authorization: str | None) -> bool:
        return authorization == self.credentials

    def render(self, order: Order, **options: Any) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def payload(self, order: Order, **options: Any) -> dict[str, Any]:
        """The order as the API sends it, with any test patch applied (bad input on demand).
        Renders are cached until the order's `updated_at` changes (every mutation bumps it)."""
        key = (order.id, order.updated_at, len(order.lines), *sorted(options.items()))
        rendered = self._rendered.get(key)
        if rendered is None:
            rendered = self._rendered[key] = self.render(order, **options)
        if order.id not in self.patches:
            return rendered
        rendered = dict(rendered)
        for key, value in self.patches[order.id].items():
            if value is ...:
                rendered.pop(key, None)
            else:
                rendered[key] = value
        return rendered


@dataclass
class LeakyBucket:
    """Haravan-style call limit: `capacity` calls, leaking `leak_per_second`, reported in the
    platform's header as `level/capacity`."""

    capacity: int = 80
    leak_per_second: float = 4.0
    level: float = 0.0
    peak: float = 0.0  # the fullest the bucket has been
    updated: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, header: str | None) -> tuple[bool, dict[str, str]]:
        """Count one call; False when the bucket is full (answer 429); the headers to send."""
        with self.lock:
            now = time.monotonic()
            self.level = max(0.0, self.level - (now - self.updated) * self.leak_per_second)
            self.updated = now
            allowed = self.level + 1 <= self.capacity
            if allowed:
                self.level += 1
                self.peak = max(self.peak, self.level)
            shown = round(self.level) if allowed else int(self.level)
            return allowed, {header or "X-Rate-Limit": f"{shown}/{self.capacity}"}


@dataclass
class FixedWindow:
    """A fixed number of requests a window (by default 2 a second), as APIs whose documents
    state no limit commonly enforce one, announced on every response in the common headers
    `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds until the
    window resets)."""

    limit: int = 2
    seconds: float = 1.0
    used: int = 0
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, header: str | None) -> tuple[bool, dict[str, str]]:
        """Count one call; False when the window's requests are used up (answer 429)."""
        with self.lock:
            now = time.monotonic()
            if now - self.started >= self.seconds:
                self.started, self.used = now, 0
            allowed = self.used < self.limit
            self.used += allowed
            reset = math.ceil((self.seconds - (now - self.started)) * 1000) / 1000
            return allowed, {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.limit - self.used),
                "X-RateLimit-Reset": f"{reset:.3f}",
            }


class RateLimit(Protocol):
    """What a simulator's rate limit does with each request."""

    def take(self, header: str | None) -> tuple[bool, dict[str, str]]: ...


@dataclass
class Gauge:
    """Requests waiting for their answers at once, across every simulator sharing it (with a
    latency, most of a request's time): the highest is what a client held in flight."""

    current: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        with self.lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
        try:
            yield
        finally:
            with self.lock:
                self.current -= 1


def on_response(number: int, path: str, change: Callable[[Any], Any]) -> Rewrite:
    """A rewrite (for `Simulator.rewrites`) that applies `change` to the decoded body of the
    `number`th (from 1) successful response to `path` and leaves every other response alone,
    e.g. `on_response(2, "/com/orders.json", lambda body: {**body, "orders": [...]})`."""
    answered = itertools.count(1)

    def rewrite(request_path: str, body: Any) -> Any:
        if request_path != path or next(answered) != number:
            return body
        return change(body)

    return rewrite


class Simulator:
    """A running simulator: `store` holds the data, `faults` queues faults for the next
    requests, `hooks` run before each list request (to mutate data mid-load), and `rewrites`
    turn each successful response body, decoded, into the one sent: each is called with the
    request's path and the body and returns the body to send (see `on_response`)."""

    def __init__(
        self,
        renderer: Renderer,
        store: Store,
        *,
        port: int = 0,
        rate_limit: RateLimit | None = None,
        retry_after: str = "2.0",
        slow_seconds: float = 3.0,
        latency: float = 0.0,
        gauge: Gauge | None = None,
    ) -> None:
        self.renderer = renderer
        self.store = store
        self.rate_limit = rate_limit
        self.latency = latency  # seconds every answer takes, as a slow API's
        self.gauge = gauge or Gauge()
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.faults: deque[str] = deque()
        self.hooks: list[Callable[[int], None]] = []
        self.rewrites: list[Rewrite] = []
        self.requests: list[str] = []
        self.throttled = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        # a short poll, so that stopping dozens of simulators after a test is quick
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Simulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def warm(self) -> None:
        """Render every order once, so that serving measures the client, not the renderer."""
        for order in self.store.visible():
            self.renderer.payload(order)

    def inject(self, faults: Iterable[str]) -> None:
        """Queue faults, one per upcoming request, in order."""
        for fault in faults:
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}")
            self.faults.append(fault)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, no delayed ACK

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                # Counted until the answer starts: a client may have read a whole answer (and
                # sent its next request) before this thread gets to count the last one done.
                with simulator.gauge.counting():
                    if simulator.latency:
                        time.sleep(simulator.latency)
                simulator._serve(self)

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.path == "/_simulator/stats":  # for benchmarks: what this simulator served
            self._send(handler, 200, {"requests": len(self.requests), "throttled": self.throttled})
            return
        self.requests.append(handler.path)
        for hook in list(self.hooks):
            hook(len(self.requests))
        fault = self.faults.popleft() if self.faults else None
        if fault is not None and self._fault(handler, fault):
            return
        headers: dict[str, str] = {}
        if self.rate_limit is not None:
            allowed, headers = self.rate_limit.take(self.renderer.rate_limit_header)
            if not allowed:
                self.throttled += 1
                self._send(
                    handler,
                    429,
                    {"errors": "Exceeded call limit"},
                    {**headers, "Retry-After": self.retry_after},
                )
                return
        if not self.renderer.authorized(handler.headers.get("Authorization")):
            self._send(handler, 401, {"errors": "[API] Invalid API key or access token"})
            return
        try:
            with self.store.lock:
                response = self.renderer.route(parts.path, query)
        except (ValueError, KeyError) as error:
            self._send(handler, 400, {"errors": f"bad request: {error}"})
            return
        if response is None:
            self._send(handler, 404, {"errors": "Not Found"})
            return
        body = response.body
        if response.status == 200 and self.rewrites:
            # a decoded copy: rewrites may edit it freely without touching cached renders
            body = orjson.loads(self._encode(body))
            for rewrite in list(self.rewrites):
                body = rewrite(parts.path, body)
        self._send(handler, response.status, body, {**headers, **response.headers})

    def _fault(self, handler: BaseHTTPRequestHandler, fault: str) -> bool:
        """Serve an injected fault; True when the request is answered."""
        if fault == "429":
            self._send(
                handler, 429, {"errors": "Too many requests"}, {"Retry-After": self.retry_after}
            )
        elif fault == "429-bare":
            self._send(handler, 429, {"errors": "Too many requests"})
        elif fault in ("500", "502", "503"):
            self._send(handler, int(fault), {"errors": "server error"})
        elif fault == "slow":
            time.sleep(self.slow_seconds)
            return False
        elif fault == "html":
            body = b"<html><body><h1>Maintenance</h1></body></html>"
            self._raw(handler, 200, body, "text/html", len(body))
        elif fault == "cut":
            body = b'{"orders": [{"id": 1'
            self._raw(handler, 200, body, "application/json", len(body) + 500)
            handler.close_connection = True
        elif fault == "truncated":
            body = b'{"orders": [{"id": 1, "line_items": ['
            self._raw(handler, 200, body, "application/json", len(body))
        return True

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = self._encode(body)
        self._raw(handler, status, data, "application/json; charset=utf-8", len(data), headers)

    @staticmethod
    def _encode(body: Any) -> bytes:
        return orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS)

    @staticmethod
    def _raw(
        handler: BaseHTTPRequestHandler,
        status: int,
        data: bytes,
        content_type: str,
        length: int,
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(length))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.wfile.write(data)


@dataclass(frozen=True)
class SimulatorSpec:
    """What a platform's simulator module declares as `SIMULATOR`: its API class, the
    currencies its store sells in, the config keys a shop needs to reach it (credentials and
    other options) and the Authorization header those credentials produce."""

    api: Callable[..., Any]
    currencies: tuple[str, ...]
    credentials: dict[str, str]  # config key -> value the simulator accepts
    authorization: str
    options: dict[str, str] = field(default_factory=dict)


def basic(user: str, password: str) -> str:
    """The Authorization header of HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
