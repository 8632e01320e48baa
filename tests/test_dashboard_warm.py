"""``openusage serve`` warms itself up for the dashboard's first view beside its start: the default view's
questions answered once, so the first visitor's answers are as quick as later ones.  The server answers
at once meanwhile; a usage or costs request arriving before its part of the warm-up is done waits for it
rather than paying the same costs beside it.  A warm-up that fails is logged and lets everything through.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import httpx
import pytest

from openusage.dashboard.warm import WarmUp, first_view_queries
from openusage.server.app import ServerSettings, create_app
from openusage.store import Store, open_store

from .conftest import ADMIN_KEY, run_uvicorn, stop_uvicorn
from .procserver import ServerProcess

WARMED = "warmed up for the dashboard in"
COMPLETIONS = "/v1/organization/usage/completions"
COSTS = "/v1/organization/costs"


def path_of(name: str) -> str:
    return COSTS if name == "costs" else f"/v1/organization/usage/{name}"


def test_openusage_serve_warms_up_without_being_asked(tmp_path: Path) -> None:
    with ServerProcess(str(tmp_path / "usage.duckdb"), tmp_path, args=("--demo", "--log-level", "info")) as srv:
        deadline = time.monotonic() + 60
        while WARMED not in srv.log_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        lines = srv.log_text().splitlines()
        assert [line for line in lines if WARMED in line], lines
        assert not [line for line in lines if "openusage.access" in line and "/v1/" in line]  # not a request
        # The default view's questions, answered by the warmed server as by any other.
        with srv.client() as c:
            for name, params in first_view_queries(int(time.time())):
                r = c.get(path_of(name), params=params)
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


def test_usage_and_costs_requests_wait_for_their_part_of_the_warm_up(store: Store) -> None:
    """The warm-up's parts are let go by hand here: until then usage and costs requests wait, while
    the health check and the page are answered at once; each request goes on once its part is done."""
    warm = WarmUp()  # never started: its parts are set by the test
    server, thread, port = run_uvicorn(create_app(store, ServerSettings(admin_key=ADMIN_KEY,
                                                                        middleware=[warm.middleware()])))
    url = f"http://127.0.0.1:{port}"
    answers: dict[str, int] = {}

    def ask(name: str) -> None:
        params = dict(first_view_queries(int(time.time())))[name]
        r = httpx.get(url + path_of(name), params=params, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                      timeout=30)
        answers[name] = r.status_code

    try:
        askers = {name: threading.Thread(target=ask, args=(name,)) for name in ("completions", "costs")}
        for t in askers.values():
            t.start()
        assert httpx.get(url + "/healthz", timeout=5).status_code == 200
        assert httpx.get(url + "/", timeout=5).status_code == 200
        time.sleep(0.3)
        assert answers == {}  # both held
        warm.usage.set()
        askers["completions"].join(timeout=10)
        time.sleep(0.2)
        assert answers == {"completions": 200}  # costs still held
        warm.costs.set()
        askers["costs"].join(timeout=10)
        assert answers == {"completions": 200, "costs": 200}
    finally:
        warm.usage.set()
        warm.costs.set()
        stop_uvicorn(server, thread)


def test_a_warm_up_that_fails_is_logged_and_lets_everything_through(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    store = open_store(str(tmp_path / "usage.duckdb"))
    warm = WarmUp()
    app = create_app(store, ServerSettings(admin_key=ADMIN_KEY, middleware=[warm.middleware()]))
    store.close()  # every question now fails
    with caplog.at_level(logging.WARNING, logger="openusage.server"):
        warm.start(app)
        warm.join(timeout=30)
    assert warm.seconds is None
    assert warm.usage.is_set() and warm.costs.is_set()
    assert "warm-up for the dashboard skipped" in caplog.text
