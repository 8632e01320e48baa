"""Shared fixtures: an openusage server over a fresh store, in process or on a loopback socket.

Most tests talk HTTP to the app without a socket (:func:`start_app`: httpx over the ASGI app, with
its lifespan, middleware, auth gate and limits exactly as served); tests of what only a socket has
(streaming, client timeouts and disconnects, slowloris, connection caps, other processes and SDKs
that dial a URL) use :func:`start_server`, uvicorn in a thread on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import uvicorn

from openusage.server.app import ServerSettings, create_app
from openusage.store import Store, open_store

ADMIN_KEY = "sk-test-admin"
APP_URL = "http://openusage.test"
"""The base URL of an in-process app: requests to it never leave the process."""
LOOPBACK_CLIENT = ("127.0.0.1", 50000)
"""The client address an in-process app sees: loopback, as every socket test's client is, so
per-address limits (failed authentications) count the same way."""


_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if "PYTEST_XDIST_WORKER" in os.environ:
    # pytest-xdist's workers start with COLUMNS=80 and LINES=24 set; a console created at import
    # (openusage.cli's) would keep that width and ignore the COLUMNS a test sets for one command.
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)

_tls: ssl.SSLContext | None = None


def tls() -> ssl.SSLContext:
    """One TLS context for every test client on a socket: httpx loads the CA bundle for each new
    client otherwise (a tenth of a second on a busy machine), though loopback is plain HTTP."""
    global _tls
    if _tls is None:
        _tls = httpx.create_ssl_context()
    return _tls


def free_port() -> int:
    """A port free now on 127.0.0.1.  Under pytest-xdist each worker takes only its own share of the
    ports (half the port number modulo the worker count is its index: Linux hands odd ports to
    ``bind``), so a port one worker has just found free, and is about to hand to a server it starts,
    is never taken by another worker meanwhile."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if _WORKERS == 1 or (port >> 1) % _WORKERS == _WORKER:
            return port
    raise RuntimeError("no free port for this worker")


def _set_nodeid(item: pytest.Item, nodeid: str) -> None:
    """Give ``item`` another node id: pytest 9 keeps it structured (``_id``), pytest 8 as a string."""
    if hasattr(item, "_id"):
        from _pytest.nodeid import coerce_node_id

        item._id = coerce_node_id(nodeid)
    else:
        item._nodeid = nodeid


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``timing`` (they assert on latencies, deadlines or rates) share one pytest-xdist
    group, so they run one after another on one worker, never against each other. A module whose
    tests share a costly module fixture (a browser and 90 days of demo data, stores on every engine)
    marks itself ``pytest.mark.xdist_group(name)`` so that fixture is built once, not on every
    worker. The group is written into the node id here (``...@timing``, as pytest-xdist's
    ``--dist loadgroup`` reads it), because pytest-xdist's own renaming no longer reaches pytest 9's
    structured ids.

    Items that share a node id (schemathesis makes one item per API operation, all with the test's
    id) get their name in it instead: pytest-xdist schedules by id and would run one of them only."""
    seen: dict[str, int] = {}
    for item in items:
        seen[item.nodeid] = seen.get(item.nodeid, 0) + 1
    grouped = bool(getattr(config.option, "loadgroup", False))
    for item in items:
        if seen[item.nodeid] > 1 and "[" in item.name and "[" not in item.nodeid.rsplit("::", 1)[-1]:
            _set_nodeid(item, item.nodeid.rsplit("::", 1)[0] + "::" + item.name)
        if item.get_closest_marker("timing") is not None:
            item.add_marker(pytest.mark.xdist_group("timing"))
        group = item.get_closest_marker("xdist_group")
        if grouped and group is not None:  # a module's tests sharing one costly module fixture, say
            name = group.args[0] if group.args else group.kwargs.get("name", "default")
            if not item.nodeid.endswith(f"@{name}"):
                _set_nodeid(item, f"{item.nodeid}@{name}")


def errors_in_threads(fn: Callable[[], object], threads: int, timeout: float | None = None) -> list[BaseException]:
    """Run ``fn`` in ``threads`` threads at once and wait for them (each join up to ``timeout``); what
    they raised, for the test to assert on."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # reported to the caller
            errors.append(exc)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join(timeout=timeout)
    return errors


class Server(Protocol):
    """What tests use of a server, whether it listens on a socket or runs in process."""

    url: str
    store: Store
    admin_key: str

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client: ...

    def http(self, **kwargs: Any) -> httpx.Client: ...

    def stop(self) -> None: ...


