"""Every bad input the contract lists gets its status and OpenAI's error envelope, naming the right
``param``; a rejected ingestion stores nothing; a server error leaks nothing."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from openusage.spec import ENDPOINTS, ENDPOINTS_BY_NAME, Endpoint
from tests.conftest import ADMIN_KEY, AppServer, new_store, start_app

T0 = 1_700_006_400  # a UTC midnight
USAGE = [e for e in ENDPOINTS if e.name != "costs"]
COSTS = ENDPOINTS_BY_NAME["costs"]
COMPLETIONS = ENDPOINTS_BY_NAME["completions"]
ids = [e.name for e in ENDPOINTS]


def assert_error(r: httpx.Response, status: int, param: str | None, code: str | None = None) -> dict[str, Any]:
    """The exact envelope: four keys, the status, the param (and the code when given)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["error"]
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str) and err["message"]
    assert err["type"] == ("server_error" if status >= 500 else "invalid_request_error")
    assert err["param"] == param
    if code is not None:
        assert err["code"] == code
    return err


@pytest.fixture(scope="module")
def admin(module_app_server: AppServer) -> Iterator[httpx.Client]:
    with module_app_server.client() as c:
        yield c


def get(c: httpx.Client, ep: Endpoint, items: list[tuple[str, Any]]) -> httpx.Response:
    return c.get(ep.full_path, params=items)


# -- query parameters ------------------------------------------------------------------------------

@pytest.mark.parametrize("ep", ENDPOINTS, ids=ids)
def test_start_time_missing_or_not_an_integer(admin: httpx.Client, ep: Endpoint) -> None:
    assert_error(get(admin, ep, []), 400, "start_time")
    assert_error(get(admin, ep, [("end_time", T0)]), 400, "start_time")
    for bad in ("", "abc", "1.5", "1e9", "0x10", "-1", "99999999999999", "\u0661\u0667" * 5, "1_700_000_000"):
        assert_error(get(admin, ep, [("start_time", bad)]), 400, "start_time")
    for bad in ("abc", "1.5", ""):
        assert_error(get(admin, ep, [("start_time", T0), ("end_time", bad)]), 400, "end_time")


@pytest.mark.parametrize("ep", ENDPOINTS, ids=ids)
def test_end_time_not_after_start_time(admin: httpx.Client, ep: Endpoint) -> None:
    assert_error(get(admin, ep, [("start_time", T0), ("end_time", T0)]), 400, "end_time")
    assert_error(get(admin, ep, [("start_time", T0), ("end_time", T0 - 1)]), 400, "end_time")
    assert get(admin, ep, [("start_time", T0), ("end_time", T0 + 1)]).status_code == 200


@pytest.mark.parametrize("ep", ENDPOINTS, ids=ids)
def test_unknown_bucket_width(admin: httpx.Client, ep: Endpoint) -> None:
    for bad in ("2h", "1s", "1w", "", "1D", "60"):
        assert_error(get(admin, ep, [("start_time", T0), ("bucket_width", bad)]), 400, "bucket_width")


def test_costs_take_only_daily_buckets(admin: httpx.Client) -> None:
    for width in ("1h", "1m"):
        assert_error(get(admin, COSTS, [("start_time", T0), ("bucket_width", width)]), 400, "bucket_width")
    assert get(admin, COSTS, [("start_time", T0), ("end_time", T0 + 86400), ("bucket_width", "1d")]).is_success


@pytest.mark.parametrize("ep", ENDPOINTS, ids=ids)
def test_limit_out_of_range_is_an_error_not_a_clamp(admin: httpx.Client, ep: Endpoint) -> None:
    expected = {"1d": 180 if ep.name == "costs" else 31, "1h": 168, "1m": 1440}
    for width, (_, most) in ep.limits.items():
        assert most == expected[width]
        base = [("start_time", T0), ("end_time", T0 + 3600), ("bucket_width", width)]
        for bad in (0, -1, most + 1, "x", "2.0"):
            assert_error(get(admin, ep, [*base, ("limit", bad)]), 400, "limit")
        for fine in (1, most):
            assert get(admin, ep, [*base, ("limit", fine)]).status_code == 200


@pytest.mark.parametrize("ep", ENDPOINTS, ids=ids)
def test_unknown_group_by(admin: httpx.Client, ep: Endpoint) -> None:
    foreign = [g for g in ("model", "line_item", "size", "vector_store_id", "batch") if g not in ep.group_by]
    for bad in ("nonsense", "", *foreign):
        if bad == "":
            continue  # an empty value is no value
        for items in ([("group_by", bad)], [("group_by[]", bad)], [("group_by", f"{ep.group_by[0]},{bad}")]):
            assert_error(get(admin, ep, [("start_time", T0), *items]), 400, "group_by")


