"""Who may call, and how much: authentication and every per-caller limit, in front of the routes.

* A request with a bearer key is authenticated once (the result is kept in the request's state
  for the route).  Keys not in the key ring's cache are looked up in a worker thread, never on
  the event loop.
* Failed authentications are limited per client address: once an address has spent its budget
  of failures, keys the ring does not know are refused with 429 before any store lookup, so
  random keys cost nothing.  With a Redis URL these budgets are shared by every worker too.
* The request rate is limited per authenticated key (its key id, whatever the spelling of the
  ``Authorization`` header), or per address for calls without a key.  With a Redis URL the
  buckets live in Redis and hold across workers.
* Usage queries run at most ``max_concurrent_queries`` at once per key.

Health probes and the dashboard's static files are never limited.  Every refusal is OpenAI's
envelope with ``retry-after``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from ..auth import KeyRing, Principal
from ..errors import ApiError, AuthenticationError, RateLimitError

if TYPE_CHECKING:  # the core's interface names the gate: only for type checking
    from .core import AppCore

log = logging.getLogger("openusage.server")

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/"})
EXEMPT_PREFIXES = ("/dashboard/",)
"""The dashboard's page and assets: static, cached, and loading them must not spend the API budget."""
MAX_BUCKETS = 100_000


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header; the scheme in any case, any spacing."""
    for name, value in headers:
        if name == b"authorization":
            parts = value.decode("latin-1").split(None, 1)
            if len(parts) == 2 and parts[0].lower() == "bearer":
                return parts[1].strip() or None
            return None
    return None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def exempt(scope: Scope) -> bool:
    path = scope.get("path", "")
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)


def release_memory_promptly() -> None:
    """Make Arrow give freed memory back to the system at once.  Its default allocator (mimalloc)
    keeps freed pages in each thread's heap, so after a burst of large answers the server stayed
    at its peak; jemalloc without decay returns them as they are freed."""
    import pyarrow as pa

    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)
    except (NotImplementedError, pa.ArrowException):  # a build without jemalloc
        log.info("Arrow has no jemalloc here; freed memory returns as its allocator decides")


class TokenBuckets:
    """``rate`` tokens per second up to ``burst``; :meth:`take` answers the wait when empty.

    The table is bounded: when it is full, buckets that have refilled completely are dropped
    first (they carry no state), then the oldest.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_buckets: int = MAX_BUCKETS) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.rate)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0: it has one now); takes nothing."""
        return max(0.0, (1.0 - self._level(key, self.clock())) / self.rate)

    def take(self, key: str) -> tuple[bool, float, int]:
        """One token for ``key``: (allowed, seconds until one is available, tokens left)."""
        now = self.clock()
        tokens = self._level(key, now)
        self._buckets.pop(key, None)
        if tokens >= 1.0:
            tokens -= 1.0
            self._store(key, tokens, now)
            return True, 0.0, int(tokens)
        self._store(key, tokens, now)
        return False, (1.0 - tokens) / self.rate, 0

    async def acquire(self, key: str) -> tuple[bool, float, int]:
        return self.take(key)

    async def peek(self, key: str) -> float:
        return self.wait(key)

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_buckets:
            self._evict(now)

    def _evict(self, now: float) -> None:
        full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


_REDIS_LEVEL = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(s[1]) or burst
local at = tonumber(s[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
"""
_REDIS_PEEK = _REDIS_LEVEL + "return tostring(tokens)\n"
_REDIS_BUCKET = _REDIS_LEVEL + """
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisBuckets:
    """The same token buckets kept in Redis (one hash per key, updated by one script), so every
    worker of a deployment spends from one budget.  If Redis fails, the worker falls back to its
    own buckets (logged) rather than refusing all traffic."""

    RETRY_AFTER = 5.0
    """Seconds to limit per worker after Redis failed, before trying it again (no wait per request)."""

    def __init__(self, url: str, rate: float, burst: int, prefix: str = "openusage:rl:") -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise RuntimeError("a Redis URL needs the redis package: pip install 'openusage[redis]'") from None

        self.rate = rate
        self.burst = burst
        self.prefix = prefix
        self.client = aioredis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.script = self.client.register_script(_REDIS_BUCKET)
        self.peek_script = self.client.register_script(_REDIS_PEEK)
        self.fallback = TokenBuckets(rate, burst)
        self._down_until = 0.0

    async def acquire(self, key: str) -> tuple[bool, float, int]:
        if time.monotonic() < self._down_until:
            return self.fallback.take(key)
        try:
            allowed, left = await self.script(keys=[self.prefix + key], args=[self.rate, self.burst])
        except Exception as exc:  # Redis away: limit per worker, and try it again in a while
            log.warning("limiter: Redis failed (%s); limiting per worker for %g s", type(exc).__name__,
                        self.RETRY_AFTER)
            self._down_until = time.monotonic() + self.RETRY_AFTER
            return self.fallback.take(key)
        tokens = float(left)
        if int(allowed):
            return True, 0.0, int(tokens)
        return False, (1.0 - tokens) / self.rate, 0

    async def peek(self, key: str) -> float:
        """Seconds until ``key`` has a token (0: it has one now); takes nothing."""
        if time.monotonic() < self._down_until:
            return self.fallback.wait(key)
        try:
            tokens = float(await self.peek_script(keys=[self.prefix + key], args=[self.rate, self.burst]))
        except Exception as exc:
            log.warning("limiter: Redis failed (%s); limiting per worker for %g s", type(exc).__name__,
                        self.RETRY_AFTER)
            self._down_until = time.monotonic() + self.RETRY_AFTER
            return self.fallback.wait(key)
        return max(0.0, (1.0 - tokens) / self.rate)


class Gate:
    """Authentication plus the limits around it, for one app (see the module docstring)."""

    def __init__(self, keys: KeyRing, *, rate: float | None = None, burst: int | None = None,
                 redis_url: str | None = None, namespace: str = "", auth_failures_per_minute: int = 30,
                 max_concurrent_queries: int = 4, on_limited: Callable[[], None] | None = None) -> None:
        self.keys = keys
        self.buckets: TokenBuckets | RedisBuckets | None = None
        if rate:
            burst = burst or max(1, math.ceil(rate))
            self.buckets = (RedisBuckets(redis_url, rate, burst, f"openusage:rl:{namespace}:") if redis_url
                            else TokenBuckets(rate, burst))
        per_s, most = auth_failures_per_minute / 60.0, auth_failures_per_minute
        self.failures: TokenBuckets | RedisBuckets = (
            RedisBuckets(redis_url, per_s, most, f"openusage:af:{namespace}:") if redis_url
            else TokenBuckets(per_s, most))
        self.max_concurrent_queries = max_concurrent_queries
        self.on_limited = on_limited
        self._running: dict[str, int] = {}

    def _limited(self, err: RateLimitError) -> RateLimitError:
        if self.on_limited is not None:
            self.on_limited()
        return err

    async def authenticate(self, scope: Scope) -> Principal:
        """The caller's principal (or the ApiError refusing it), worked out once per request."""
        state: dict[str, Any] = scope.setdefault("state", {})
        if "principal" in state:
            known: Principal = state["principal"]  # set by the gate, the only writer of this key
            return known
        if "auth_error" in state:
            raise state["auth_error"]
        try:
            found = await self._verify(bearer_token(scope.get("headers") or ()), client_address(scope))
        except ApiError as exc:
            state["auth_error"] = exc
            raise
        state["principal"] = found
        state["key_id"] = found.key_id  # the public id, for the access log
        return found

    async def _verify(self, token: str | None, address: str) -> Principal:
        if token is None or self.keys.is_cached(token):
            try:
                return self.keys.verify(token)
            except AuthenticationError:
                if token is not None:
                    await self.failures.acquire(address)
                raise
        wait = 0.0 if self.keys.known_valid(token) else await self.failures.peek(address)
        if wait > 0:  # this address has spent its failures: no store lookup for unknown keys
            retry = max(1, math.ceil(wait))
            raise self._limited(RateLimitError(
                f"Too many failed authentications from this address: at most {self.failures.burst} a minute. "
                f"Retry after {retry} s with a valid key.",
                code="too_many_failed_authentications", headers={"retry-after": str(retry)}))
        try:
            return await run_in_threadpool(self.keys.verify, token)
        except AuthenticationError:
            await self.failures.acquire(address)
            raise

    async def admit(self, scope: Scope) -> tuple[RateLimitError | None, int]:
        """Authenticate (if a key is sent) and spend one request from the caller's rate budget:
        (the 429 to answer now or None, tokens left)."""
        token = bearer_token(scope.get("headers") or ())
        caller = "ip:" + client_address(scope)
        if token is not None:
            try:
                caller = "k:" + (await self.authenticate(scope)).key_id
            except RateLimitError as exc:
                return exc, 0
            except ApiError:
                pass  # the route answers 401; the attempt counts against the address
        if self.buckets is None:
            return None, -1
        allowed, wait, left = await self.buckets.acquire(caller)
        if allowed:
            return None, left
        retry = max(1, math.ceil(wait))
        who = "key" if caller.startswith("k:") else "address"
        return self._limited(RateLimitError(
            f"Rate limit reached for this {who}: {self.buckets.rate:g} requests per second "
            f"(burst {self.buckets.burst}). Retry after {retry} s.",
            code="rate_limit_exceeded",
            headers={"retry-after": str(retry), "x-ratelimit-limit-requests": str(self.buckets.burst),
                     "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": f"{wait:.3f}s"})), 0

    def query_slot(self, principal: Principal) -> Callable[[], None]:
        """Takes one of the key's concurrent-query slots (429 when all are taken); returns the
        function that gives it back (once, whatever happens: a query's memory lasts until its
        answer is sent, so the slot does too)."""
        key = principal.key_id
        if self._running.get(key, 0) >= self.max_concurrent_queries:
            raise self._limited(RateLimitError(
                f"This key already runs {self.max_concurrent_queries} queries at once; wait for one to "
                "finish. Retry after 1 s.", code="too_many_concurrent_queries", headers={"retry-after": "1"}))
        self._running[key] = self._running.get(key, 0) + 1
        done = False

        def release() -> None:
            nonlocal done
            if done:
                return
            done = True
            left = self._running[key] - 1
            if left:
                self._running[key] = left
            else:
                del self._running[key]

        return release