# -- uvicorn on a socket ----------------------------------------------------------------------------
class StoppableServer(uvicorn.Server):
    """uvicorn's server that stops as soon as asked: its main loop polls ``should_exit`` every 0.1 s,
    which a test suite starting hundreds of servers would wait for each time."""

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0
        while not self.should_exit:
            counter = (counter + 1) % 864000
            try:
                async with asyncio.timeout(0.1):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self.should_exit = self.should_exit or await self.on_tick(counter)

    def request_exit(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._wake is not None:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop has already closed
                pass


def run_uvicorn(app: Any, port: int | None = None, what: str = "server", **config: Any) -> tuple[
        StoppableServer, threading.Thread, int]:
    """Serve ``app`` on 127.0.0.1 (``port``, or a free one) in a daemon thread; returns once it listens."""
    port = port or free_port()
    server = StoppableServer(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on",
                                            **{"log_level": "warning", **config}))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.002)
    return server, thread, port


def stop_uvicorn(server: StoppableServer, thread: threading.Thread) -> None:
    server.request_exit()
    thread.join(timeout=30)


@dataclass
class LiveServer:
    """A uvicorn server in a thread; ``url`` is its base URL, ``store`` the store behind it."""

    url: str
    store: Store
    admin_key: str
    server: StoppableServer
    thread: threading.Thread

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.admin_key}"},
                            **{"timeout": 60, "verify": tls(), **kwargs})

    def http(self, **kwargs: Any) -> httpx.Client:
        """A client with no key."""
        return httpx.Client(base_url=self.url, **{"timeout": 60, "verify": tls(), **kwargs})

    @property
    def app(self) -> Any:
        """The ASGI app served (``app.state.core`` is its :class:`openusage.server.app.OpenUsageApp`)."""
        return self.server.config.app

    def stop(self) -> None:
        stop_uvicorn(self.server, self.thread)


def start_server(store: Store, settings: ServerSettings | None = None) -> LiveServer:
    """The app over ``store`` on a loopback socket."""
    settings = settings or ServerSettings(admin_key=ADMIN_KEY)
    server, thread, port = run_uvicorn(create_app(store, settings))
    return LiveServer(f"http://127.0.0.1:{port}", store, settings.admin_key or ADMIN_KEY, server, thread)


# -- the app in process -----------------------------------------------------------------------------
class LoopThread:
    """An event loop in a daemon thread, for running ASGI apps from synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float | None = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


class AsyncPieces(httpx.AsyncByteStream):
    """A synchronous request body (an iterator of pieces) as the ASGI transport reads it."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


class SyncASGITransport(httpx.BaseTransport):
    """httpx's :class:`httpx.ASGITransport` for a synchronous ``httpx.Client``: each request runs on
    the app's event loop thread and its whole answer is read there (no streaming)."""

    def __init__(self, app: Any, loop: LoopThread, client: tuple[str, int] = LOOPBACK_CLIENT) -> None:
        self.inner = httpx.ASGITransport(app, raise_app_exceptions=False, client=client)
        self.loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):  # a generator: sent piece by piece
            request.stream = AsyncPieces(request.stream)
        timeouts = request.extensions.get("timeout") or {}

        async def exchange() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self.inner.handle_async_request(request)
            return response.status_code, response.headers.raw, b"".join([p async for p in response.aiter_raw()])

        answer = asyncio.run_coroutine_threadsafe(exchange(), self.loop.loop)
        try:
            status, headers, body = answer.result(timeouts.get("read") or 60)
        except TimeoutError:
            answer.cancel()
            raise httpx.ReadTimeout("the app did not answer in time", request=request) from None
        return httpx.Response(status, headers=headers, content=body, request=request)


