"""A lean HTTP/1.1 keep-alive transport for ``httpx.AsyncClient``: asyncio protocol + ``httptools``.

Why: measured on this project's 2-core machine, httpx's default transport (httpcore on anyio) costs
about 540 µs of CPU per request, against about 110 µs for all of ``httpx.AsyncClient`` above it; at
that price the proxy cannot reach its target of 1,500 requests/s.  This transport keeps httpx's
client API (requests, responses, streaming, timeouts, exceptions) and replaces only the connection
layer: per upstream host a list of idle keep-alive connections, each an ``asyncio.Protocol`` whose
bytes go straight into ``httptools``' C response parser (the one uvicorn uses for requests).

Does it still earn its place?  Measured again after the server's own costs were cut (uvicorn's httptools
protocol instead of h11, a leaner middleware path): the same server under 32 connections of chat
completions, load average 4.5, two rounds each, switching only ``ProxySettings.transport``: this transport
187 and 186 µs of CPU per request (2,890 and 3,095 requests/s), httpx's own 2,397 and 2,381 µs (305 and
379 requests/s; where httpx spends it was not profiled further).  It stays.

Measured again on 2026-12-01 with ``python bench/bench_proxy.py --quick --transport httpx`` against the
default (``--transport fast``), alternating, two runs each, load average 10.3 to 11.2 on the shared
2-core machine: httpx's own client 1,532 and 3,207 µs of server CPU per proxied request (227 and 77
requests/s, added latency p50 7.7 and 1.2 ms), this transport 193 and 189 µs (2,000 and 1,752
requests/s, added p50 0.59 and 0.43 ms).  It still wins by an order of magnitude; it stays.

Scope, deliberately small: HTTP/1.1 only (model servers speak it; no HTTP/2), one request at a time
per connection, TLS through the standard ``ssl`` module.  A connection goes back to the pool only
when its answer was read to the end and the server allows keep-alive.  A request on a reused
connection that the server closed before sending a single byte back is retried once on a fresh
connection (the server never saw it, as with Go's net/http).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx

from ..server.deadlines import Deadlines, LoopDeadlines

READ_PAUSE_BYTES = 1 << 20
"""Stop reading from the upstream while this much is buffered for a slow client."""


class _Stale(Exception):
    """A reused connection closed before answering: safe to send the request again."""


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class _Conn(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, deadlines: LoopDeadlines) -> None:
        self.loop = loop
        self.deadlines = deadlines
        self.fire = self._timed_out
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self.parser = httptools.HttpResponseParser(self)
        self._begin()

    def _begin(self) -> None:
        """Ready for the next answer.  The parser is kept: after a complete message it parses the next
        one on the same keep-alive connection, so a reused connection allocates no new one."""
        self.headers: list[tuple[bytes, bytes]] = []
        self.status = 0
        self.head_done: asyncio.Future[None] = self.loop.create_future()
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.complete = False
        self.keep_alive = True
        self.got_bytes = False
        self.error: BaseException | None = None
        self.no_body = False

    # -- asyncio.Protocol ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"invalid HTTP answer from upstream: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.complete:
            return
        if self.head_done.done() and not self._framed():
            self.complete = True  # a body delimited by the connection closing
            self._wake()
        elif not self.got_bytes and self.reused:
            self._fail(_Stale())
        else:
            self._fail(httpx.RemoteProtocolError("the upstream closed the connection before the answer ended"))

    # -- httptools callbacks -----------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        if self.no_body or self.status in (204, 304):
            self.complete = True
            self.keep_alive = False  # the parser would wait for a body it will never get
        if not self.head_done.done():
            self.head_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(bytes(body))
        self.buffered += len(body)
        if self.buffered > READ_PAUSE_BYTES and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # -- helpers -----------------------------------------------------------------------------------
    def _framed(self) -> bool:
        names = {k.lower() for k, _ in self.headers}
        return b"content-length" in names or b"transfer-encoding" in names

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        if not self.head_done.done():
            self.head_done.set_exception(exc)
            self.head_done.exception()  # mark retrieved: the caller may already be gone
        self._wake()
        if self.transport is not None:
            self.transport.close()

    def take(self) -> bytes:
        data = b"".join(self.chunks) if len(self.chunks) > 1 else self.chunks[0]
        self.chunks.clear()
        self.buffered = 0
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return data

    def _timed_out(self) -> None:
        """The read timeout passed: fail what is awaited (more of the body, or the answer's head)."""
        if self.waiter is not None:
            _expire(self.waiter)
        else:
            _expire(self.head_done)

    async def wait_data(self, timeout: float | None) -> None:
        """Wait for more of the body; TimeoutError after ``timeout`` seconds of silence."""
        self.waiter = waiter = self.loop.create_future()
        if timeout is not None:
            self.deadlines.arm(self, timeout, self.fire)
        try:
            await waiter
        finally:
            self.waiter = None
            if timeout is not None:
                self.deadlines.disarm(self)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed and self.error is None


class _Body(httpx.AsyncByteStream):
    def __init__(self, conn: _Conn, pool: FastTransport, key: tuple[str, str, int], request: httpx.Request | None,
                 read_timeout: float | None) -> None:
        self.conn, self.pool, self.key, self.request, self.timeout = conn, pool, key, request, read_timeout
        self.released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self.conn
        while True:
            if conn.chunks:
                yield conn.take()
                continue
            if conn.complete:
                return
            if conn.error is not None:
                raise httpx.RemoteProtocolError(str(conn.error) or "upstream connection lost", request=self.request)
            try:
                await conn.wait_data(self.timeout)
            except TimeoutError:
                conn.close()
                raise httpx.ReadTimeout("timed out reading the upstream's answer", request=self.request) from None

    async def aclose(self) -> None:
        if self.released:
            return
        self.released = True
        if self.conn.reusable and not self.conn.chunks:
            self.pool.release(self.key, self.conn)
        else:
            self.conn.close()


class Answer:
    """An upstream answer as :meth:`FastTransport.send_raw` gives it: the part of ``httpx.Response`` the
    proxy uses, without building one (its header normalisation and byte-stream layers cost ~20 µs)."""

    __slots__ = ("_body", "raw_headers", "status_code")

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], body: _Body) -> None:
        self.status_code = status_code
        self.raw_headers = raw_headers
        self._body = body

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header (``name`` in lower case)."""
        for k, v in self.raw_headers:
            if k.lower() == name:
                return v
        return None

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._body.__aiter__()

    async def aread(self) -> bytes:
        """The whole body: waits on the connection directly (no async generator per answer)."""
        body = self._body
        conn = body.conn
        parts: list[bytes] = []
        while True:
            if conn.chunks:
                parts.append(conn.take())
            elif conn.complete:
                return parts[0] if len(parts) == 1 else b"".join(parts)
            elif conn.error is not None:
                raise httpx.RemoteProtocolError(str(conn.error) or "upstream connection lost", request=body.request)
            else:
                try:
                    await conn.wait_data(body.timeout)
                except TimeoutError:
                    conn.close()
                    raise httpx.ReadTimeout("timed out reading the upstream's answer", request=body.request) from None

    async def aclose(self) -> None:
        await self._body.aclose()


def _timeout(request: httpx.Request, name: str) -> float | None:
    value = request.extensions.get("timeout", {}).get(name)
    return value if isinstance(value, (int, float)) else None


class FastTransport(httpx.AsyncBaseTransport):
    """Pooled HTTP/1.1 connections per (scheme, host, port)."""

    def __init__(self, max_idle_per_host: int = 1000, ssl_context: ssl.SSLContext | None = None) -> None:
        self.max_idle = max_idle_per_host
        self._idle: dict[tuple[str, str, int], list[_Conn]] = {}
        self._ssl = ssl_context
        self.opened = 0
        self._parts: dict[int, tuple[httpx.URL, tuple[str, str, int], bytes]] = {}
        self._deadlines = Deadlines()
        """Read timeouts, checked together (not a timer armed and cancelled per request)."""

    def release(self, key: tuple[str, str, int], conn: _Conn) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) < self.max_idle:
            conn._begin()
            conn.reused = True
            idle.append(conn)
        else:
            conn.close()

    async def _connect(self, key: tuple[str, str, int], timeout: float | None) -> _Conn:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        ctx: Any = None
        if scheme == "https":
            ctx = self._ssl or ssl.create_default_context()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Conn(loop, self._deadlines.here()), host, port, ssl=ctx,
                                       server_hostname=host if ctx else None),
                timeout)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:
            raise httpx.ConnectError(f"could not connect to {host}:{port}: {exc}") from None
        self.opened += 1
        return conn

    async def _acquire(self, key: tuple[str, str, int], timeout: float | None) -> _Conn:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return await self._connect(key, timeout)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"transfer-encoding"]
        if len(headers) < len(request.headers.raw):
            headers.append((b"content-length", str(len(body)).encode()))
        try:
            answer = await self.send_raw(request.method.encode(), request.url, headers, body,
                                         _timeout(request, "connect"), _timeout(request, "read"), request)
        except httpx.HTTPError as exc:
            exc.request = request
            raise
        return httpx.Response(answer.status_code, headers=answer.raw_headers, stream=answer._body,
                              extensions={"http_version": b"HTTP/1.1"})

    async def send_raw(self, method: bytes, url: httpx.URL, headers: list[tuple[bytes, bytes]], body: bytes,
                       connect_timeout: float | None, read_timeout: float | None,
                       request: httpx.Request | None = None) -> Answer:
        """Send a request given as raw parts, as they go on the wire (``headers`` without ``Host``; the
        caller frames the body with ``content-length``).  The proxy calls this directly: building an
        ``httpx.Request`` and going through ``AsyncClient.send`` cost a fifth of its CPU per request."""
        parts = self._parts.get(id(url))
        if parts is not None and parts[0] is url:
            key, line = parts[1], parts[2]
        else:
            key, line = self._url_parts(url)
        head = [method, line]
        for k, v in headers:
            if k == b"host" or k == b"Host":
                continue
            head += [k, b": ", v, b"\r\n"]
        payload = b"".join(head) + b"\r\n" + body
        for attempt in (0, 1):
            conn = await (self._acquire(key, connect_timeout) if attempt == 0 else self._connect(key, connect_timeout))
            conn.no_body = method == b"HEAD"
            assert conn.transport is not None
            conn.transport.write(payload)
            if read_timeout is not None:
                conn.deadlines.arm(conn, read_timeout, conn.fire)
            try:
                await conn.head_done
            except _Stale:
                if attempt == 0:
                    continue
                raise httpx.RemoteProtocolError("the upstream closed the connection", request=request) from None
            except TimeoutError:
                conn.close()
                raise httpx.ReadTimeout("timed out waiting for the upstream's answer", request=request) from None
            except httpx.HTTPError as exc:
                if request is not None:  # the proxy's own calls have no httpx.Request to name
                    exc.request = request
                raise
            except asyncio.CancelledError:
                conn.close()
                raise
            finally:
                if read_timeout is not None:
                    conn.deadlines.disarm(conn)
            return Answer(conn.status, conn.headers, _Body(conn, self, key, request, read_timeout))
        raise AssertionError("unreachable")

    def _url_parts(self, url: httpx.URL) -> tuple[tuple[str, str, int], bytes]:
        """The pool key and `` <path> HTTP/1.1 / host`` lines of a URL, kept while the URL object lives in
        the cache (the proxy reuses one per metered path: httpx.URL's properties cost microseconds each)."""
        scheme = url.scheme
        key = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        line = b" " + url.raw_path + b" HTTP/1.1\r\nhost: " + url.netloc + b"\r\n"
        if len(self._parts) >= 4096:
            self._parts.clear()
        self._parts[id(url)] = (url, key, line)  # the URL is held, so its id is not reused meanwhile
        return key, line

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
