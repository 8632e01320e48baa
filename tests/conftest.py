"""Shared fixtures: a real openusage server on loopback, over a fresh store."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from openusage.server.app import ServerSettings, create_app
from openusage.store import Store, open_store

ADMIN_KEY = "sk-test-admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """A uvicorn server in a thread; ``url`` is its base URL, ``store`` the store behind it."""

    url: str
    store: Store
    admin_key: str
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.admin_key}"},
                            timeout=60)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_server(store: Store, settings: ServerSettings | None = None) -> LiveServer:
    settings = settings or ServerSettings(admin_key=ADMIN_KEY)
    app = create_app(store, settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    return LiveServer(f"http://127.0.0.1:{port}", store, settings.admin_key or ADMIN_KEY, server, thread)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(str(tmp_path / "usage.duckdb"))
    yield s
    s.close()


@pytest.fixture
def live_server(store: Store) -> Iterator[LiveServer]:
    srv = start_server(store)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for a whole test module (property tests ingest into it many times)."""
    s = open_store(str(tmp_path_factory.mktemp("store") / "usage.duckdb"))
    srv = start_server(s)
    yield srv
    srv.stop()
    s.close()