@pytest.mark.parametrize(("name", "param", "good"), [
    ("images", "sizes", "1024x1024"),
    ("images", "sources", "image.edit"),
    ("web_search_calls", "context_levels", "medium"),
])
def test_unknown_enum_filter_value(admin: httpx.Client, name: str, param: str, good: str) -> None:
    ep = ENDPOINTS_BY_NAME[name]
    base = [("start_time", T0), ("end_time", T0 + 86400)]
    for items in ([(param, "bogus")], [(f"{param}[]", "bogus")], [(param, f"{good},bogus")],
                  [(param, good), (param, "BOGUS")]):
        assert_error(get(admin, ep, base + items), 400, param)
    assert get(admin, ep, [*base, (param, good)]).status_code == 200


def test_bad_batch_boolean(admin: httpx.Client) -> None:
    for bad in ("yes", "no", "", "2", "TRUEISH"):
        assert_error(get(admin, COMPLETIONS, [("start_time", T0), ("batch", bad)]), 400, "batch")
    for fine in ("true", "false"):
        assert get(admin, COMPLETIONS, [("start_time", T0), ("end_time", T0 + 60), ("batch", fine)]).is_success


@pytest.mark.parametrize("ep", ENDPOINTS, ids=ids)
def test_unknown_query_parameter(admin: httpx.Client, ep: Endpoint) -> None:
    assert_error(get(admin, ep, [("start_time", T0), ("foo", "1")]), 400, "foo")
    assert_error(get(admin, ep, [("start_time", T0), ("Start_Time", "1")]), 400, "Start_Time")
    others = {f.param for e in ENDPOINTS for f in e.filters} - {f.param for f in ep.filters}
    for param in sorted(others):  # another endpoint's filter is unknown here
        assert_error(get(admin, ep, [("start_time", T0), (param, "x")]), 400, param)


@pytest.mark.parametrize("param", ["start_time", "end_time", "bucket_width", "limit", "page", "batch"])
def test_repeated_scalar(admin: httpx.Client, param: str) -> None:
    value = {"start_time": T0, "end_time": T0 + 60, "bucket_width": "1d", "limit": 1, "page": "page_x",
             "batch": "true"}[param]
    base = [] if param == "start_time" else [("start_time", T0 - 60)]
    for items in ([(param, value), (param, value)], [(f"{param}[]", value)]):
        assert_error(get(admin, COMPLETIONS, base + items), 400, param)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("ep", ENDPOINTS, ids=ids)
def test_malformed_cursor(admin: httpx.Client, ep: Endpoint) -> None:
    base = [("start_time", T0), ("end_time", T0 + 10 * 86400), ("limit", 2)]
    for bad in ("", "x", "page_", "page_!!!", "nope_" + _b64(b"{}"), "page_" + _b64(b"not json"),
                "page_" + _b64(b"[1,2]"), "page_" + _b64(orjson.dumps({"v": 99, "n": T0, "e": T0, "q": "x"})),
                "page_" + _b64(orjson.dumps({"v": 1, "n": "1", "e": T0, "q": "x"}))):
        assert_error(get(admin, ep, [*base, ("page", bad)]), 400, "page")


@pytest.mark.parametrize("ep", ENDPOINTS, ids=ids)
def test_cursor_bound_to_its_parameters(admin: httpx.Client, ep: Endpoint) -> None:
    base = [("start_time", T0), ("end_time", T0 + 10 * 86400), ("limit", 2)]
    first = get(admin, ep, base).json()
    cursor = first["next_page"]
    assert first["has_more"] and cursor.startswith("page_")
    second = get(admin, ep, [*base, ("page", cursor)])
    assert second.status_code == 200 and second.json()["data"][0]["start_time"] == T0 + 2 * 86400
    changes = [
        [("start_time", T0 + 1), ("end_time", T0 + 10 * 86400), ("limit", 2)],
        [("start_time", T0), ("end_time", T0 + 11 * 86400), ("limit", 2)],
        [("start_time", T0), ("end_time", T0 + 10 * 86400), ("limit", 3)],
        [*base, ("group_by", ep.group_by[0])],
        [*base, (ep.filters[0].param, "proj_other")],
        [("start_time", T0), ("limit", 2)],
    ]
    for items in changes:
        assert_error(get(admin, ep, [*items, ("page", cursor)]), 400, "page")
    other = next(e for e in ENDPOINTS if e is not ep)
    assert_error(get(admin, other, [*base, ("page", cursor)]), 400, "page")


