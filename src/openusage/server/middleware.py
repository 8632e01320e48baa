"""The middleware every request passes, outermost first:

1. :class:`RequestContextMiddleware`: a request id (``x-request-id``, echoed or made), security
   headers, one access-log line, request metrics, and a 500 in OpenAI's envelope for anything
   unhandled (so even failures carry the request id);
2. CORS, only when origins are allowed (closed by default: no CORS header is ever sent);
3. :class:`openusage.server.limits.RateLimitMiddleware` when a rate is set;
4. :class:`BodyLimitMiddleware`: 413 for any body over the limit, 408 for a body not sent in
   time, on every route.

Pure ASGI classes (no per-request task or body buffering), so they cost microseconds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from random import getrandbits
from typing import TYPE_CHECKING, Any

import orjson
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ApiError, InternalServerError, RequestTooLargeError
from .deadlines import Deadlines
from .faults import is_store_fault, is_too_large, too_large_error, unavailable_error
from .limits import RateLimitMiddleware
from .logs import ACCESS_LOGGER
from .metrics import Metrics

if TYPE_CHECKING:
    from .app import ServerSettings

access_log = logging.getLogger(ACCESS_LOGGER)
error_log = logging.getLogger("openusage.server")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
DEFAULT_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def security_headers(csp: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"content-security-policy", csp.encode()),
    ]


def envelope(err: ApiError) -> bytes:
    return orjson.dumps(err.to_envelope())


async def send_error(send: Send, err: ApiError, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = envelope(err)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    headers += [(k.lower().encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status or 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def route_label(scope: Scope) -> str:
    """The route template that answered (bounded label), or ``other``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "other"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics | None = None, csp: str = DEFAULT_CSP,
                 log_requests: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.headers = security_headers(csp)
        self.https_headers = [(b"strict-transport-security", b"max-age=31536000")]
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        # not uuid4: an id needs to be unique, not secret, and os.urandom is a syscall per request
        rid = incoming if _REQUEST_ID.match(incoming) else f"req_{getrandbits(128):032x}"
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = rid
        started = time.perf_counter()
        info = {"status": 500, "bytes": 0, "started": False}
        extra = self.headers + self.https_headers if scope.get("scheme") == "https" else self.headers
        api = scope["path"].startswith("/v1/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                info["status"] = message["status"]
                info["started"] = True
                # on the raw list (headers are lower case in ASGI): no MutableHeaders per answer
                headers = message["headers"] = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                if b"x-request-id" not in present:  # a proxied upstream's own id is kept
                    headers.append((b"x-request-id", rid.encode("latin-1")))
                headers += [(k, v) for k, v in extra if k not in present]
                if api and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
            elif message["type"] == "http.response.body":
                info["bytes"] += len(message.get("body", b""))
            await send(message)

        if self.metrics is not None:
            self.metrics.inflight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if info["started"]:
                error_log.exception("error after the answer started", extra={"request_id": rid})
                raise
            err: ApiError
            if is_too_large(exc):
                error_log.warning("%s", exc, extra={"request_id": rid, "path": scope["path"]})
                err = too_large_error(exc)
            elif is_store_fault(exc):
                error_log.error("store unavailable: %s: %s", type(exc).__name__, str(exc)[:500],
                                extra={"request_id": rid, "path": scope["path"]})
                if self.metrics is not None:
                    self.metrics.store_errors.inc()
                err = unavailable_error()
            else:
                error_log.exception("unhandled error", extra={"request_id": rid, "path": scope["path"]})
                err = InternalServerError(f"The server had an error while processing your request ({rid}).")
            await send_error(send_wrapper, err)
        finally:
            seconds = time.perf_counter() - started
            status = int(info["status"])
            route = route_label(scope)
            if self.metrics is not None:
                self.metrics.inflight.dec()
                self.metrics.observe(route, scope["method"], status, seconds)
            if self.log_requests and access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s", scope["method"], scope["path"], status,
                    extra={"request_id": rid, "method": scope["method"], "path": scope["path"], "route": route,
                           "status": status, "duration_ms": round(seconds * 1000, 3), "bytes": info["bytes"],
                           "key_id": state.get("key_id"),
                           "client": scope["client"][0] if scope.get("client") else None},
                )


class BodyLimitMiddleware:
    """413 for bodies over ``limit`` bytes, declared (content-length) or streamed (chunked); 408
    when the whole body takes longer than ``timeout`` seconds (a client trickling bytes holds a
    connection and a task for as long as it likes otherwise)."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float | None = None) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout
        self.deadlines = Deadlines()
        """Every request's body deadline, checked together (:mod:`.deadlines`): a 408 comes up to an
        eighth of ``timeout`` (at most 1 s) after it."""

    def _late(self) -> ApiError:
        return ApiError(f"The request body was not received within {self.timeout:g} s.", status=408,
                        type="invalid_request_error", code="request_timeout", headers={"connection": "close"})

    def _error(self) -> RequestTooLargeError:
        return RequestTooLargeError(f"The request body is larger than {self.limit} bytes; send smaller batches.",
                                    code="request_too_large")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await send_error(send, self._error(), [(b"connection", b"close")])
            return
        seen = 0
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout is None else loop.time() + self.timeout

        async def limited_receive() -> Message:
            nonlocal seen, deadline
            if deadline is None:  # no bound, or the body is complete (later reads wait for a disconnect)
                message = await receive()
            else:
                message = await _before(self.deadlines, deadline - loop.time(), receive, self._late)
            if message["type"] != "http.request" or not message.get("more_body", False):
                deadline = None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise self._error()
            return message

        await self.app(scope, limited_receive, send)


class _BodyWait:
    """One wait for a request's body: cancels the waiting task when the deadline passes, and says so."""

    __slots__ = ("expired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.expired = False

    def __call__(self) -> None:
        self.expired = True
        self.task.cancel()


async def _before(deadlines: Deadlines, seconds: float, receive: Receive, late: Callable[[], ApiError]) -> Message:
    """``await receive()``, cancelled after ``seconds`` and then raising ``late()``.

    What ``asyncio.timeout`` does, without a timer armed and cancelled per body: the deadline is one
    entry among every request's in :class:`Deadlines` (an immediate ``receive()`` measured 5.2-6.7 µs
    under ``asyncio.timeout_at``, 3.7-4.4 µs with a bare timer, load 7; every request with a body passes
    here).  A cancellation that is not the deadline's passes through."""
    task = asyncio.current_task()
    assert task is not None
    cancelling = task.cancelling()
    wait = _BodyWait(task)
    here = deadlines.here()
    here.arm(wait, seconds, wait)
    try:
        return await receive()
    except asyncio.CancelledError:
        if wait.expired and task.uncancel() <= cancelling:
            raise late() from None
        raise
    finally:
        here.disarm(wait)


def build_middleware(settings: ServerSettings, metrics: Metrics | None) -> list[Middleware]:
    """The standard stack for ``settings``, outermost first."""
    stack = [Middleware(RequestContextMiddleware, metrics=metrics, csp=settings.content_security_policy,
                        log_requests=settings.access_log)]
    if settings.cors_origins:
        stack.append(Middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id", "retry-after", "x-ratelimit-limit-requests",
                            "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"],
            max_age=600,
        ))
    if settings.rate_limit:
        stack.append(Middleware(RateLimitMiddleware, rate=settings.rate_limit, burst=settings.rate_burst,
                                on_limited=metrics.rate_limited.inc if metrics is not None else None))
    stack.append(Middleware(BodyLimitMiddleware, limit=settings.max_body_bytes,
                            timeout=getattr(settings, "body_timeout", None)))
    return stack
