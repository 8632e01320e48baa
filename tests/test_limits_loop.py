"""The event loop never waits on the store: with key lookups taking a second, health probes still
answer at once while requests with uncached keys wait in worker threads."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from openusage.auth import create_key
from openusage.server.app import ServerSettings
from tests.conftest import ADMIN_KEY, WrappedStore, new_store, start_server, tls

pytestmark = pytest.mark.timing

DELAY = 1.0


class SlowStore(WrappedStore):
    """A real store whose key and metadata reads take ``DELAY`` seconds, as a slow database's do."""

    lookups = 0

    def get_key(self, key_id: str) -> Any:
        self.lookups += 1
        time.sleep(DELAY)
        return self._store.get_key(key_id)


def test_healthz_answers_while_uncached_keys_wait_on_a_slow_store(tmp_path: Path) -> None:
    real = new_store(tmp_path / "u.duckdb")
    store = SlowStore(real)
    reads = [create_key(real, f"r{i}", "read").secret for i in range(3)]
    admins = [create_key(real, f"a{i}", "admin").secret for i in range(3)]
    server = start_server(store, ServerSettings(admin_key=ADMIN_KEY))  # type: ignore[arg-type]
    calls = [("/v1/organization/usage/completions?start_time=1700000000&end_time=1700086400", k) for k in reads]
    calls += [(path, k) for path, k in zip(("/v1/openusage/keys", "/v1/openusage/prices", "/metrics"), admins,
                                           strict=True)]
    codes: dict[str, int] = {}

    def call(path: str, key: str) -> None:
        r = httpx.get(server.url + path, headers={"Authorization": f"Bearer {key}"}, timeout=30, verify=tls())
        codes[path] = r.status_code

    try:
        threads = [threading.Thread(target=call, args=c) for c in calls]
        started = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(0.3)  # every request is now waiting on its key lookup
        with httpx.Client(base_url=server.url, timeout=30, verify=tls()) as probe:
            probe.get("/healthz")  # the connection itself
            took = []
            for _ in range(5):
                t0 = time.perf_counter()
                assert probe.get("/healthz").status_code == 200
                took.append(time.perf_counter() - t0)
        assert max(took) < 0.1, took
        for t in threads:
            t.join()
        assert time.perf_counter() - started < DELAY * 3  # the lookups ran side by side
        assert store.lookups == 6
        assert set(codes.values()) == {200}, codes
    finally:
        server.stop()
        real.close()