# -- authentication and scopes --------------------------------------------------------------------

def test_missing_or_unknown_key(module_app_server: AppServer) -> None:
    url = COMPLETIONS.full_path
    params = {"start_time": T0}
    headers_list: list[dict[str, str]] = [{}, {"Authorization": ""}, {"Authorization": "Bearer"},
                                          {"Authorization": f"Basic {ADMIN_KEY}"},
                                          {"Authorization": "Bearer sk-wrong"},
                                          {"Authorization": "Bearer ouk_000000000000_secret"},
                                          {"Authorization": f"Bearer {ADMIN_KEY}x"}]
    with module_app_server.http() as h:
        for headers in headers_list:
            assert_error(h.get(url, params=params, headers=headers), 401, None, "invalid_api_key")
            assert_error(h.post("/v1/usage/events", json={"events": []}, headers=headers), 401, None,
                         "invalid_api_key")


def _new_key(admin: httpx.Client, scope: str, projects: list[str] | None = None) -> str:
    r = admin.post("/v1/openusage/keys", json={"name": scope, "scope": scope, "projects": projects})
    assert r.status_code == 201, r.text
    return r.json()["key"]


def test_scopes(module_app_server: AppServer, admin: httpx.Client) -> None:
    ingest_key, read_key = _new_key(admin, "ingest"), _new_key(admin, "read")
    event = {"events": [{"id": "scope-1", "type": "completions", "timestamp": T0}]}
    with module_app_server.client(ingest_key) as c:
        for ep in ENDPOINTS:
            assert_error(get(c, ep, [("start_time", T0)]), 403, None)
        assert c.post("/v1/usage/events", json=event).json() == {"accepted": 1, "duplicates": 0}
        assert_error(c.get("/v1/openusage/keys"), 403, None)
    with module_app_server.client(read_key) as c:
        assert_error(c.post("/v1/usage/events", json=event), 403, None)
        assert_error(c.post("/v1/openusage/keys", json={"scope": "admin"}), 403, None)
        assert get(c, COMPLETIONS, [("start_time", T0), ("end_time", T0 + 60)]).status_code == 200
    key_id = read_key.split("_")[1]
    assert admin.delete(f"/v1/openusage/keys/{key_id}").status_code == 200
    with module_app_server.client(read_key) as c:
        assert_error(get(c, COMPLETIONS, [("start_time", T0)]), 401, None, "invalid_api_key")


def test_project_limited_read_key_sees_only_its_projects(module_app_server: AppServer, admin: httpx.Client) -> None:
    t = T0 + 40 * 86400
    events = [{"id": f"lim-{p}-{i}", "type": "embeddings", "timestamp": t + i, "project_id": p, "input_tokens": 5}
              for p in ("proj_a", "proj_b", "proj_c") for i in range(3)]
    events.append({"id": "lim-none", "type": "embeddings", "timestamp": t, "input_tokens": 5})
    assert admin.post("/v1/usage/events", json={"events": events}).json()["accepted"] == 10
    key = _new_key(admin, "read", ["proj_a", "proj_c"])
    ep = ENDPOINTS_BY_NAME["embeddings"]
    base = [("start_time", t), ("end_time", t + 86400)]

    def seen(c: httpx.Client, extra: list[tuple[str, Any]]) -> list[tuple[Any, int]]:
        results = get(c, ep, base + extra).json()["data"][0]["results"]
        return [(r["project_id"], r["input_tokens"]) for r in results]

    with module_app_server.client(key) as c:
        assert seen(c, []) == [(None, 30)]
        assert seen(c, [("group_by", "project_id")]) == [("proj_a", 15), ("proj_c", 15)]
        assert seen(c, [("project_ids", "proj_b")]) == []
        assert seen(c, [("project_ids", "proj_b,proj_c"), ("group_by", "project_id")]) == [("proj_c", 15)]
    assert seen(admin, [("group_by", "project_id")]) == [(None, 5), ("proj_a", 15), ("proj_b", 15), ("proj_c", 15)]


# -- routes, methods, bodies ------------------------------------------------------------------------

def test_unknown_route(admin: httpx.Client) -> None:
    for path in ("/v1/nope", "/v1/organization/usage/chat", "/v1/organization/usage", "/organization/costs",
                 "/v1/organization/costs/extra"):
        assert_error(admin.get(path, params={"start_time": T0}), 404, None)


def test_wrong_method(admin: httpx.Client) -> None:
    for ep in ENDPOINTS:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert_error(admin.request(method, ep.full_path, params={"start_time": T0}), 405, None)
    for method in ("GET", "PUT", "DELETE"):
        assert_error(admin.request(method, "/v1/usage/events"), 405, None)