def authenticated(scope: Scope) -> Principal:
    """The principal the gate found for this request (or the error refusing it).  A request
    without a key was not looked up: it is refused here, with no store involved."""
    state = scope.get("state") or {}
    if "principal" in state:
        return state["principal"]  # type: ignore[no-any-return]
    if "auth_error" in state:
        raise state["auth_error"]
    if bearer_token(scope.get("headers") or ()) is not None:  # the gate runs before every route
        raise RuntimeError("a keyed request reached a route without passing the gate")
    raise AuthenticationError(
        "You didn't provide an API key. Send it in the Authorization header as 'Bearer <key>'.",
        code="invalid_api_key")


async def send_error(send: Send, err: ApiError) -> None:
    body = orjson.dumps(err.to_envelope())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status or 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _core(scope: Scope) -> AppCore:
    core: AppCore = scope["app"].state.core  # set by create_app
    return core


class RateLimitMiddleware:
    """Runs the app's :class:`Gate` (``app.state.core.gate``, or the one given) once per request
    and answers its 429s in OpenAI's envelope, with ``retry-after`` and ``x-ratelimit-*``."""

    def __init__(self, app: ASGIApp, /, gate: Gate | None = None, **_settings: object) -> None:
        # ``rate``/``burst`` keywords of the standard stack are read by the gate from the settings
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        if not state.get("gated"):
            state["gated"] = True
            gate = self.gate or _core(scope).gate
            if exempt(scope):  # never limited; a key sent anyway is still checked for the route
                if bearer_token(scope.get("headers") or ()) is not None:
                    with contextlib.suppress(ApiError):
                        await gate.authenticate(scope)
            else:
                refused, _ = await gate.admit(scope)
                if refused is not None:
                    await send_error(send, refused)
                    return
        await self.app(scope, receive, send)
