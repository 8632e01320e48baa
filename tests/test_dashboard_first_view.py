"""The dashboard's first view, in Debian's Chromium over 90 days of demo data: usage is drawn while
the costs answer is still on its way (the server holds every costs request until the test lets it
go), the costs cards say they are loading meanwhile, only the requests the view shows are sent, and
the figures drawn are the API's.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import uvicorn

from openusage.cli.serve_cmd import fill_demo
from openusage.dashboard.routes import STATIC
from openusage.dashboard.warm import first_view_queries
from openusage.server.app import ServerSettings, create_app
from openusage.store import Store, open_store

from .conftest import ADMIN_KEY, free_port

pytestmark = pytest.mark.xdist_group("dashboard_first_view")  # one module fixture, built once

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
COSTS = "/v1/organization/costs"
COMPLETIONS = "/v1/organization/usage/completions"
HOLD_S = 30.0

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")

Scope = dict[str, Any]


class HoldCosts:
    """The server's app, with every costs request held until ``release`` is set (at most 30 s):
    a costs answer as slow as the test needs, everything else answered at once.  The app's script
    files are held the same way while ``scripts`` is clear.  ``seen`` lists every path asked for."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.release = threading.Event()
        self.scripts = threading.Event()
        self.scripts.set()
        self.held = 0
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
            gate = self.release if scope["path"] == COSTS else self.scripts if scope["path"].endswith(".js") else None
            if gate is self.release:
                self.held += 1
            deadline = time.monotonic() + HOLD_S
            while gate is not None and not gate.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, HoldCosts, Store]]:
    store = open_store(str(tmp_path_factory.mktemp("first") / "usage.duckdb"))
    assert fill_demo(store) > 10_000
    app = HoldCosts(create_app(store, ServerSettings(admin_key=ADMIN_KEY)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}", app, store
    app.release.set()
    server.should_exit = True
    thread.join(timeout=30)
    store.close()


@pytest.fixture
def page(served):  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing: apt-get install -y chromium (scripts/test.sh does it)")
    _, hold, _ = served
    hold.release.clear()
    hold.scripts.set()
    hold.held = 0
    hold.seen.clear()
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        # Signed in already, as after a sign-in earlier in the tab's session.
        context.add_init_script(f"sessionStorage.setItem('openusage.key', {json.dumps(ADMIN_KEY)})")
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        yield pg
        hold.release.set()
        hold.scripts.set()
        browser.close()
    # Failed requests (the revoked key's 401s) are logged by Chromium and checked by the tests.
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []


def answer(url: str, path: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The API's buckets for one request, as any client gets them."""
    r = httpx.get(url + path, params=params, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["has_more"] is False
    data: list[dict[str, Any]] = body["data"]
    return data


def kpi(pg: Any, name: str) -> float:
    return float(pg.locator(f'[data-kpi="{name}"]').get_attribute("data-value"))


def card_state(pg: Any, name: str) -> str:
    return str(pg.locator(f'[data-card="{name}"]').get_attribute("data-state"))


def test_usage_is_drawn_before_the_costs_answer_arrives(served, page) -> None:  # type: ignore[no-untyped-def]
    url, hold, _ = served
    page.goto(f"{url}/#tab=costs&range=30d")
    page.wait_for_selector('body[data-ready="1"]', timeout=30_000)
    deadline = time.monotonic() + 10
    while hold.held < 1 and time.monotonic() < deadline:  # sent beside the usage request
        time.sleep(0.01)
    assert hold.held == 1

    # Drawn: the usage card, its chart and totals.  Waiting: every costs card, in words.
    assert page.locator("#view").get_attribute("data-first") == "1"
    assert page.locator("#view").get_attribute("data-ready") == "0"
    assert card_state(page, "cost-usage") == "ready"
    assert [c["card"] for c in page.evaluate("window.openusage.charts()")] == ["cost-usage"]
    for name in ("cost-summary", "cost-chart", "cost-table"):
        assert card_state(page, name) == "loading"
        assert page.inner_text(f'[data-card="{name}"] .state-loading') == "Computing costs…"

    # Exactly two requests: ungrouped daily completions and daily costs by line item, one page each.
    start = int(page.locator("#range-label").get_attribute("data-start"))
    end = int(page.locator("#range-label").get_attribute("data-end"))
    assert end - start == 30 * 86400 and end % 86400 == 0
    sent = [(urlsplit(u).path, parse_qsl(urlsplit(u).query)) for u in page.evaluate("window.openusage.api().sent")]
    usage_params = [("start_time", str(start)), ("end_time", str(end)), ("bucket_width", "1d"), ("limit", "31")]
    costs_params = [("start_time", str(start)), ("end_time", str(end)), ("bucket_width", "1d"), ("limit", "180"),
                    ("group_by", "line_item")]
    assert sent == [(COMPLETIONS, usage_params), (COSTS, costs_params)]

    # The usage figures are the API's.
    usage = answer(url, COMPLETIONS, usage_params)
    assert len(usage) == 30
    rows = [r for b in usage for r in b["results"]]
    assert kpi(page, "usage-requests") == sum(r["num_model_requests"] for r in rows)
    assert kpi(page, "usage-input_tokens") == sum(r["input_tokens"] for r in rows)
    assert kpi(page, "usage-output_tokens") == sum(r["output_tokens"] for r in rows)

    # Costs let go: the costs cards fill in, with the API's amount, and nothing more is sent.
    hold.release.set()
    page.wait_for_selector('#view[data-ready="1"]', timeout=30_000)
    for name in ("cost-summary", "cost-chart", "cost-table"):
        assert card_state(page, name) == "ready"
    costs = answer(url, COSTS, costs_params)
    total = math.fsum(r["amount"]["value"] for b in costs for r in b["results"])
    assert kpi(page, "cost-total") == pytest.approx(total, rel=1e-9)
    assert len(page.evaluate("window.openusage.api().sent")) == 2
    assert page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/')).length") == 2
    first, ready = page.evaluate("[window.openusage.firstViewAt, window.openusage.readyAt]")
    assert 0 < first < ready
    assert page.evaluate("window.openusage.renders") == 1  # drawn once, filled in, never redrawn
    assert sorted(c["card"] for c in page.evaluate("window.openusage.charts()")) == ["cost-chart", "cost-usage"]


def test_a_view_without_costs_is_first_drawn_when_whole(served, page) -> None:  # type: ignore[no-untyped-def]
    url, hold, _ = served
    page.goto(f"{url}/#tab=tokens&range=7d")
    page.wait_for_selector('body[data-ready="1"]', timeout=30_000)
    page.wait_for_selector('#view[data-ready="1"][data-first="1"]', timeout=30_000)
    assert hold.held == 0
    assert page.evaluate("window.openusage.api().sent.length") == 1
    first, ready = page.evaluate("[window.openusage.firstViewAt, window.openusage.readyAt]")
    assert 0 < first <= ready
    # Another view later: its own first view is marked on #view, the page's stays the first one's.
    page.click('button[data-tab="costs"]')
    page.wait_for_selector('#view[data-view="costs"][data-first="1"]', timeout=30_000)
    assert page.evaluate("window.openusage.firstViewAt") == first
    hold.release.set()
    page.wait_for_selector('#view[data-view="costs"][data-ready="1"]', timeout=30_000)
    assert card_state(page, "cost-summary") == "ready"


def test_every_script_chunk_is_named_in_the_page_and_cached_for_good(served) -> None:  # type: ignore[no-untyped-def]
    """The app's script is a module; Chart.js and the helpers it shares with the app are chunks the
    page preloads, each with a content hash in its name, cached for a year and sent gzipped."""
    url, _, _ = served
    page_html = httpx.get(url + "/").text
    main = re.findall(r'<script type="module" src="/dashboard/(main-[A-Z0-9]+\.js)"></script>', page_html)
    preloaded = re.findall(r'<link rel="modulepreload" href="/dashboard/([a-z]+-[A-Z0-9]+\.js)">', page_html)
    built = sorted(p.name for p in STATIC.glob("*.js"))
    assert len(main) == 1 and sorted(main + preloaded) == built
    assert any(name.startswith("chartlib-") for name in preloaded)
    for name in built:
        r = httpx.get(f"{url}/dashboard/{name}", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.content == (STATIC / name).read_bytes()
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["content-type"] == "text/javascript; charset=utf-8"
        assert r.headers.get("content-encoding") == ("gzip" if len(r.content) > 1024 else None)


def test_the_first_views_requests_leave_before_any_script_file_arrives(served, page) -> None:  # type: ignore[no-untyped-def]
    """The page's inline first script sends the Costs view's two requests while the app's module
    and Chart.js are still held by the server; the app then takes those answers (nothing is asked
    twice) and draws the API's figures."""
    url, hold, _ = served
    hold.scripts.clear()
    hold.release.set()
    page.goto(f"{url}/#tab=costs&range=30d", wait_until="commit")
    deadline = time.monotonic() + 10
    while not {COMPLETIONS, COSTS} <= set(hold.seen) and time.monotonic() < deadline:
        time.sleep(0.01)
    api_seen = [p for p in hold.seen if p.startswith("/v1/")]
    assert api_seen == [COMPLETIONS, COSTS]
    assert page.evaluate("typeof window.openusage") == "undefined"  # the app's script is still held
    assert page.evaluate("performance.getEntriesByName('openusage:boot').length") == 1
    hold.scripts.set()
    page.wait_for_selector('#view[data-ready="1"]', timeout=30_000)

    start = int(page.locator("#range-label").get_attribute("data-start"))
    end = int(page.locator("#range-label").get_attribute("data-end"))
    usage_params = [("start_time", str(start)), ("end_time", str(end)), ("bucket_width", "1d"), ("limit", "31")]
    costs_params = [("start_time", str(start)), ("end_time", str(end)), ("bucket_width", "1d"), ("limit", "180"),
                    ("group_by", "line_item")]
    sent = [(urlsplit(u).path, parse_qsl(urlsplit(u).query)) for u in page.evaluate("window.openusage.api().sent")]
    assert sent == [(COMPLETIONS, usage_params), (COSTS, costs_params)]
    assert [p for p in hold.seen if p.startswith("/v1/")] == [COMPLETIONS, COSTS]  # taken, not asked again

    rows = [r for b in answer(url, COMPLETIONS, usage_params) for r in b["results"]]
    assert kpi(page, "usage-requests") == sum(r["num_model_requests"] for r in rows)
    assert kpi(page, "usage-output_tokens") == sum(r["output_tokens"] for r in rows)
    costs = answer(url, COSTS, costs_params)
    total = math.fsum(r["amount"]["value"] for b in costs for r in b["results"])
    assert kpi(page, "cost-total") == pytest.approx(total, rel=1e-9)


@pytest.mark.parametrize("tab", ["tokens", "requests"])
def test_the_tokens_and_requests_views_request_leaves_before_any_script_file_arrives(  # type: ignore[no-untyped-def]
        served, page, tab: str) -> None:
    """Their one question (completions by model, one answer serves both views) is sent by the page's
    first script too, and taken by the app: asked once, drawn with the API's figures."""
    url, hold, _ = served
    hold.scripts.clear()
    page.goto(f"{url}/#tab={tab}&range=7d", wait_until="commit")
    deadline = time.monotonic() + 10
    while COMPLETIONS not in hold.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [p for p in hold.seen if p.startswith("/v1/")] == [COMPLETIONS]
    assert page.evaluate("typeof window.openusage") == "undefined"  # the app's script is still held
    hold.scripts.set()
    page.wait_for_selector('#view[data-ready="1"]', timeout=30_000)

    start = int(page.locator("#range-label").get_attribute("data-start"))
    end = int(page.locator("#range-label").get_attribute("data-end"))
    params = [("start_time", str(start)), ("end_time", str(end)), ("bucket_width", "1d"), ("limit", "31"),
              ("group_by", "model")]
    sent = [(urlsplit(u).path, parse_qsl(urlsplit(u).query)) for u in page.evaluate("window.openusage.api().sent")]
    assert sent == [(COMPLETIONS, params)]
    assert [p for p in hold.seen if p.startswith("/v1/")] == [COMPLETIONS]  # taken, not asked again
    rows = [r for b in answer(url, COMPLETIONS, params) for r in b["results"]]
    name = "input_tokens" if tab == "tokens" else "num_model_requests"
    assert kpi(page, name) == sum(r[name] for r in rows)


def test_the_server_warms_up_what_the_default_view_asks_first(served, page) -> None:  # type: ignore[no-untyped-def]
    """``openusage serve`` answers the default view's first questions once at start-up
    (``dashboard/warm.py``): they are the ones the page sends."""
    url, hold, _ = served
    hold.release.set()
    page.goto(f"{url}/")
    page.wait_for_selector('#view[data-ready="1"]', timeout=30_000)
    end = int(page.locator("#range-label").get_attribute("data-end"))
    sent = [(urlsplit(u).path, parse_qsl(urlsplit(u).query)) for u in page.evaluate("window.openusage.api().sent")]
    path = {"completions": COMPLETIONS, "costs": COSTS}
    assert sent == [(path[name], params) for name, params in first_view_queries(end - 1)]


@pytest.mark.parametrize("hash_", ["#tab=usage&range=7d", "#tab=breakdown&range=7d",
                                   "#tab=costs&range=custom&from=2026-13-01&to=x"])
def test_the_first_script_leaves_other_views_to_the_app(served, page, hash_: str) -> None:  # type: ignore[no-untyped-def]
    """Another view, or a range whose days do not parse, sends nothing early: the app asks as usual,
    once per question (the bad custom range falls back to 30 days)."""
    url, hold, _ = served
    hold.release.set()
    hold.scripts.clear()
    page.goto(f"{url}/{hash_}", wait_until="commit")
    page.wait_for_function("performance.getEntriesByName('openusage:boot').length === 1", timeout=10_000)
    time.sleep(0.2)
    assert [p for p in hold.seen if p.startswith("/v1/")] == []  # nothing before the app's script runs
    hold.scripts.set()
    page.wait_for_selector('#view[data-ready="1"]', timeout=30_000)
    sent = page.evaluate("window.openusage.api().sent")
    assert [urlsplit(u).path for u in sent] == [p for p in hold.seen if p.startswith("/v1/")]
    assert len(sent) == len(set(sent)) >= 1


def test_a_key_no_longer_accepted_goes_back_to_sign_in(served, page) -> None:  # type: ignore[no-untyped-def]
    """The early requests' 401 is told as any other: the sign-in form, with the reason in words."""
    url, hold, _ = served
    hold.release.set()
    page.context.add_init_script("sessionStorage.setItem('openusage.key', 'ouk_000000000000_revoked')")
    page.goto(f"{url}/#tab=costs")
    page.wait_for_selector("#signin-error:not([hidden])", timeout=30_000)
    assert page.inner_text("#signin-error") == "This key was not accepted. Check it and sign in again."
    assert page.is_hidden("#app")
    assert page.evaluate("sessionStorage.getItem('openusage.key')") is None