@pytest.fixture
def small_server(make_app: Callable[..., AppServer]) -> AppServer:
    return make_app(max_body_bytes=2048)


def test_oversize_body(small_server: AppServer) -> None:
    big = {"events": [{"id": f"big-{i}", "type": "completions", "timestamp": T0} for i in range(100)]}
    body = orjson.dumps(big)
    assert len(body) > 2048
    with small_server.client() as c:
        assert_error(c.post("/v1/usage/events", content=body, headers={"content-type": "application/json"}),
                     413, None)

        def chunks() -> Iterator[bytes]:  # no content-length: the limit holds while streaming
            for i in range(0, len(body), 500):
                yield body[i:i + 500]

        assert_error(c.post("/v1/usage/events", content=chunks(), headers={"content-type": "application/json"}),
                     413, None)
        small = {"events": big["events"][:5]}
        assert c.post("/v1/usage/events", json=small).json() == {"accepted": 5, "duplicates": 0}
    assert small_server.store.count_events() == 5


def test_rate_limited(make_app: Callable[..., AppServer]) -> None:
    with make_app(rate_limit=0.01, rate_burst=2).client() as c:
        answers = [get(c, COMPLETIONS, [("start_time", T0), ("end_time", T0 + 60)]) for _ in range(3)]
    assert [r.status_code for r in answers[:2]] == [200, 200]
    err = answers[2]
    assert err.status_code == 429 and int(err.headers["retry-after"]) >= 1
    body = err.json()
    assert list(body) == ["error"] and set(body["error"]) == {"message", "type", "param", "code"}
    assert (body["error"]["type"], body["error"]["code"]) == ("rate_limit_error", "rate_limit_exceeded")


def _no_leak(r: httpx.Response, status: int, secrets: tuple[str, ...]) -> None:
    err = assert_error(r, status, None)
    text = r.text.lower()
    for leak in ("traceback", "select", "error:", *secrets):
        assert leak.lower() not in text, leak
    if status == 500:
        assert err["message"].startswith("The server had an error while processing your request")


def test_internal_error_leaks_nothing(tmp_path: Path) -> None:
    store = new_store(tmp_path / "gone.duckdb")
    srv = start_app(store)
    secret = f"SECRET at {tmp_path} in SELECT * FROM events"

    def broken(*args: Any) -> Any:
        raise RuntimeError(secret)

    try:
        store.aggregate = broken  # type: ignore[method-assign]  # a bug deep in the engine
        store.execute = broken  # type: ignore[method-assign]  # (costs pages are one engine statement)
        with srv.client() as c:
            for ep in ENDPOINTS:
                _no_leak(get(c, ep, [("start_time", T0), ("end_time", T0 + 86400)]), 500, (secret, str(tmp_path)))
        del store.aggregate, store.execute
        store.close()  # the engine itself gone: a 5xx, still without its words
        with srv.client() as c:
            r = get(c, COMPLETIONS, [("start_time", T0), ("end_time", T0 + 86400)])
            assert r.status_code in (500, 503)
            _no_leak(r, r.status_code, ("duckdb", "connection", str(tmp_path)))
    finally:
        srv.stop()


# -- ingestion -------------------------------------------------------------------------------------

def _valid(i: int) -> dict[str, Any]:
    return {"id": f"ok-{i}", "type": "completions", "timestamp": T0 + i, "input_tokens": 5}


