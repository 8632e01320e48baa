"""``openusage serve`` warms itself up for the dashboard's first view once it listens: the default view's
questions answered once in the background, so the first visitor's answers are as quick as later ones.
A warm-up that fails is logged and the server serves as it would without it."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from openusage.dashboard.warm import WarmUp, first_view_queries
from openusage.server.app import ServerSettings, create_app
from openusage.store import open_store

from .conftest import ADMIN_KEY
from .procserver import ServerProcess

WARMED = "warmed up for the dashboard in"


def test_openusage_serve_warms_up_without_being_asked(tmp_path: Path) -> None:
    with ServerProcess(str(tmp_path / "usage.duckdb"), tmp_path, args=("--demo", "--log-level", "info")) as srv:
        deadline = time.monotonic() + 60
        while WARMED not in srv.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = srv.log_text()
        assert WARMED in log, log
        asked = [line for line in log.splitlines() if "openusage.access" in line and "/v1/" in line]
        assert asked == []  # not a request: nothing in the access log, the metrics or the limits
        # The default view's questions, answered by the warmed server as by any other.
        with srv.client() as c:
            for name, params in first_view_queries(int(time.time())):
                path = "/v1/organization/costs" if name == "costs" else f"/v1/organization/usage/{name}"
                r = c.get(path, params=params)
                assert r.status_code == 200, r.text
                assert len(r.json()["data"]) == 30
        assert srv.terminate() == 0


def test_first_view_queries_are_the_default_views_over_the_last_30_days() -> None:
    now = 1_796_200_000  # 2026-12-02 08:26:40 UTC
    end = 1_796_256_000  # the end of that day
    assert first_view_queries(now) == [
        ("completions", [("start_time", str(end - 30 * 86400)), ("end_time", str(end)), ("bucket_width", "1d"),
                         ("limit", "31")]),
        ("costs", [("start_time", str(end - 30 * 86400)), ("end_time", str(end)), ("bucket_width", "1d"),
                   ("limit", "180"), ("group_by", "line_item")]),
    ]


def test_a_warm_up_that_fails_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = open_store(str(tmp_path / "usage.duckdb"))
    app = create_app(store, ServerSettings(admin_key=ADMIN_KEY))
    store.close()  # every question now fails

    async def warm_up() -> WarmUp:
        w = WarmUp(app)
        await w.wait()  # never started: returns at once
        w.start()
        await w.wait()
        return w

    with caplog.at_level(logging.WARNING, logger="openusage.server"):
        w = asyncio.run(warm_up())
    assert w.seconds is None
    assert "warm-up for the dashboard skipped" in caplog.text
