"""``GET /v1/organization/costs`` over real HTTP: priced usage, pages, keys, errors, and the official SDK."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import openai
import pytest

from openusage.auth import create_key
from openusage.pricing import PriceBook, compute_costs, parse_custom, save_custom
from tests.conftest import LiveServer

DAY0 = int(dt.datetime(2025, 9, 1, tzinfo=dt.UTC).timestamp())
DAY = 86400
M = 1_000_000


def _events() -> list[dict[str, Any]]:
    evs: list[dict[str, Any]] = []
    for d in range(5):
        t = DAY0 + d * DAY + 3600
        evs += [
            {"type": "completions", "model": "gpt-4o-2024-08-06", "project_id": "p1", "api_key_id": "k1",
             "user_id": "u1", "input_tokens": M, "input_cached_tokens": 200_000, "output_tokens": 100_000},
            {"type": "completions", "model": "gpt-4o-mini", "project_id": "p2", "api_key_id": "k2", "batch": True,
             "input_tokens": 2 * M, "output_tokens": M, "api_source": "agents_api"},
            {"type": "images", "model": "dall-e-3", "size": "1024x1024", "project_id": "p2", "images": 2},
            {"type": "vector_stores", "project_id": "p1", "usage_bytes": 2**30},
            {"type": "web_searches", "model": "gpt-5", "project_id": "p1", "num_requests": 4},
        ]
        evs[-5]["timestamp"] = t
        for e in evs[-5:]:
            e["timestamp"] = t
    evs.append({"type": "costs", "line_item": "support plan", "project_id": "p1", "amount": "12.5",
                "timestamp": DAY0 + 100})
    evs.append({"type": "completions", "model": "mystery-model", "project_id": "p2", "input_tokens": 5,
                "timestamp": DAY0 + 2 * DAY})
    return [{**e, "id": f"c{i}"} for i, e in enumerate(evs)]


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    with live_server.client() as c:
        r = c.post("/v1/usage/events", json={"events": _events()})
        assert r.status_code == 200, r.text
    return live_server


def _get(server: LiveServer, key: str | None = None, **params: Any) -> Any:
    with server.client(key) as c:
        return c.get("/v1/organization/costs", params={"start_time": DAY0, "end_time": DAY0 + 5 * DAY, **params})


def test_costs_by_line_item_with_quantities(server: LiveServer) -> None:
    r = _get(server, group_by="line_item", limit=1)
    assert r.status_code == 200
    body = r.json()
    assert body["has_more"] is True and body["next_page"].startswith("page_")
    (bucket,) = body["data"]
    got = {x["line_item"]: (x["amount"]["value"], x["quantity"], x["quantity_unit"]) for x in bucket["results"]}
    assert got == {
        "dall-e-3, images 1024x1024 (standard)": (0.08, 2.0, "images"),
        "gpt-4o-2024-08-06, cached input": (0.25, 200000.0, "tokens"),
        "gpt-4o-2024-08-06, input": (2.0, 800000.0, "tokens"),
        "gpt-4o-2024-08-06, output": (1.0, 100000.0, "tokens"),
        "gpt-4o-mini, batch input": (0.15, 2000000.0, "tokens"),
        "gpt-4o-mini, batch output": (0.3, 1000000.0, "tokens"),
        "support plan": (12.5, None, None),
        "vector store storage": (0.1, 24.0, "gibibyte_hours"),
        "vector store storage, free allowance": (-0.1, -24.0, "gibibyte_hours"),  # the first GiB is free
        "web search tool calls": (0.04, 4.0, None),
    }
    assert [x["line_item"] for x in bucket["results"]] == sorted(got)
    first = bucket["results"][0]
    assert first["object"] == "organization.costs.result" and first["amount"]["currency"] == "usd"
    assert first["project_id"] is None


def test_pages_concatenate_to_the_single_page_and_unpriced_are_flagged(server: LiveServer, caplog: Any) -> None:
    whole = _get(server, group_by="project_id", limit=7)
    assert whole.headers["openusage-unpriced-models"] == "mystery-model"
    pages = []
    params: dict[str, Any] = {"group_by": "project_id", "limit": 2}
    while True:
        r = _get(server, **params)
        assert r.status_code == 200
        pages += r.json()["data"]
        if not r.json()["has_more"]:
            break
        params["page"] = r.json()["next_page"]
    assert pages == whole.json()["data"]
    assert len(pages) == 5
    day_totals = [round(sum(x["amount"]["value"] for x in b["results"]), 9) for b in pages]
    assert day_totals == [16.32, 3.82, 3.82, 3.82, 3.82]  # 1 GiB stored a day: within the free GiB


def test_unpriced_models_are_logged_once_an_hour(server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    from openusage.pricing import costs

    costs._warned.clear()
    with caplog.at_level(logging.WARNING, logger="openusage.pricing"):
        first = _get(server)
        again = _get(server)
    warned = [rec for rec in caplog.records if "mystery-model" in rec.getMessage()]
    assert len(warned) == 1  # the second request within the hour is not logged again
    assert "mystery-model" in first.headers["openusage-unpriced-models"]
    assert "mystery-model" in again.headers["openusage-unpriced-models"]  # the header says it every time
    assert costs._due_warnings(["mystery-model"], now=costs.time.monotonic() + costs.WARN_EVERY_S) == [
        "mystery-model"]


def test_empty_buckets_and_unaligned_start(server: LiveServer) -> None:
    r = _get(server, start_time=DAY0 - 2 * DAY + 3600, end_time=DAY0 + DAY)
    data = r.json()["data"]
    assert [(b["start_time"], b["end_time"], len(b["results"])) for b in data] == [
        (DAY0 - 2 * DAY + 3600, DAY0 - DAY, 0), (DAY0 - DAY, DAY0, 0), (DAY0, DAY0 + DAY, 1)]
    assert data[2]["results"][0]["amount"]["value"] == 16.32
    assert "openusage-unpriced-models" not in r.headers


def test_filters(server: LiveServer) -> None:
    def total(**params: Any) -> float:
        r = _get(server, **params)
        assert r.status_code == 200, r.text
        return round(sum(x["amount"]["value"] for b in r.json()["data"] for x in b["results"]), 9)

    assert total(project_ids="p2") == 2.65  # 5 days x (2 images x $0.04 + batch $0.15 + $0.30)
    assert total(api_key_ids="k1") == 16.25  # 5 x (2.00 + 0.25 + 1.00)
    assert total(**{"line_items[]": ["support plan", "web search tool calls"]}) == 12.7


def test_read_key_limited_to_projects_sees_only_them(server: LiveServer) -> None:
    key = create_key(server.store, "p2 reader", "read", ["p2"]).secret
    r = _get(server, key=key, group_by="project_id")
    projects = {x["project_id"] for b in r.json()["data"] for x in b["results"]}
    assert projects == {"p2"}
    r = _get(server, key=key, project_ids="p1")
    assert all(b["results"] == [] for b in r.json()["data"])


def test_custom_prices_in_the_store_reprice_from_their_date(server: LiveServer) -> None:
    save_custom(server.store, parse_custom([{"model": "mystery-model", "effective_from": "2025-09-03",
                                             "input": 1000000}]))
    r = _get(server, line_items="mystery-model, input", group_by="line_item")
    assert "openusage-unpriced-models" not in r.headers
    assert [(b["start_time"], [x["amount"]["value"] for x in b["results"]]) for b in r.json()["data"]] == [
        (DAY0 + d * DAY, [5.0] if d == 2 else []) for d in range(5)]
    save_custom(server.store, parse_custom([{"model": "mystery-model", "effective_from": "2025-09-04",
                                             "input": 1000000}]))
    assert _get(server).headers["openusage-unpriced-models"] == "mystery-model"


@pytest.mark.parametrize("params,param", [
    ({"bucket_width": "1h"}, "bucket_width"),
    ({"limit": 181}, "limit"),
    ({"limit": 0}, "limit"),
    ({"group_by": "model"}, "group_by"),
    ({"models": "gpt-4o"}, "models"),
    ({"page": "page_bogus"}, "page"),
])
def test_bad_parameters(server: LiveServer, params: dict[str, Any], param: str) -> None:
    r = _get(server, **params)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == param


def test_limit_180_is_accepted(server: LiveServer) -> None:
    r = _get(server, limit=180, start_time=DAY0 - 170 * DAY)
    assert r.status_code == 200 and len(r.json()["data"]) == 175


def test_the_official_sdk_parses_every_answer(server: LiveServer) -> None:
    client = openai.OpenAI(admin_api_key=server.admin_key, base_url=server.url + "/v1", max_retries=0)
    costs = client.admin.organization.usage.costs
    seen = 0
    for group_by in ([], ["line_item"], ["project_id"], ["project_id", "line_item", "api_key_id", "user_id",
                                                          "api_source"]):
        page = costs(start_time=DAY0, end_time=DAY0 + 5 * DAY, group_by=group_by, limit=3)  # type: ignore[arg-type]
        pages = [page]
        while pages[-1].has_more:
            pages.append(costs(start_time=DAY0, end_time=DAY0 + 5 * DAY, group_by=group_by,  # type: ignore[arg-type]
                               limit=3, page=pages[-1].next_page))
        assert len(pages) == 2
        for p in pages:
            for b in p.data:
                for res in b.results:
                    assert res.object == "organization.costs.result"
                    assert res.amount is not None and res.amount.currency == "usd"
                    assert isinstance(res.amount.value, float)
                    if "line_item" in group_by:
                        assert res.line_item
                    seen += 1
    assert seen > 40
    filtered = costs(start_time=DAY0, end_time=DAY0 + DAY, project_ids=["p1"], api_key_ids=["k1"],
                     line_items=["gpt-4o-2024-08-06, input"], group_by=["line_item"])
    (res,) = filtered.data[0].results
    assert (res.line_item, res.amount.value, res.quantity, res.quantity_unit) == (  # type: ignore[union-attr]
        "gpt-4o-2024-08-06, input", 2.0, 800000.0, "tokens")
    client.close()


def test_http_totals_match_the_exact_decimals(server: LiveServer) -> None:
    exact = compute_costs(server.store, DAY0, DAY0 + 5 * DAY, book=PriceBook())
    r = _get(server)
    got = sum(x["amount"]["value"] for b in r.json()["data"] for x in b["results"])
    assert abs(got - float(exact.total() + Decimal("12.5"))) < 1e-9  # priced usage plus the imported line


def test_prices_through_a_running_server(server: LiveServer) -> None:
    from click.testing import CliRunner

    from openusage.cli import cli

    def run(*args: str) -> tuple[int, str]:
        res = CliRunner().invoke(cli, [*args, "--url", server.url, "--key", server.admin_key], env={"COLUMNS": "200"})
        return res.exit_code, res.output

    code, out = run("prices", "set", "mystery-model", "--input", "1000000", "--from", "2025-09-01")
    assert code == 0, out
    assert "openusage-unpriced-models" not in _get(server).headers
    code, out = run("prices", "list", "--custom")
    assert code == 0 and "mystery-model" in out and "input 1000000" in out
    with server.client() as c:
        listed = c.get("/v1/openusage/prices").json()
        assert listed == {"object": "list", "data": [{"model": "mystery-model", "kind": "completions",
                                                      "effective_from": "2025-09-01", "input": "1000000"}]}
    code, out = run("prices", "remove", "mystery-model", "--from", "2025-09-01")
    assert code == 0, out
    assert _get(server).headers["openusage-unpriced-models"] == "mystery-model"
    code, out = run("prices", "remove", "mystery-model", "--from", "2025-09-01")
    assert code != 0 and "404: No custom price for 'mystery-model'" in out


@pytest.mark.parametrize("method,kw,status,param", [
    ("POST", {"content": b"{nope"}, 400, None),
    ("POST", {"json": {"prices": [{"model": "x", "effective_from": "2026-01-01", "input": -1}]}}, 400, "prices"),
    ("POST", {"json": {"prices": [{"model": "x", "input": 1}]}}, 400, "prices"),
    ("DELETE", {"params": {"effective_from": "2026-01-01"}}, 400, "model"),
    ("DELETE", {"params": {"model": "x", "effective_from": "soon"}}, 400, "effective_from"),
    ("DELETE", {"params": {"model": "x", "effective_from": "2026-01-01"}}, 404, "model"),
])
def test_price_routes_refuse_bad_requests(server: LiveServer, method: str, kw: dict[str, Any], status: int,
                                          param: str | None) -> None:
    with server.client() as c:
        r = c.request(method, "/v1/openusage/prices", **kw)
    assert r.status_code == status
    assert r.json()["error"]["param"] == param


def test_price_routes_need_an_admin_key(server: LiveServer) -> None:
    key = create_key(server.store, "reader", "read").secret
    with server.client(key) as c:
        assert c.get("/v1/openusage/prices").status_code == 403
        r = c.post("/v1/openusage/prices", json={"prices": [{"model": "x", "effective_from": "2026-01-01",
                                                             "input": 1}]})
        assert r.status_code == 403
    with server.client("nope") as c:
        assert c.get("/v1/openusage/prices").status_code == 401
