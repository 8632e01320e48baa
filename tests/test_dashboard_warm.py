"""``openusage serve`` warms itself up for the dashboard's first view in its idle time: the default view's
questions answered once, so the first visitor's answers are as quick as later ones.  The server answers
at once meanwhile: a usage request arriving before the usage part is done waits for it; the costs part
waits for a quiet moment, a costs request arriving while it runs waits for it, and one arriving before
it started is answered as on a cold server.  A warm-up that fails is logged and lets everything through.
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


def test_requests_wait_for_the_part_of_the_warm_up_under_way(store: Store) -> None:
    """The warm-up's parts are played by hand here.  A usage request waits until the usage part is done,
    while the health check, the page and key management are answered at once; a costs request waits
    while the costs part runs, and one sent before that part started is answered at once (and the
    warm-up then leaves the costs question to it)."""
    warm = WarmUp()  # never started: the test sets its parts
    server, thread, port = run_uvicorn(create_app(store, ServerSettings(admin_key=ADMIN_KEY,
                                                                        middleware=[warm.middleware()])))
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    answers: dict[str, int] = {}

    def ask(name: str) -> threading.Thread:
        def go() -> None:
            params = dict(first_view_queries(int(time.time())))[name]
            answers[name] = httpx.get(url + path_of(name), params=params, headers=auth, timeout=30).status_code
        t = threading.Thread(target=go)
        t.start()
        return t

    try:
        usage = ask("completions")
        assert httpx.get(url + "/healthz", timeout=5).status_code == 200
        assert httpx.get(url + "/", timeout=5).status_code == 200
        assert httpx.get(url + "/v1/openusage/keys", headers=auth, timeout=5).status_code == 200
        time.sleep(0.3)
        assert answers == {}  # held: the usage part is under way
        warm.usage.set()
        usage.join(timeout=10)
        assert answers == {"completions": 200}

        warm.costs_started = True  # the costs part is under way
        costs = ask("costs")
        time.sleep(0.3)
        assert "costs" not in answers and not warm.costs_asked
        warm.costs.set()
        costs.join(timeout=10)
        assert answers["costs"] == 200

        warm.costs_started = False
        warm.costs.clear()  # the costs part not started yet: no wait, and the costs question is the request's
        ask("costs").join(timeout=10)
        assert answers["costs"] == 200 and warm.costs_asked
    finally:
        warm.usage.set()
        warm.costs.set()
        stop_uvicorn(server, thread)


def test_the_costs_part_waits_for_a_quiet_moment(tmp_path: Path) -> None:
    """While requests are being answered, the warm-up asks nothing beyond its usage part; once none has
    been for a moment, it asks the costs question and is done."""
    store = open_store(str(tmp_path / "usage.duckdb"))
    try:
        warm = WarmUp()
        app = create_app(store, ServerSettings(admin_key=ADMIN_KEY, middleware=[warm.middleware()]))
        warm.busy = 1  # a request being answered
        warm.start(app)
        assert warm.usage.wait(30)
        time.sleep(0.5)
        assert not warm.costs.is_set() and not warm.costs_started
        warm.busy = 0
        warm.last = time.monotonic()
        assert warm.costs.wait(30) and warm.costs_started
        warm.join(timeout=30)
        assert warm.seconds is not None
    finally:
        store.close()


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
