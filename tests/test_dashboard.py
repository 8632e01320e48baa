"""The web dashboard, end to end: a live server over 90 days of demo data, driven in Debian's
Chromium by Playwright.  The page's figures are checked against the API's own answers for the
same range and filters; screenshots of every view go to ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from openusage.auth import create_key
from openusage.cli.serve_cmd import fill_demo
from openusage.dashboard.routes import SECURITY_HEADERS, STATIC, page_csp, spec_document
from openusage.server.app import ServerSettings
from openusage.store import Store

from .conftest import ADMIN_KEY, AppServer, LiveServer, new_store, start_server, tls

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-artifacts" / "dashboard"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
READY = '#view[data-ready="1"]'

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Store]]:
    store = new_store(tmp_path_factory.mktemp("dash") / "usage.duckdb")
    assert fill_demo(store) > 10_000
    srv = start_server(store)
    yield srv, store
    srv.stop()
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing: apt-get install -y chromium (scripts/test.sh does it)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    context.close()
    # Failed requests (401s, a stopped server) are logged by Chromium and checked by the tests
    # themselves; anything else (a script error, a CSP violation) is a bug.
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []


# -- helpers ------------------------------------------------------------------------------------


def shot(pg, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(pg, url: str, key: str = ADMIN_KEY, hash_: str = "") -> None:  # type: ignore[no-untyped-def]
    pg.goto(f"{url}/{hash_}")
    pg.fill("#key", key)
    pg.click("#signin-submit")
    pg.wait_for_selector(READY, timeout=30_000)


def open_tab(pg, tab: str) -> None:  # type: ignore[no-untyped-def]
    pg.click(f'button[data-tab="{tab}"]')
    pg.wait_for_selector(f'#view[data-ready="1"][data-view="{tab}"]', timeout=30_000)


def shown_range(pg) -> tuple[int, int, str]:  # type: ignore[no-untyped-def]
    label = pg.locator("#range-label")
    return int(label.get_attribute("data-start")), int(label.get_attribute("data-end")), label.get_attribute(
        "data-width")


def all_buckets(srv: LiveServer, path: str, params: list[tuple[str, str]]) -> list[dict]:
    """Every bucket of a query, following next_page as any client would."""
    out: list[dict] = []
    with srv.client() as c:
        page: str | None = None
        for _ in range(100):
            r = c.get(path, params=[*params, ("page", page)] if page else params)
            assert r.status_code == 200, r.text
            body = r.json()
            out += body["data"]
            page = body["next_page"]
            if not body["has_more"]:
                return out
    raise AssertionError("too many pages")


def grouped(buckets: list[dict], key: str, fields: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for b in buckets:
        for r in b["results"]:
            row = out.setdefault(r[key], dict.fromkeys(fields, 0))
            for f in fields:
                row[f] += r[f] or 0
    return out


def table_rows(pg, table: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return pg.eval_on_selector_all(
        f'table[data-table="{table}"] tbody tr', "rows => rows.map(r => [...r.cells].map(c => c.textContent))")


def as_int(text: str) -> int:
    return int(text.replace(",", ""))


# -- serving ------------------------------------------------------------------------------------


def test_page_and_assets_are_served_with_security_and_cache_headers(demo) -> None:  # type: ignore[no-untyped-def]
    srv, _ = demo
    with httpx.Client(base_url=srv.url, verify=tls()) as c:
        r = c.get("/")
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        for name, value in SECURITY_HEADERS.items():
            if name != "Content-Security-Policy":
                assert r.headers[name] == value
        # The page's one inline script is allowed by its hash alone; every other answer has no hash.
        boot = re.findall(r'<script id="openusage-boot">(.*?)</script>', r.text, re.DOTALL)
        assert len(boot) == 1 and 0 < len(boot[0]) < 8000  # minified, small
        digest = base64.b64encode(hashlib.sha256(boot[0].encode()).digest()).decode()
        csp = r.headers["content-security-policy"]
        assert csp == SECURITY_HEADERS["Content-Security-Policy"].replace(
            "script-src 'self'", f"script-src 'self' 'sha256-{digest}'")
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-cache"
        # The endpoint table rides in the page, derived from openusage.spec.
        embedded = re.search(r'<script type="application/json" id="openusage-spec">(.*?)</script>', r.text)
        assert embedded and json.loads(embedded.group(1)) == spec_document()
        assert "<!--openusage:spec-->" not in r.text
        # Revalidation: the same ETag answers 304 with no body.
        again = c.get("/", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        head = c.head("/", headers={"Accept-Encoding": "identity"})
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == len(r.content)
        assert "content-encoding" not in head.headers

        script = re.search(r'src="/dashboard/(main-[A-Z0-9]+\.js)"', r.text)
        style = re.search(r'href="/dashboard/(style-[A-Z0-9]+\.css)"', r.text)
        assert script and style
        js = c.get(f"/dashboard/{script.group(1)}", headers={"Accept-Encoding": "gzip"})
        assert js.status_code == 200
        assert js.headers["content-type"] == "text/javascript; charset=utf-8"
        assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert js.headers["content-encoding"] == "gzip"
        assert js.content == (STATIC / script.group(1)).read_bytes()  # httpx undid the gzip
        raw = c.get(f"/dashboard/{script.group(1)}", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in raw.headers and raw.content == js.content
        refused = c.get(f"/dashboard/{script.group(1)}", headers={"Accept-Encoding": "gzip;q=0, *"})
        assert "content-encoding" not in refused.headers and refused.content == js.content
        assert c.get(f"/dashboard/{style.group(1)}").headers["content-type"] == "text/css; charset=utf-8"
        assert c.get("/dashboard/favicon.svg").headers["content-type"] == "image/svg+xml"
        assert c.get("/dashboard/favicon.svg").headers["content-security-policy"] == SECURITY_HEADERS[
            "Content-Security-Policy"]


@pytest.mark.parametrize("html", ["<head></head>", '<script id="openusage-boot">a()</script>' * 2,
                                  '<script id="openusage-boot">a()'])
def test_a_page_without_exactly_one_boot_script_is_refused_in_words(html: str) -> None:
    with pytest.raises(RuntimeError, match=r"the dashboard's page must hold one boot script, not [02]: rebuild it"):
        page_csp(html)


def test_the_page_csp_allows_the_boot_script_by_its_sha256() -> None:
    digest = base64.b64encode(hashlib.sha256(b"go()").digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}'; " in page_csp('<script id="openusage-boot">go()</script>')


@pytest.mark.parametrize("path", [
    "/dashboard/nope.js", "/dashboard/SOURCE_SHA256", "/dashboard/index.html", "/dashboard/..%2Froutes.py",
    "/dashboard/%2e%2e%2f__init__.py", "/dashboard/", "/index.html",
])
def test_unknown_or_hidden_files_are_404_in_the_api_envelope(demo, path: str) -> None:  # type: ignore[no-untyped-def]
    srv, _ = demo
    r = httpx.get(srv.url + path, verify=tls())
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_post_to_the_page_is_405(demo) -> None:  # type: ignore[no-untyped-def]
    srv, _ = demo
    assert httpx.post(srv.url + "/", verify=tls()).status_code == 405


def test_dashboard_can_be_turned_off(make_app: Callable[..., AppServer]) -> None:
    with make_app(dashboard=False).http() as c:
        assert c.get("/").status_code == 404
        assert c.get("/healthz").status_code == 200


def test_committed_bundle_is_built_from_the_current_sources() -> None:
    """The bundle in the package must match frontend/: rebuild with scripts/build_dashboard.sh."""
    front = ROOT / "frontend"
    names = sorted(["build.mjs", "package.json", "package-lock.json", "tsconfig.json",
                    *(f"src/{p.name}" for p in (front / "src").iterdir())])
    digest = hashlib.sha256()
    for name in names:
        for part in (name.encode(), b"\0", (front / name).read_bytes(), b"\0"):
            digest.update(part)
    assert (STATIC / "SOURCE_SHA256").read_text().strip() == digest.hexdigest()


# -- in the browser -----------------------------------------------------------------------------


def test_wrong_key_and_wrong_scope_are_told_in_words(demo, page) -> None:  # type: ignore[no-untyped-def]
    srv, store = demo
    page.goto(srv.url + "/")
    page.fill("#key", "ouk_000000000000_not-a-real-key")
    page.click("#signin-submit")
    page.wait_for_selector("#signin-error:not([hidden])")
    assert page.inner_text("#signin-error") == "This key was not accepted. Check it and sign in again."
    assert page.is_hidden("#app")
    shot(page, "signin-error")

    ingest = create_key(store, "ingest only", "ingest").secret
    page.fill("#key", ingest)
    page.click("#signin-submit")
    # Selectors, not wait_for_function: the page's CSP (rightly) forbids the eval() that polling needs.
    page.wait_for_selector("#signin-error:has-text('may not read')")
    assert page.inner_text("#signin-error").startswith("This key may not read usage and costs: This key has the "
                                                       "'ingest' scope")
    page.fill("#key", "")
    page.click("#signin-submit")  # the browser's own "required" check keeps the form from sending
    assert page.evaluate("sessionStorage.getItem('openusage.key')") is None


def test_revoked_key_sends_the_user_back_to_sign_in(demo, page) -> None:  # type: ignore[no-untyped-def]
    srv, store = demo
    new = create_key(store, "short-lived", "read")
    sign_in(page, srv.url, new.secret)
    assert page.evaluate("sessionStorage.getItem('openusage.key')") == new.secret
    with srv.client() as c:
        assert c.delete(f"/v1/openusage/keys/{new.record.key_id}").status_code == 200
    page.click("#refresh")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.inner_text("#signin-error") == "This key was not accepted. Check it and sign in again."
    assert page.evaluate("sessionStorage.getItem('openusage.key')") is None


def test_first_paint_and_load_time_with_90_days(demo, page) -> None:  # type: ignore[no-untyped-def]
    srv, _ = demo
    page.goto(srv.url + "/")
    page.evaluate(f"sessionStorage.setItem('openusage.key', {json.dumps(ADMIN_KEY)})")
    timings: dict[str, float] = {}
    for tab in ("costs", "tokens", "usage"):
        page.goto(f"{srv.url}/#tab={tab}&range=90d")
        page.reload()  # a fresh load with the key already in the session
        page.wait_for_selector(READY, timeout=30_000)
        fcp = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null")
        ready = page.evaluate("window.openusage.readyAt")
        assert fcp is not None and ready is not None
        timings[f"{tab}_first_paint_ms"] = round(fcp, 1)
        timings[f"{tab}_data_ready_ms"] = round(ready, 1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print("\ndashboard timings on loopback, 90 days of demo data:", timings)
    # The target is measured by bench/bench_dashboard.py; this bound only catches a view that hangs, on a
    # 2-core machine that also runs the rest of the suite (7.4 s seen there).
    for name, ms in timings.items():
        assert ms < (5000 if "first_paint" in name else 15000), (name, ms)


def test_views_show_the_api_answers_for_the_range_and_filter(demo, page) -> None:  # type: ignore[no-untyped-def]
    srv, _ = demo
    sign_in(page, srv.url)
    assert page.locator('button[data-tab="costs"]').get_attribute("aria-selected") == "true"
    start, end, width = shown_range(page)
    assert (end - start, width) == (30 * 86400, "1d")
    shot(page, "costs-30d")

    # Change the range: 7 days, daily buckets, ending at the end of today (UTC).
    page.select_option("#range", "7d")
    page.wait_for_selector(READY)
    start, end, width = shown_range(page)
    now = int(time.time())
    assert (end - start, width, end) == (7 * 86400, "1d", (now // 86400 + 1) * 86400)

    # Filter by a project: its choices are fetched when the user reaches for the list.
    page.focus("#filter-project")
    page.wait_for_selector('#filter-project option[value="proj_search"]', state="attached")
    options = page.eval_on_selector_all("#filter-project option", "os => os.map(o => o.value)")
    assert options == ["", "proj_analytics", "proj_internal_tools", "proj_search", "proj_support_bot"]
    page.select_option("#filter-project", "proj_search")
    page.wait_for_selector(READY)
    assert "project=proj_search" in page.url
    base = [("start_time", str(start)), ("end_time", str(end)), ("project_ids", "proj_search")]

    # Costs: the total for the range equals the API's, to the cent and in the text.
    costs = all_buckets(srv, "/v1/organization/costs", [*base, ("bucket_width", "1d"), ("limit", "180")])
    cost_total = math.fsum(r["amount"]["value"] for b in costs for r in b["results"])
    kpi = page.locator('[data-kpi="cost-total"]')
    assert float(kpi.get_attribute("data-value")) == pytest.approx(cost_total, abs=1e-6)
    assert kpi.locator(".kpi-value").inner_text() == f"${cost_total:,.2f}"
    if cost_total:
        page.wait_for_selector('[data-card="cost-chart"] canvas')
    else:
        assert page.locator('[data-card="cost-chart"]').get_attribute("data-state") == "empty"
    shot(page, "costs-7d-proj_search")

    # Tokens: the cards and every row of the by-model table.
    open_tab(page, "tokens")
    completions = all_buckets(srv, "/v1/organization/usage/completions",
                              [*base, ("bucket_width", "1d"), ("group_by", "model"), ("limit", "31")])
    fields = ["input_tokens", "input_cached_tokens", "output_tokens", "num_model_requests"]
    by_model = grouped(completions, "model", fields)
    assert len(by_model) == 5
    for f in ("input_tokens", "input_cached_tokens", "output_tokens"):
        want = sum(row[f] for row in by_model.values())
        assert want > 0
        assert int(page.locator(f'[data-kpi="{f}"]').get_attribute("data-value")) == want
    rows = table_rows(page, "tokens-by-model")
    assert {r[0]: [as_int(x) for x in r[1:]] for r in rows} == {m: [v[f] for f in fields] for m, v in by_model.items()}
    assert [as_int(r[1]) for r in rows] == sorted((v["input_tokens"] for v in by_model.values()), reverse=True)
    shot(page, "tokens")

    # Export CSV: exactly the table's rows, unformatted.
    with page.expect_download() as dl:
        page.click('[data-export="tokens-by-model"]')
    assert dl.value.suggested_filename == "tokens-by-model.csv"
    with open(dl.value.path(), newline="") as fh:
        exported = list(csv.DictReader(fh))
    assert {r["model"]: {f: int(r[f]) for f in fields} for r in exported} == by_model

    # Sorting: a header click sorts by that column, again reverses it.
    page.click('table[data-table="tokens-by-model"] th[data-key="model"] button')
    assert [r[0] for r in table_rows(page, "tokens-by-model")] == sorted(by_model)
    page.click('table[data-table="tokens-by-model"] th[data-key="model"] button')
    assert [r[0] for r in table_rows(page, "tokens-by-model")] == sorted(by_model, reverse=True)

    # Requests: the same answer as tokens, so no new request is sent.
    sent_before = page.evaluate("window.openusage.api().sent.length")
    open_tab(page, "requests")
    assert page.evaluate("window.openusage.api().sent.length") == sent_before
    total_requests = sum(v["num_model_requests"] for v in by_model.values())
    assert int(page.locator('[data-kpi="num_model_requests"]').get_attribute("data-value")) == total_requests
    shot(page, "requests")

    # Usage types: one card per endpoint of the spec besides completions and costs.
    open_tab(page, "usage")
    images = all_buckets(srv, "/v1/organization/usage/images", [*base, ("bucket_width", "1d"), ("limit", "31")])
    assert int(page.locator('[data-kpi="images"]').get_attribute("data-value")) == sum(
        r["images"] for b in images for r in b["results"])
    cards = page.eval_on_selector_all("[data-card^=usage-]", "cs => cs.map(c => c.dataset.card)")
    assert cards == [f"usage-{e['name']}" for e in spec_document()["endpoints"]
                     if e["name"] not in ("completions", "costs")]
    vector = page.locator('[data-card="usage-vector_stores"]')
    assert "Not filtered by" not in vector.inner_text()  # vector stores do filter by project
    shot(page, "usage-types")

    # Breakdown by key: rows from the API, and its CSV.
    open_tab(page, "breakdown")
    page.click('[data-sub="breakdownBy=api_key_id"]')
    page.wait_for_selector('table[data-table="breakdown-api_key_id"]')
    by_key = grouped(all_buckets(srv, "/v1/organization/usage/completions",
                                 [*base, ("bucket_width", "1d"), ("group_by", "api_key_id"), ("limit", "31")]),
                     "api_key_id", fields)
    assert set(by_key) == {"key_search_1", "key_search_2"}
    # Usage without a key (vector storage, code interpreter) has cost but no completions.
    shown = {r[0]: r[1] for r in table_rows(page, "breakdown-api_key_id")}
    assert shown.pop("(none)", "—") == "—"
    assert {k: as_int(v) for k, v in shown.items()} == {k: v["num_model_requests"] for k, v in by_key.items()}
    with page.expect_download() as dl:
        page.click('[data-export="breakdown-api_key_id"]')
    exported = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert {r["api_key_id"] for r in exported} - {""} == set(by_key)
    assert list(exported[0]) == ["api_key_id", "num_model_requests", "input_tokens", "input_cached_tokens",
                                 "output_tokens", "cost"]
    shot(page, "breakdown-by-key")

    # A row click filters by it: the key filter is set and the view reloads.
    page.click('table[data-table="breakdown-api_key_id"] tbody tr:has-text("key_search_2")')
    page.wait_for_selector(READY)
    assert page.input_value("#filter-key") == "key_search_2"
    assert "key=key_search_2" in page.url

    # Nothing was asked twice.
    sent = page.evaluate("window.openusage.api().sent")
    assert len(sent) == len(set(sent))


def test_model_filter_narrows_costs_by_line_item(demo, page) -> None:  # type: ignore[no-untyped-def]
    srv, _ = demo
    sign_in(page, srv.url, hash_="#tab=costs&range=14d&model=gpt-4o-2024-08-06&costsBy=line_item")
    start, end, _ = shown_range(page)
    costs = all_buckets(srv, "/v1/organization/costs", [("start_time", str(start)), ("end_time", str(end)),
                                                         ("group_by", "line_item"), ("limit", "180")])
    mine = [r for b in costs for r in b["results"] if r["line_item"].split(", ")[0] == "gpt-4o-2024-08-06"]
    want = math.fsum(r["amount"]["value"] for r in mine)
    assert float(page.locator('[data-kpi="cost-total"]').get_attribute("data-value")) == pytest.approx(want, abs=1e-6)
    if mine:
        names = {r[0] for r in table_rows(page, "costs-by-line-item")}
        assert names == {r["line_item"] for r in mine}
    shot(page, "costs-by-line-item-model-filter")


def test_one_day_uses_hourly_buckets_and_custom_range_works(demo, page) -> None:  # type: ignore[no-untyped-def]
    srv, _ = demo
    sign_in(page, srv.url, hash_="#tab=requests&range=1d")
    start, end, width = shown_range(page)
    assert (end - start, width, end % 3600) == (86400, "1h", 0)
    hourly = all_buckets(srv, "/v1/organization/usage/completions",
                         [("start_time", str(start)), ("end_time", str(end)), ("bucket_width", "1h"),
                          ("limit", "168")])
    assert len(hourly) == 24
    assert int(page.locator('[data-kpi="num_model_requests"]').get_attribute("data-value")) == sum(
        r["num_model_requests"] for b in hourly for r in b["results"])
    shot(page, "requests-24h")

    page.select_option("#range", "custom")
    page.fill("#from", "2026-01-10")
    page.fill("#to", "2026-01-05")
    page.click("#custom-apply")
    assert page.inner_text("#range-label") == "Pick a start day on or before the end day."
    day = (int(time.time()) // 86400 - 3) * 86400
    iso = time.strftime("%Y-%m-%d", time.gmtime(day))
    page.fill("#from", iso)
    page.fill("#to", iso)
    page.click("#custom-apply")
    page.wait_for_selector(f'#range-label[data-start="{day}"]')
    page.wait_for_selector(READY)
    assert shown_range(page) == (day, day + 86400, "1h")
    assert f"from={iso}" in page.url


def test_read_key_limited_to_a_project_sees_only_it(demo, page) -> None:  # type: ignore[no-untyped-def]
    srv, store = demo
    key = create_key(store, "analytics reader", "read", ["proj_analytics"]).secret
    sign_in(page, srv.url, key, "#tab=breakdown&range=30d")
    assert [r[0] for r in table_rows(page, "breakdown-project_id")] == ["proj_analytics"]
    assert page.inner_text('[data-card="breakdown"] .table-tools span') == "1 row"
    page.focus("#filter-project")
    page.wait_for_selector('#filter-project option[value="proj_analytics"]', state="attached")
    assert page.eval_on_selector_all("#filter-project option", "os => os.map(o => o.value)") == ["", "proj_analytics"]
    shot(page, "breakdown-read-key")


def test_dark_theme_and_phone_layout(demo, browser) -> None:  # type: ignore[no-untyped-def]
    srv, _ = demo
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True,
                                  device_scale_factor=2)
    pg = context.new_page()
    try:
        sign_in(pg, srv.url, hash_="#tab=tokens&range=30d")
        assert pg.evaluate("document.documentElement.dataset.theme") == "dark"
        bg = pg.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(15, 18, 22)"
        # Nothing wider than the phone's screen but the tables' own scroll boxes.
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        shot(pg, "phone-dark-tokens")
        pg.click("#theme")
        assert pg.evaluate("document.documentElement.dataset.theme") == "light"
        pg.wait_for_selector(READY)
        assert pg.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 249)"
        assert pg.evaluate("localStorage.getItem('openusage.theme')") == "light"
        open_tab(pg, "usage")
        shot(pg, "phone-light-usage")
    finally:
        context.close()


def test_empty_store_shows_empty_states_and_a_stopped_server_an_error(store: Store, page) -> None:  # type: ignore[no-untyped-def]
    srv = start_server(store)
    try:
        sign_in(page, srv.url, hash_="#tab=costs&range=7d")
        assert page.locator('[data-card="cost-chart"]').get_attribute("data-state") == "empty"
        assert page.inner_text('[data-card="cost-chart"] .state-empty') == "No costs in this range with these filters."
        assert page.locator('[data-kpi="cost-total"] .kpi-value').inner_text() == "$0.00"
        assert "No costs are recorded for this range." in page.inner_text('[data-card="cost-summary"]')
        open_tab(page, "tokens")
        assert page.locator('[data-card="tokens-chart"]').get_attribute("data-state") == "empty"
        open_tab(page, "usage")
        states = page.eval_on_selector_all("[data-card^=usage-]", "cs => cs.map(c => c.dataset.state)")
        assert states and set(states) == {"empty"}
        shot(page, "usage-empty")
    finally:
        srv.stop()
    page.click("#refresh")  # the server is gone: every card says so, in words
    page.wait_for_selector(READY)
    errors = page.eval_on_selector_all("[data-card] .state-error", "es => es.map(e => e.textContent)")
    assert len(errors) == 10  # every usage card, decisions included
    assert set(errors) == {"Could not reach the server. Check that it is running, then press Refresh."}
    shot(page, "usage-server-gone")


def test_leaving_a_view_mid_load_neither_hangs_nor_wastes(demo, page) -> None:  # type: ignore[no-untyped-def]
    """Tokens and Requests share one query; leaving Tokens while its pages arrive must not leave
    Requests waiting on an abandoned answer."""
    srv, _ = demo
    sign_in(page, srv.url, hash_="#tab=costs&range=90d")
    # Both clicks in one task: Requests starts while Tokens' first page is still on its way.
    page.evaluate("""() => {
        document.querySelector('button[data-tab="tokens"]').click();
        document.querySelector('button[data-tab="requests"]').click();
    }""")
    page.wait_for_selector('#view[data-ready="1"][data-view="requests"]', timeout=30_000)
    assert page.locator('[data-card="requests-chart"]').get_attribute("data-state") == "ready"
    assert page.locator('[data-kpi="num_model_requests"]').count() == 1

    # Leaving Usage types at once: the first pages already sent arrive, nothing more is sent
    # (neither the queued first pages, beyond the 4 requests allowed at a time, nor second pages).
    before = page.evaluate("window.openusage.api().sent.length")
    page.evaluate("""() => {
        document.querySelector('button[data-tab="usage"]').click();
        document.querySelector('button[data-tab="breakdown"]').click();
    }""")
    page.wait_for_selector('#view[data-ready="1"][data-view="breakdown"]', timeout=30_000)
    sent = page.evaluate("window.openusage.api().sent")[before:]
    usage = [u for u in sent if "/usage/" in u and "/completions" not in u]
    assert 1 <= len(usage) <= 4 and not any("page=" in u for u in usage)


def test_rate_limited_requests_are_retried_after_retry_after(demo, page) -> None:  # type: ignore[no-untyped-def]
    _, store = demo
    # A burst of two: of the four requests the page sends at once, at least two are answered 429
    # however slow the machine is, and the rest of the ten cards wait their turn at two a second.
    srv = start_server(store, ServerSettings(admin_key=ADMIN_KEY, rate_limit=2, rate_burst=2))
    try:
        sign_in(page, srv.url, hash_="#tab=usage&range=7d")
        # Some answers were 429s, retried after retry-after until they passed.
        states = page.eval_on_selector_all("[data-card^=usage-]", "cs => cs.map(c => c.dataset.state)")
        assert states == ["ready"] * 10
        sent = page.evaluate("window.openusage.api().sent")
        assert len(sent) > len(set(sent)) == 10
    finally:
        srv.stop()


def nice_step(ticks: list[dict]) -> float:
    """The axis step, checked to be round (two significant digits at most: 4, 25, 0.5, 2000; not
    4.66), with every tick on it."""
    values = [t["value"] for t in ticks]
    step = values[1] - values[0]
    digits = step / 10 ** (math.floor(math.log10(step)) - 1)  # 10 <= digits < 100
    assert math.isclose(digits, round(digits), abs_tol=1e-6), values
    assert all(math.isclose(v / step, round(v / step), abs_tol=1e-9) for v in values), values
    labels = [t["label"] for t in ticks]
    assert len(set(labels)) == len(labels), labels  # no two ticks read the same
    return step


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_every_view_fits_the_screen_with_readable_charts(demo, browser, width: int, height: int) -> None:  # type: ignore[no-untyped-def]
    srv, _ = demo
    phone = width < 720
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme="light",
                                  is_mobile=phone, device_scale_factor=2 if phone else 1)
    pg = context.new_page()
    try:
        pg.goto(srv.url + "/")
        pg.wait_for_selector("#signin:not([hidden])")
        assert pg.evaluate("document.documentElement.scrollWidth") <= width
        shot(pg, f"signin-{width}x{height}")
        sign_in(pg, srv.url, hash_="#tab=costs&range=30d&breakdownBy=user_id")
        for tab in ("costs", "tokens", "requests", "usage", "breakdown"):
            open_tab(pg, tab)
            # Every tab is on screen, whole: none is cut off at the edge.
            for box in pg.eval_on_selector_all("[data-tab]", "bs => bs.map(b => b.getBoundingClientRect().toJSON())"):
                assert box["left"] >= 0 and box["right"] <= width and box["width"] > 40, box
            assert pg.evaluate("document.documentElement.scrollWidth") <= width
            shot(pg, f"{tab}-{width}x{height}")
            charts = pg.evaluate("window.openusage.charts()")
            assert charts or tab == "breakdown"
            for c in charts:
                # Tall enough to read bars on a phone, the small cards too, the legend taking its share.
                small = c["card"].startswith("usage-")
                assert c["height"] >= (190 if small else 290) and c["plot"] >= (140 if small else 180), c
                nice_step(c["ticks"])
        # "(none)" rows say what they hold: usage no user is named for.
        none = pg.locator('table[data-table="breakdown-user_id"] td.none span')
        assert none.count() == 1 and none.inner_text() == "(none)"
        assert none.get_attribute("title").startswith("usage not attributed to a user")
        assert pg.inner_text('[data-none-note="breakdown-user_id"]').startswith(
            "(none): usage not attributed to a user")
    finally:
        context.close()


def test_storage_axis_steps_are_round_in_the_unit_it_picks(demo, page) -> None:  # type: ignore[no-untyped-def]
    srv, _ = demo
    sign_in(page, srv.url, hash_="#tab=usage&range=30d")
    chart = next(c for c in page.evaluate("window.openusage.charts()") if c["card"] == "usage-vector_stores")
    step = nice_step(chart["ticks"])
    units = {re.fullmatch(r"[\d.,]+ (B|KiB|MiB|GiB|TiB|PiB)", t["label"]).group(1) for t in chart["ticks"]}
    assert len(units) == 1
    unit = units.pop()
    assert [t["label"] for t in chart["ticks"]] == [f"{t['value']:g} {unit}" for t in chart["ticks"]]
    assert step >= 1  # the demo holds tens of GiB: whole GiB steps, not 4.66


def test_a_long_range_is_asked_for_in_parallel_parts(demo, page) -> None:  # type: ignore[no-untyped-def]
    """90 days of daily completions are three pages of 31 buckets: asked for at once, as three
    ranges cut at day edges, rather than one cursor page after the other."""
    srv, _ = demo
    sign_in(page, srv.url, hash_="#tab=tokens&range=90d")
    start, end, _ = shown_range(page)
    timing = page.evaluate("""performance.getEntriesByType('resource')
        .filter(e => e.name.includes('/usage/completions') && e.name.includes('group_by=model'))
        .map(e => ({url: e.name, start: e.startTime, end: e.responseEnd}))""")
    parts = sorted((int(re.search(r"start_time=(\d+)", t["url"]).group(1)),
                    int(re.search(r"end_time=(\d+)", t["url"]).group(1))) for t in timing)
    assert parts == [(start, start + 31 * 86400), (start + 31 * 86400, start + 62 * 86400), (start + 62 * 86400, end)]
    assert not any("page=" in t["url"] for t in timing)
    # Every part was sent before the first answer came back: one round trip, not three.
    assert max(t["start"] for t in timing) < min(t["end"] for t in timing)
    # And together they are the API's answer for the whole range.
    whole = all_buckets(srv, "/v1/organization/usage/completions", [
        ("start_time", str(start)), ("end_time", str(end)), ("bucket_width", "1d"), ("group_by", "model"),
        ("limit", "31")])
    assert len(whole) == 90
    assert int(page.locator('[data-kpi="input_tokens"]').get_attribute("data-value")) == sum(
        r["input_tokens"] for b in whole for r in b["results"])
