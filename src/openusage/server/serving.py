"""Running the ASGI app under uvicorn, with the bounds a public socket needs.

* :func:`bind` opens the listening socket before anything else happens, so a port in use is one
  clear error and nothing (no key, no banner) is spent on a server that cannot start;
* :func:`guarded_protocol` is uvicorn's httptools protocol (llhttp in C; profiled under load, the
  pure-Python h11 one took about as much CPU as the whole application) with a deadline for request
  headers, a 16 KiB cap on them (400 beyond, as h11 had) and a cap on open connections: a client that
  trickles headers
  (slowloris) is closed after ``header_timeout`` seconds (checked with every connection's, by one
  periodic timer: :mod:`.deadlines`), and when the cap is reached the connection
  that has waited longest for its headers makes room, so stalled clients can never lock others out or
  exhaust descriptors;
* :class:`Server` is uvicorn's server that exits 0 after a graceful SIGTERM/SIGINT (uvicorn
  re-raises the signal, which makes a clean stop look like a kill) and calls hooks once it
  listens and once it has stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import resource
import signal
import socket
import threading
import time
from collections.abc import Callable, Generator

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .deadlines import Deadlines, LoopDeadlines

log = logging.getLogger("openusage.server")

FD_RESERVE = 128
"""Descriptors kept for the store, log files, upstream connections and the listening socket."""
MAX_HEAD_BYTES = 16 * 1024
"""Request line and headers larger than this are refused with 400 (h11's bound)."""


class PortInUse(Exception):
    """The address is taken (another server, or a previous one still in TIME_WAIT with no reuse)."""


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on ``host:port``; :class:`PortInUse` or ``OSError`` otherwise."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"{host}:{port} is already in use") from None
        raise
    return sock


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft descriptor limit towards ``wanted`` (never past the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return wanted if soft == resource.RLIM_INFINITY else soft


def connection_budget(max_connections: int) -> tuple[int, int]:
    """The connection cap the descriptor limit allows, and that limit (raised when possible)."""
    limit = raise_fd_limit(max_connections + FD_RESERVE)
    return max(1, min(max_connections, limit - FD_RESERVE)), limit


def guarded_protocol(header_timeout: float, max_connections: int) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, closing connections whose request headers take longer than
    ``header_timeout`` seconds or exceed :data:`MAX_HEAD_BYTES`, and keeping at most
    ``max_connections`` open."""

    deadlines = Deadlines()  # one per server: every connection's header deadline, checked together

    class GuardedProtocol(HttpToolsProtocol):
        _armed = False
        _deadlines: LoopDeadlines
        _waiting_since = 0.0
        _head_bytes = 0
        _begun = False

        def _in_request(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _arm(self) -> None:
            self._waiting_since = time.monotonic()
            self._armed = True
            self._deadlines.arm(self, header_timeout, self._headers_overdue)

        def _disarm(self) -> None:
            if self._armed:
                self._armed = False
                self._deadlines.disarm(self)

        def _headers_overdue(self) -> None:
            self._armed = False
            if not self._in_request():  # still no complete request line and headers
                self.transport.abort()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._deadlines = deadlines.here()
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                idle = [c for c in self.connections if c is not self and isinstance(c, GuardedProtocol)
                        and not c._in_request()]
                if not idle:  # every connection is busy with a request: refuse the newcomer
                    transport.abort()
                    return
                min(idle, key=lambda c: c._waiting_since).transport.abort()
            self._arm()

        def data_received(self, data: bytes) -> None:
            busy = self._in_request()
            if not busy and not self._armed:
                self._arm()  # the first bytes of a request on a kept-alive connection
            if not busy or self._begun:  # headers being read (a pipelined request's too)
                self._head_bytes += len(data)
            super().data_received(data)
            if self._head_bytes > MAX_HEAD_BYTES and self._begun and not self.transport.is_closing():
                if self._in_request():  # a pipelined request's: an answer is under way, no room for a 400
                    self.transport.close()
                else:
                    self.send_400_response("Request headers too large.")

        def on_message_begin(self) -> None:
            self._begun = True
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._begun = False
            self._head_bytes = 0
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            self._disarm()  # until the next request starts, the keep-alive timeout applies
            self._waiting_since = time.monotonic()
            super().on_response_complete()
            if not self._in_request() and self._begun:
                self._arm()  # part of a pipelined request already arrived: its headers are due

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedProtocol


class Server(uvicorn.Server):
    """uvicorn's server with start and stop hooks, exiting normally after a graceful stop."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.on_started = on_started
        self.signalled: int | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit and self.on_started is not None:
            self.on_started()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Stop gracefully on SIGTERM/SIGINT, without re-raising the signal afterwards."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        sigs = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in sigs}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self._captured_signals:
            self.signalled = self._captured_signals[-1]