class AppServer:
    """The app over ``store`` in process, its lifespan running on its own loop thread; the same
    interface as :class:`LiveServer`, with ``url`` reachable only through :meth:`client` or
    :attr:`transport`."""

    url = APP_URL

    def __init__(self, store: Store, settings: ServerSettings | None = None, app: Any = None) -> None:
        settings = settings or ServerSettings(admin_key=ADMIN_KEY)
        self.store = store
        self.admin_key = settings.admin_key or ADMIN_KEY
        self.app = app if app is not None else create_app(store, settings)
        self.loop = LoopThread()
        self.transport = SyncASGITransport(self.app, self.loop)
        self._events: asyncio.Queue[dict[str, Any]] | None = None
        self._replies: asyncio.Queue[dict[str, Any]] | None = None
        self._lifespan: Any = None
        try:
            self.loop.run(self._start(), 30)
        except BaseException:
            self.loop.close()
            raise

    async def _start(self) -> None:
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._events, self._replies = events, replies
        await events.put({"type": "lifespan.startup"})
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self._lifespan = asyncio.get_running_loop().create_task(self.app(scope, events.get, replies.put))
        reply = await replies.get()
        if reply["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the app did not start: {reply.get('message')}")

    async def _stop(self) -> None:
        assert self._events is not None and self._replies is not None
        await self._events.put({"type": "lifespan.shutdown"})
        reply = await self._replies.get()
        await self._lifespan
        if reply["type"] != "lifespan.shutdown.complete":
            raise RuntimeError(f"the app did not stop cleanly: {reply.get('message')}")

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, transport=self.transport,
                            headers={"Authorization": f"Bearer {key or self.admin_key}"}, **{"timeout": 60, **kwargs})

    def http(self, **kwargs: Any) -> httpx.Client:
        """A client with no key (``UsageApi(http_client=...)`` takes one)."""
        return httpx.Client(base_url=self.url, transport=self.transport, **{"timeout": 60, **kwargs})

    def async_http(self, **kwargs: Any) -> httpx.AsyncClient:
        """An async client with no key, running the app on the caller's event loop (the app keeps
        no per-loop state: its writer hands results back through thread-safe futures)."""
        transport = httpx.ASGITransport(self.app, raise_app_exceptions=False, client=LOOPBACK_CLIENT)
        return httpx.AsyncClient(base_url=self.url, transport=transport, **{"timeout": 60, **kwargs})

    def stop(self) -> None:
        try:
            self.loop.run(self._stop(), 60)
        finally:
            self.loop.close()


def start_app(store: Store, settings: ServerSettings | None = None) -> AppServer:
    """The app over ``store`` in process (see :class:`AppServer`)."""
    return AppServer(store, settings)


# -- stores ------------------------------------------------------------------------------------------
_template: Path | None = None


def new_store(path: Path) -> Store:
    """A new, empty DuckDB store at ``path``: a copy of one store migrated once per test process
    (migrating an empty database takes a quarter of a second; copying the file, a few milliseconds).
    Tests of creation and migration themselves call ``open_store`` on a new path instead."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="openusage-template-"))
        atexit.register(shutil.rmtree, folder, True)
        open_store(str(folder / "empty.duckdb")).close()
        _template = folder / "empty.duckdb"
    shutil.copyfile(_template, path)
    return open_store(str(path))


class WrappedStore:
    """A real store with some of its methods redefined by a subclass (to count calls, or to be as
    slow as a busy database); everything else goes to the store itself."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


# -- fixtures ----------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = new_store(tmp_path / "usage.duckdb")
    yield s
    s.close()


@pytest.fixture
def app_server(store: Store) -> Iterator[AppServer]:
    """The app over a fresh store, in process."""
    srv = start_app(store)
    yield srv
    srv.stop()


@pytest.fixture
def live_server(store: Store) -> Iterator[LiveServer]:
    """The app over a fresh store on a loopback socket."""
    srv = start_server(store)
    yield srv
    srv.stop()


def _starter(request: pytest.FixtureRequest, start: Callable[[Store, ServerSettings], Server]) -> Iterator[
        Callable[..., Any]]:
    started: list[Server] = []

    def make(store: Store | None = None, **settings: Any) -> Server:
        srv = start(store if store is not None else request.getfixturevalue("store"),
                    ServerSettings(**{"admin_key": ADMIN_KEY, **settings}))
        started.append(srv)
        return srv

    yield make
    for srv in reversed(started):
        srv.stop()


@pytest.fixture
def make_app(request: pytest.FixtureRequest) -> Iterator[Callable[..., AppServer]]:
    """``make_app(store=None, **settings)``: an in-process app over ``store`` (default: the test's
    fresh ``store``) with these :class:`ServerSettings`; each is stopped after the test."""
    yield from _starter(request, start_app)


@pytest.fixture
def make_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., LiveServer]]:
    """As :func:`make_app`, on a loopback socket."""
    yield from _starter(request, start_server)


@pytest.fixture(scope="module")
def module_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store for a whole test module, for tests that only add what they then look for."""
    s = new_store(tmp_path_factory.mktemp("store") / "usage.duckdb")
    yield s
    s.close()


@pytest.fixture(scope="module")
def module_app_server(module_store: Store) -> Iterator[AppServer]:
    """One in-process app for a whole test module (property tests ingest into it many times)."""
    srv = start_app(module_store)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def module_server(module_store: Store) -> Iterator[LiveServer]:
    """One server on a loopback socket for a whole test module."""
    srv = start_server(module_store)
    yield srv
    srv.stop()