BAD_EVENTS: list[tuple[dict[str, Any], str]] = [
    ({"id": "b", "type": "completions", "timestamp": T0, "input_tokens": -1}, "input_tokens"),
    ({"id": "b", "type": "completions", "timestamp": T0, "input_tokens": 1.5}, "input_tokens"),
    ({"id": "b", "type": "completions", "timestamp": T0, "input_tokens": "5"}, "input_tokens"),
    ({"id": "b", "type": "completions", "timestamp": T0, "output_tokens": 2**63}, "output_tokens"),
    ({"id": "b", "type": "completions", "timestamp": T0, "num_model_requests": None}, "num_model_requests"),
    ({"id": "b", "type": "completions", "timestamp": T0, "bogus": 1}, "bogus"),
    ({"id": "b", "type": "completions", "timestamp": T0, "size": "256x256"}, "size"),
    ({"id": "b", "type": "embeddings", "timestamp": T0, "output_tokens": 3}, "output_tokens"),
    ({"type": "completions", "timestamp": T0}, "id"),
    ({"id": "", "type": "completions", "timestamp": T0}, "id"),
    ({"id": "x" * 257, "type": "completions", "timestamp": T0}, "id"),
    ({"id": 7, "type": "completions", "timestamp": T0}, "id"),
    ({"id": "b", "timestamp": T0}, "type"),
    ({"id": "b", "type": "chat", "timestamp": T0}, "type"),
    ({"id": "b", "type": "completions"}, "timestamp"),
    ({"id": "b", "type": "completions", "timestamp": -1}, "timestamp"),
    ({"id": "b", "type": "completions", "timestamp": 10**12}, "timestamp"),
    ({"id": "b", "type": "completions", "timestamp": "2024-01-01"}, "timestamp"),
    ({"id": "b", "type": "completions", "timestamp": T0, "batch": "yes"}, "batch"),
    ({"id": "b", "type": "completions", "timestamp": T0, "model": 4}, "model"),
    ({"id": "b", "type": "completions", "timestamp": T0, "api_source": "web"}, "api_source"),
    ({"id": "b", "type": "images", "timestamp": T0, "size": "3x3"}, "size"),
    ({"id": "b", "type": "images", "timestamp": T0, "source": "image.paint"}, "source"),
    ({"id": "b", "type": "web_searches", "timestamp": T0, "context_level": "max"}, "context_level"),
    ({"id": "b", "type": "vector_stores", "timestamp": T0, "usage_bytes": -5}, "usage_bytes"),
    ({"id": "b", "type": "costs", "timestamp": T0}, "amount"),
    ({"id": "b", "type": "costs", "timestamp": T0, "amount": "NaN"}, "amount"),
    ({"id": "b", "type": "costs", "timestamp": T0, "amount": "1e30"}, "amount"),
    ({"id": "b", "type": "costs", "timestamp": T0, "amount": "-1e18"}, "amount"),
    ({"id": "b", "type": "costs", "timestamp": T0, "amount": "1" * 40}, "amount"),
    ({"id": "b", "type": "costs", "timestamp": T0, "amount": "ten"}, "amount"),
    ({"id": "b", "type": "costs", "timestamp": T0, "amount": {"value": "1", "currency": "eur"}}, "amount.currency"),
    ({"id": "b", "type": "costs", "timestamp": T0, "amount": 1, "quantity_unit": "liters"}, "quantity_unit"),
    ({"id": "b", "type": "costs", "timestamp": T0, "amount": 1, "quantity": 2e15}, "quantity"),
]


@pytest.fixture(scope="module")
def ingest_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    store = new_store(tmp_path_factory.mktemp("ingest") / "usage.duckdb")
    srv = start_app(store)
    yield srv
    srv.stop()
    store.close()


def _nothing_stored(srv: AppServer, c: httpx.Client) -> None:
    assert srv.store.count_events() == 0
    for ep in ENDPOINTS:
        page = get(c, ep, [("start_time", T0 - 86400), ("end_time", T0 + 86400)]).json()
        assert all(b["results"] == [] for b in page["data"])


@pytest.mark.parametrize(("bad", "field"), BAD_EVENTS, ids=[f"{i}-{f}" for i, (_, f) in enumerate(BAD_EVENTS)])
def test_invalid_event_rejects_the_whole_request(ingest_server: AppServer, bad: dict[str, Any], field: str) -> None:
    events = [_valid(0), _valid(1), _valid(2), bad, _valid(4)]
    with ingest_server.client() as c:
        assert_error(c.post("/v1/usage/events", json={"events": events}), 400, f"events[3].{field}")
        ndjson = b"\n".join(orjson.dumps(e) for e in events)
        assert_error(c.post("/v1/usage/events", content=ndjson, headers={"content-type": "application/x-ndjson"}),
                     400, f"events[3].{field}")
        _nothing_stored(ingest_server, c)


@pytest.mark.parametrize(("body", "ctype", "param"), [
    (b"{not json", "application/json", None),
    (b"[]", "application/json", None),
    (b'{"events": {}}', "application/json", "events"),
    (b'{"events": [], "extra": 1}', "application/json", "extra"),
    (b'{"events": [1]}', "application/json", "events[0]"),
    (b'{"id":"a","type":"completions","timestamp":1}\n{"id":"b",', "application/x-ndjson", "events[1]"),
    (b'{"id":"a","type":"completions","timestamp":1}\n[1]', "application/x-ndjson", "events[1]"),
    (b'{"events": []}', "text/plain", None),
])
def test_malformed_bodies(ingest_server: AppServer, body: bytes, ctype: str, param: str | None) -> None:
    with ingest_server.client() as c:
        assert_error(c.post("/v1/usage/events", content=body, headers={"content-type": ctype}), 400, param)
        _nothing_stored(ingest_server, c)
