"""The ASGI application.  Every route is registered here, in one list, top to bottom.

* ``GET /v1/organization/usage/*`` and ``GET /v1/organization/costs``: generated from
  :data:`openusage.spec.ENDPOINTS`;
* ``POST /v1/usage/events``: ingestion (JSON or NDJSON), acknowledged once durable;
* ``/v1/openusage/keys``: key management for admin keys;
* ``GET /healthz``, ``GET /readyz``, ``GET /openapi.json``.
"""

from __future__ import annotations

import hashlib
import logging
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..auth import KeyRing, Principal, create_key, require
from ..errors import (
    ApiError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    RequestTooLargeError,
    invalid,
)
from ..ingest.events import (
    SERVER_MAX_FUTURE_S,
    SERVER_MAX_MONTHS,
    SERVER_MIN_TIME,
    EventBatch,
    IngestLimits,
    decode_json,
    decode_ndjson,
)
from ..pricing.routes import price_routes
from ..service import UsageService
from ..spec import ENDPOINTS, Endpoint
from ..store.base import Store
from ..store.writer import Writer
from .backup_routes import backup_routes
from .compress import GZIP_MIN_BYTES, accepts_gzip, gzip_parts
from .limits import Gate, RateLimitMiddleware, authenticated, bearer_token, release_memory_promptly
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import Metrics
from .middleware import DEFAULT_CSP, build_middleware
from .openapi import openapi_document
from .otlp_routes import otlp_routes
from .responses import JSONBytes, PartsResponse, error_response, json_response

log = logging.getLogger("openusage.server")

Handler = Callable[[Request], Awaitable["Response | Releasing"]]


