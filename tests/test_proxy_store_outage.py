"""Proxied usage waits out a store outage: the recorder retries, and nothing is lost or doubled.

PostgreSQL is reached through a TCP relay on loopback that the test cuts (every connection closed,
new ones refused) and restores, as a network partition or a database restart would.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from openusage.proxy.recorder import Recorder
from openusage.store import open_store
from openusage.store.writer import Writer
from tests.storeconf import PG_BASE, drop_schema, require_pg, unique_schema


class Relay:
    """Forwards loopback connections to PostgreSQL until cut."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            server = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        self.open = False
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.sockets.clear()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def event(i: int) -> dict[str, object]:
    return {"id": f"pxy-outage-{uuid.uuid4().hex}-{i}", "type": "completions", "timestamp": time.time(),
            "project_id": "proj_outage", "input_tokens": i}


async def until(check, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def test_usage_recorded_after_the_store_comes_back(tmp_path: Path) -> None:
    require_pg()
    base = urlsplit(PG_BASE)
    relay = Relay(base.hostname or "127.0.0.1", base.port or 5432)
    schema = unique_schema()
    netloc = f"{base.username}@127.0.0.1:{relay.port}" if base.username else f"127.0.0.1:{relay.port}"
    store = open_store(urlunsplit((base.scheme, netloc, base.path, f"schema={schema}", "")))
    writer = Writer(store.insert)
    recorder = Recorder(lambda: writer, flush_after=0.02)
    try:
        async def run() -> None:
            for i in range(50):
                recorder.record(event(i))
            assert await until(lambda: recorder.recorded == 50, 20)
            relay.cut()
            for i in range(50, 120):
                recorder.record(event(i))
                await asyncio.sleep(0.01)
            await asyncio.sleep(1.5)
            assert (recorder.recorded, recorder.failed) == (50, 0)  # waiting, not dropped
            relay.restore()
            assert await until(lambda: recorder.recorded == 120, 40), (recorder.recorded, recorder.failed)
            await recorder.aclose()

        asyncio.run(run())
        assert recorder.failed == 0
        assert store.count_events() == 120
    finally:
        writer.close()
        store.close()
        relay.close()
        drop_schema(schema)
