"""Rate limiting per API key: a token bucket per key, answered with 429 and ``retry-after``.

Buckets are keyed by a digest of the bearer token (never the token itself), or by the client
address for calls without a key, so a flood of unauthenticated calls is limited as well.  The
bucket table is bounded: when it is full, buckets that have refilled completely are dropped first
(they carry no state), then the oldest.  Health probes are never limited.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import RateLimitError

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/"})
EXEMPT_PREFIXES = ("/dashboard/",)
"""The dashboard's page and assets: static, cached, and loading them must not spend the API budget."""
MAX_BUCKETS = 100_000


def caller_id(scope: Scope) -> str:
    """A stable, secret-free name for the caller: a digest of its bearer token or its address."""
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            return "k:" + hashlib.sha256(value.strip()).hexdigest()[:32]
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class TokenBuckets:
    """``rate`` tokens per second up to ``burst``; :meth:`take` answers the wait when empty."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_buckets: int = MAX_BUCKETS) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str) -> tuple[bool, float, int]:
        """One token for ``key``: (allowed, seconds until one is available, tokens left)."""
        now = self.clock()
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            tokens -= 1.0
            self._store(key, tokens, now)
            return True, 0.0, int(tokens)
        self._store(key, tokens, now)
        return False, (1.0 - tokens) / self.rate, 0

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


class RateLimitMiddleware:
    """Answers 429 in OpenAI's envelope, with ``retry-after`` (whole seconds) and OpenAI's
    ``x-ratelimit-*`` headers, when a caller exceeds its bucket."""

    def __init__(self, app: ASGIApp, rate: float, burst: int | None = None,
                 on_limited: Callable[[], None] | None = None) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate, burst or max(1, math.ceil(rate)))
        self.on_limited = on_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        allowed, wait, left = self.buckets.take(caller_id(scope))
        if allowed:
            await self.app(scope, receive, send)
            return
        if self.on_limited is not None:
            self.on_limited()
        retry = max(1, math.ceil(wait))
        err = RateLimitError(
            f"Rate limit reached for this key: {self.buckets.rate:g} requests per second "
            f"(burst {self.buckets.burst}). Retry after {retry} s.",
            code="rate_limit_exceeded",
        )
        body = orjson.dumps(err.to_envelope())
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry).encode()),
            (b"x-ratelimit-limit-requests", str(self.buckets.burst).encode()),
            (b"x-ratelimit-remaining-requests", str(left).encode()),
            (b"x-ratelimit-reset-requests", f"{wait:.3f}s".encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