@dataclass
class ServerSettings:
    """Everything the server needs, built by the CLI (or a test) and handed over whole."""

    max_body_bytes: int = 32 * 1024 * 1024
    admin_key: str | None = None
    """An admin key accepted besides stored ones (``OPENUSAGE_ADMIN_KEY``)."""
    extra_routes: list[Route] = field(default_factory=list)
    """Routes added by optional parts (the metering proxy, the dashboard)."""
    dashboard: bool = True
    """Serve the web dashboard at ``/`` (:mod:`openusage.dashboard`)."""
    middleware: list[Middleware] = field(default_factory=list)
    """More ASGI middleware, outermost first, inside the standard stack of :mod:`.middleware`."""
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Awaited at shutdown before the writer drains (the proxy hands over its gathered events)."""
    rate_limit: float | None = None
    """Requests per second allowed per API key (None: unlimited); over it, 429 with retry-after."""
    rate_burst: int | None = None
    """Requests a key may send at once before the rate applies (default: the rate, at least 1)."""
    cors_origins: tuple[str, ...] = ()
    """Browser origins allowed to call the API (CORS); empty: no cross-origin access."""
    local_admin_key: str | None = None
    """An admin key for this process's lifetime, handed to local commands in the runtime file."""
    body_timeout: float | None = None
    """Seconds a client has to send a whole request body (None: no limit); 408 beyond."""
    access_log: bool = True
    """One log line per request (logger ``openusage.access``); its format is set by the CLI."""
    metrics_public: bool = False
    """Serve ``/metrics`` without a key (otherwise an admin key is needed)."""
    content_security_policy: str = DEFAULT_CSP
    redis_url: str | None = None
    """Keep the rate-limit and failed-authentication buckets in this Redis, so they hold across workers
    (default: per worker)."""
    auth_failures_per_minute: int = 30
    """Failed authentications allowed per client address a minute; beyond, unknown keys get 429
    without a store lookup."""
    max_concurrent_queries: int = 4
    """Usage and costs queries one key may run at once (429 with retry-after beyond)."""
    max_page_results: int = 100_000
    """Results one page may hold; a page ends at the bucket edge before the bound (``has_more``)."""
    gzip_min_bytes: int = GZIP_MIN_BYTES
    """Usage and costs pages at least this long are gzip-compressed for clients that accept it (0: never;
    :mod:`.compress`)."""
    revalidate_keys: bool | None = None
    """Read a key's record on every request so a revocation counts at once in every worker; None:
    when the store is shared by several processes (PostgreSQL, ClickHouse; not DuckDB or chdb)."""
    otlp_attributes: dict[str, tuple[str, ...]] | None = None
    """Where ``POST /v1/traces`` reads project, user and key (default: ``otlp.DEFAULT_ATTRIBUTES``)."""
    ingest_min_time: int = SERVER_MIN_TIME
    """Earliest event timestamp accepted by ingestion (Unix seconds; default 2015-01-01)."""
    ingest_max_future_s: int = SERVER_MAX_FUTURE_S
    """How far past now an ingested timestamp may be (seconds; default a day)."""
    ingest_max_months: int = SERVER_MAX_MONTHS
    """Distinct calendar months one ingest request may touch (each may be a partition to create)."""

    def ingest_limits(self, projects: tuple[str, ...] | None = None) -> IngestLimits:
        """The limits of an ingest request, by a key limited to ``projects`` (None: any project)."""
        return IngestLimits(self.ingest_min_time, self.ingest_max_future_s, self.ingest_max_months,
                            None if projects is None else frozenset(projects))


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress gzip members one after another, refusing output beyond ``limit`` bytes as soon as
    it is reached (a small bomb never expands in memory)."""
    out: list[bytes] = []
    size = 0
    try:
        while data:
            member = zlib.decompressobj(wbits=31)
            while data:
                piece = member.decompress(data, limit + 1 - size)
                size += len(piece)
                if size > limit:
                    raise RequestTooLargeError(f"The request body is larger than {limit} bytes once decompressed; "
                                               "send smaller batches.")
                out.append(piece)
                data = member.unconsumed_tail
            if not member.eof:
                raise invalid(None, "The gzip body is truncated.")
            data = member.unused_data
    except zlib.error as exc:
        raise invalid(None, f"The body is not valid gzip ({exc}).") from None
    return b"".join(out)


def bearer(request: Request) -> str | None:
    return bearer_token(request.headers.raw)


class Releasing:
    """An answer that calls ``release`` once sent, or once sending failed (the client left)."""

    def __init__(self, response: Response, release: Callable[[], None]) -> None:
        self.response = response
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.response(scope, receive, send)
        finally:
            self.release()


class OpenUsageApp:
    """Holds the store, the writer and the key ring; its methods are the route handlers.

    The one :class:`~openusage.server.core.AppCore`: the optional parts (prices, backup, OTLP, the
    metering proxy) are handed it as that interface."""

    def __init__(self, store: Store, settings: ServerSettings | None = None) -> None:
        self.store = store
        self.settings = settings or ServerSettings()
        s = self.settings
        embedded = store.url.startswith(("duckdb:", "chdb:"))  # one process per store: its own cache suffices
        revalidate = s.revalidate_keys if s.revalidate_keys is not None else not embedded
        self.keys = KeyRing(store, env_admin_key=s.admin_key, local_key=s.local_admin_key, revalidate=revalidate)
        self.service = UsageService(store, max_page_results=s.max_page_results)
        self.writer: Writer | None = None
        self.ready = False
        self.metrics = Metrics(store)
        namespace = hashlib.sha256(store.url.encode()).hexdigest()[:16]  # one Redis may serve several stores
        self.gate = Gate(self.keys, rate=s.rate_limit, burst=s.rate_burst, redis_url=s.redis_url, namespace=namespace,
                         auth_failures_per_minute=s.auth_failures_per_minute,
                         max_concurrent_queries=s.max_concurrent_queries,
                         on_limited=self.metrics.rate_limited.inc)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        release_memory_promptly()
        self.writer = Writer(self.store.insert, threads=getattr(self.store, "writer_threads", 1))
        self.ready = True

    def stop(self) -> None:
        self.ready = False
        if self.writer is not None:
            self.writer.close()

    def principal(self, request: Request, scope: str) -> Principal:
        """The caller, if its key has ``scope``.  The gate (:mod:`.limits`) authenticated the request
        before any route ran, looking unknown keys up in a thread, so this never waits on the store."""
        return require(authenticated(request.scope), scope)

    # -- usage endpoints -----------------------------------------------------------------------
    def usage_handler(self, endpoint: Endpoint) -> Handler:
        async def handle(request: Request) -> Response | Releasing:
            principal = self.principal(request, "read")
            items = list(request.query_params.multi_items())
            gzip = self.settings.gzip_min_bytes > 0 and accepts_gzip(request.headers.get("accept-encoding", ""))
            release = self.gate.query_slot(principal)  # held until the answer is sent
            try:
                parts, headers, packed = await run_in_threadpool(self._answer_parts, endpoint, items, principal, gzip)
            except BaseException:
                release()
                raise
            if packed is not None:
                return Releasing(JSONBytes(packed, headers=headers), release)
            if len(parts) == 1:
                return Releasing(JSONBytes(bytes(parts[0]), headers=headers or None), release)
            return Releasing(PartsResponse(parts, headers=headers or None), release)

        handle.__name__ = endpoint.method_name
        return handle

    def _answer_parts(self, endpoint: Endpoint, items: list[tuple[str, str]], principal: Principal,
                      gzip: bool) -> tuple[list[bytes | memoryview], dict[str, str], bytes | None]:
        """A page's pieces and headers, and (when the client accepts gzip and the page is at least
        ``gzip_min_bytes``) the page compressed, in the same worker thread (:mod:`.compress`)."""
        parts, headers = self.service.respond_parts(endpoint, items, principal)
        headers = {**(headers or {}), "vary": "accept-encoding"}
        if gzip and sum(len(p) for p in parts) >= self.settings.gzip_min_bytes:
            return parts, {**headers, "content-encoding": "gzip"}, gzip_parts(parts)
        return parts, headers, None

    # -- ingestion -----------------------------------------------------------------------------
    async def read_body(self, request: Request) -> bytes:
        """The body, at most ``max_body_bytes`` as sent and, when gzip-compressed, once decompressed."""
        limit = self.settings.max_body_bytes
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "", "gzip", "x-gzip"):
            raise ApiError(f"Unsupported content-encoding {encoding!r}: send the body as is or gzip-compressed.",
                           status=415, type="invalid_request_error", param=None, code="unsupported_content_encoding")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestTooLargeError(f"The request body is larger than {limit} bytes; send smaller batches.")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestTooLargeError(f"The request body is larger than {limit} bytes; send smaller batches.")
            chunks.append(chunk)
        body = b"".join(chunks)
        return gunzip(body, limit) if encoding in ("gzip", "x-gzip") else body

    async def ingest(self, request: Request) -> Response:
        principal = self.principal(request, "ingest")
        body = await self.read_body(request)
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        limits = self.settings.ingest_limits(principal.projects)
        if ctype in ("application/x-ndjson", "application/jsonl", "application/jsonlines", "application/ndjson"):
            batch = decode_ndjson(body, limits)
        elif ctype in ("application/json", ""):
            batch = decode_json(body, limits)
        else:
            raise invalid(None, f"Unsupported content type {ctype!r}: send application/json or application/x-ndjson.")
        assert self.writer is not None
        added = await self.write_batch(batch) if len(batch) else 0
        self.metrics.ingested(added, batch.received - added)
        return json_response({"accepted": added, "duplicates": batch.received - added})

    async def write_batch(self, batch: EventBatch) -> int:
        """Commit a batch; values the store itself refuses (a DB-API ``DataError``) are a 400."""
        assert self.writer is not None
        try:
            return await self.writer.write(batch)
        except Exception as exc:
            if any(c.__name__ == "DataError" for c in type(exc).__mro__):
                log.warning("the store refused an ingest request: %s: %s", type(exc).__name__, str(exc)[:300])
                raise invalid(None, "The store refused a value of these events; nothing of this request was "
                                    "stored.") from None
            raise

    # -- keys ----------------------------------------------------------------------------------
    async def keys_list(self, request: Request) -> Response:
        self.principal(request, "admin")
        records = await run_in_threadpool(self.store.list_keys)
        return json_response({"object": "list", "data": [r.public() for r in records]})

    async def keys_create(self, request: Request) -> Response:
        self.principal(request, "admin")
        import orjson

        try:
            data = orjson.loads(await self.read_body(request) or b"{}")
        except orjson.JSONDecodeError:
            raise invalid(None, "The body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise invalid(None, "Send a JSON object: {name, scope, projects}.")
        projects = data.get("projects")
        if projects is not None and (not isinstance(projects, list) or not all(isinstance(p, str) for p in projects)):
            raise invalid("projects", "'projects' must be a list of project ids.")
        try:
            new = await run_in_threadpool(
                create_key, self.store, str(data.get("name") or ""), str(data.get("scope") or "read"), projects
            )
        except ValueError as exc:
            raise invalid("scope", str(exc)) from None
        return json_response({**new.record.public(), "key": new.secret}, status=201)

    async def keys_revoke(self, request: Request) -> Response:
        self.principal(request, "admin")
        key_id = request.path_params["key_id"]
        done = await run_in_threadpool(self.store.revoke_key, key_id, int(time.time()))
        if not done:
            raise NotFoundError(f"No active key with id {key_id!r}.", param="key_id")
        self.keys.forget()
        return json_response({"id": key_id, "object": "openusage.key.deleted", "deleted": True})

    # -- operations ----------------------------------------------------------------------------
    async def healthz(self, request: Request) -> Response:
        return json_response({"status": "ok"} if self.ready else {"status": "starting"}, 200 if self.ready else 503)

    async def readyz(self, request: Request) -> Response:
        try:
            await run_in_threadpool(self.store.get_meta, "schema_version")
        except Exception:  # the store went away
            return json_response({"status": "unavailable"}, 503)
        return await self.healthz(request)

    async def prometheus(self, request: Request) -> Response:
        if not self.settings.metrics_public:
            self.principal(request, "admin")
        body = await run_in_threadpool(self.metrics.render)
        return Response(body, media_type=METRICS_CONTENT_TYPE)

    async def openapi(self, request: Request) -> Response:
        return json_response(openapi_document())

    def routes(self) -> list[Route]:
        routes = [Route(ep.full_path, self.usage_handler(ep), methods=["GET"]) for ep in ENDPOINTS]
        routes += [
            Route("/v1/usage/events", self.ingest, methods=["POST"]),
            Route("/v1/openusage/keys", self.keys_list, methods=["GET"]),
            Route("/v1/openusage/keys", self.keys_create, methods=["POST"]),
            Route("/v1/openusage/keys/{key_id}", self.keys_revoke, methods=["DELETE"]),
            *price_routes(self),
            *backup_routes(self),
            *otlp_routes(self),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.prometheus, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
        ]
        if self.settings.dashboard:
            from ..dashboard import dashboard_routes

            routes += dashboard_routes()
        return routes + self.settings.extra_routes


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err: ApiError = NotFoundError(f"Invalid URL ({request.method} {request.url.path})")
    elif exc.status_code == 405:
        err = MethodNotAllowedError(f"Method {request.method} is not allowed on {request.url.path}.")
        err.headers = dict(exc.headers or {})
    else:
        err = ApiError(str(exc.detail), status=exc.status_code, type="invalid_request_error")
    return error_response(err)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(InternalServerError("The server had an error while processing your request."))


def create_app(store: Store, settings: ServerSettings | None = None) -> Starlette:
    """The ASGI app over ``store``; the writer thread runs while the app's lifespan does."""
    core = OpenUsageApp(store, settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        core.start()
        try:
            yield
        finally:
            for hook in core.settings.on_shutdown:
                await hook()
            core.stop()

    app = Starlette(
        routes=core.routes(),
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _server_error},
        # The gate runs once a request, wherever the standard stack places the limiter.
        middleware=[*build_middleware(core.settings, core.metrics), Middleware(RateLimitMiddleware, gate=core.gate),
                    *core.settings.middleware],
        lifespan=lifespan,
    )
    app.state.core = core
    return app
