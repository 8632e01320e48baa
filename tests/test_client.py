"""UsageApi and AsyncUsageApi against a real openusage server on loopback, every method and its
``_with_http_info`` twin, compared with the independent reference model (tests/reference.py)."""

from __future__ import annotations

import contextlib
import inspect
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from openusage import (
    ApiResponse,
    ArgumentError,
    AsyncUsageApi,
    AuthenticationError,
    BadRequestError,
    Bucket,
    Page,
    UsageApi,
)
from openusage.spec import DIMENSIONS, ENDPOINTS, ENDPOINTS_BY_NAME, QUANTITY_UNITS, Endpoint, event_dimensions
from tests.conftest import AppServer, LiveServer, new_store, start_app
from tests.reference import consistent_tokens, reference_buckets

DAY = 86400
T0 = 1_728_000_000 - 1_728_000_000 % DAY  # 2024-10-04 00:00 UTC
START = T0 + 5 * 3600  # not aligned: the first bucket is clipped
END = T0 + 4 * DAY + 7 * 3600
VALUES = {
    "project_id": ["proj_a", "proj_b", "proj_c"],
    "user_id": ["user_1", "user_2"],
    "api_key_id": ["key_1", "key_2"],
    "model": ["gpt-4o", "gpt-4o-mini"],
    "batch": [True, False],
    "service_tier": ["default", "flex"],
    "vector_store_id": ["vs_1", "vs_2"],
    "line_item": ["gpt-4o, input", "gpt-4o, output", "web search"],
}


def make_events(seed: int = 11, per_type: int = 40) -> list[dict[str, Any]]:
    """Events of every type spread over the range (and a little outside it), some dimensions left out."""
    events: list[dict[str, Any]] = []
    for ep in ENDPOINTS:
        rng = random.Random(f"{seed}:{ep.name}")  # one stream per endpoint: a new dimension elsewhere changes none
        for i in range(per_type):
            ev: dict[str, Any] = {"id": f"{ep.event_type}-{i}", "type": ep.event_type,
                                  "timestamp": rng.randint(T0 - 3600, END + 3600) + rng.random()}
            for d in event_dimensions(ep.event_type):
                if rng.random() < 0.15:
                    continue  # left out: the default (or null) applies
                spec = DIMENSIONS[d]
                ev[d] = rng.choice(spec.enum if spec.enum else VALUES[d])
            for m in ep.metrics:
                if m.agg in ("sum", "gauge") and rng.random() < 0.9:
                    ev[m.name] = rng.randint(0, 5000)
            if ep.name == "costs":
                ev["amount"] = f"{rng.randint(0, 10**6) / 10**5:.5f}"
                ev["quantity"] = float(rng.randint(1, 1000))
                ev["quantity_unit"] = rng.choice(QUANTITY_UNITS)
            events.append(consistent_tokens(ev))
    return events


EVENTS = make_events()


USAGE_EVENTS = [e for e in EVENTS if e["type"] != "costs"]
COST_EVENTS = [e for e in EVENTS if e["type"] == "costs"]


@pytest.fixture(scope="module")
def server(module_app_server: AppServer) -> AppServer:
    """The usage events (costs of usage are priced at query time: the pricing module's tests)."""
    with sync_api(module_app_server) as api:
        answer = api.ingest_events(USAGE_EVENTS)
    assert answer == {"accepted": len(USAGE_EVENTS), "duplicates": 0}
    return module_app_server


@pytest.fixture(scope="module")
def costs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """Only cost lines: there ``/costs`` answers the contract's sums of imported lines."""
    store = new_store(tmp_path_factory.mktemp("costs") / "usage.duckdb")
    srv = start_app(store)
    with sync_api(srv) as api:
        assert api.ingest_events(COST_EVENTS)["accepted"] == len(COST_EVENTS)
    yield srv
    srv.stop()
    store.close()


@pytest.fixture
def servers(server: AppServer, costs_server: AppServer) -> dict[str, AppServer]:
    return {"usage": server, "costs": costs_server}


def server_for(servers: dict[str, AppServer], ep: Endpoint) -> AppServer:
    return servers["costs" if ep.name == "costs" else "usage"]


@contextlib.contextmanager
def sync_api(server: AppServer, key: str | None = None, **options: Any) -> Iterator[UsageApi]:
    """The client over the in-process app (its own HTTP client is tested against sockets in
    tests/test_client_retry.py)."""
    with server.http() as http, UsageApi(server.url, key or server.admin_key, http_client=http, **options) as api:
        yield api


@pytest.fixture
def api(server: AppServer) -> Iterator[UsageApi]:
    with sync_api(server) as client:
        yield client


@pytest.fixture
def costs_api(costs_server: AppServer) -> Iterator[UsageApi]:
    with sync_api(costs_server) as client:
        yield client


def queries(ep: Endpoint) -> list[dict[str, Any]]:
    """The queries every endpoint is checked with: plain, fully grouped, one filter, finer buckets."""
    out: list[dict[str, Any]] = [{}, {"group_by": list(ep.group_by)}, {"group_by": ep.group_by[0]}]
    f = ep.filters[0]
    out.append({f.param: VALUES[f.dimension][:2], "group_by": [f.dimension]})
    if "1h" in ep.limits:
        out.append({"bucket_width": "1h", "group_by": ["project_id"], "end_time": START + 30 * 3600})
    return out


def expected(ep: Endpoint, q: dict[str, Any]) -> list[dict[str, Any]]:
    filters = {f.param: q[f.param] for f in ep.filters if f.param in q}
    group_by = q.get("group_by", ())
    return reference_buckets(ep, EVENTS, start_time=START, end_time=q.get("end_time", END),
                             bucket_width=q.get("bucket_width", "1d"),
                             group_by=[group_by] if isinstance(group_by, str) else group_by, filters=filters)


def call_args(q: dict[str, Any]) -> dict[str, Any]:
    return {"end_time": END, **q}


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: e.name)
def test_every_method_and_twin_matches_the_reference(servers: dict[str, AppServer], ep: Endpoint) -> None:
    srv = server_for(servers, ep)
    http = srv.http()
    api = UsageApi(srv.url, srv.admin_key, http_client=http)
    method = getattr(api, ep.method_name)
    twin = getattr(api, f"{ep.method_name}_with_http_info")
    for q in queries(ep):
        want = expected(ep, q)
        page = method(START, **call_args(q), limit=ep.limits[q.get("bucket_width", "1d")][1])
        assert isinstance(page, Page)
        assert page.to_dict()["data"] == want, q
        assert not page.has_more and page.next_page is None
        info = twin(start_time=START, **call_args(q), limit=ep.limits[q.get("bucket_width", "1d")][1])
        assert isinstance(info, ApiResponse)
        assert info.status_code == 200
        assert info.headers["content-type"].startswith("application/json")
        assert info.data.to_dict() == page.to_dict()
    api.close()
    http.close()


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: e.name)
async def test_every_async_method_and_twin_matches_the_reference(servers: dict[str, AppServer],
                                                                 ep: Endpoint) -> None:
    srv = server_for(servers, ep)
    async with srv.async_http() as http, AsyncUsageApi(srv.url, srv.admin_key, http_client=http) as api:
        q = {"group_by": list(ep.group_by)}
        want = expected(ep, q)
        page = await getattr(api, ep.method_name)(START, **call_args(q), limit=2, paginate=True)
        assert page.to_dict()["data"] == want
        info = await getattr(api, f"{ep.method_name}_with_http_info")(START, **call_args(q), limit=2)
        assert info.status_code == 200 and info.data.has_more and info.data.next_page.startswith("page_")
        assert info.data.to_dict()["data"] == want[:2]
        buckets = [b async for b in getattr(api, f"iter_{ep.name}")(START, **call_args(q), limit=1)]
        assert [b.to_dict() for b in buckets] == want


def test_pagination_across_many_pages(api: UsageApi) -> None:
    ep = ENDPOINTS_BY_NAME["completions"]
    q = {"bucket_width": "1h", "group_by": ["model", "project_id"]}
    want = expected(ep, q)
    assert len(want) == 98  # every hour from T0+5h to T0+4d+7h, empty ones included
    first = api.usage_completions(START, end_time=END, limit=10, **q)
    assert len(first.data) == 10 and first.has_more and first.next_page
    second = api.usage_completions(START, end_time=END, limit=10, page=first.next_page, **q)
    assert [b.to_dict() for b in [*first.data, *second.data]] == want[:20]
    all_pages = api.usage_completions(START, end_time=END, limit=10, paginate=True, **q)
    assert all_pages.to_dict() == {"object": "page", "data": want, "has_more": False, "next_page": None}
    buckets = list(api.iter_completions(START, end_time=END, limit=7, **q))
    assert all(isinstance(b, Bucket) for b in buckets)
    assert [b.to_dict() for b in buckets] == want
    one_by_one = list(api.iter_completions(START, end_time=END, limit=1, **q))
    assert len(one_by_one) == 98 and one_by_one[-1].end_time == END


def test_datetimes_and_single_strings_are_accepted(api: UsageApi) -> None:
    ep = ENDPOINTS_BY_NAME["images"]
    page = api.usage_images(datetime.fromtimestamp(START, UTC), end_time=datetime.fromtimestamp(END),  # naive: UTC
                            sizes="1024x1024", group_by="size", limit=31)
    assert page.to_dict()["data"] == expected(ep, {"sizes": ["1024x1024"], "group_by": ["size"]})


def test_arguments_are_validated_before_sending(api: UsageApi) -> None:
    sent: list[httpx.Request] = []
    api._http.event_hooks["request"].append(sent.append)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("usage_completions", {"group_by": ["size"]}, "Invalid group_by value 'size': /organization/usage/"
                                                      "completions groups by project_id, user_id, api_key_id, model, "
                                                      "batch, service_tier, api_source, origin."),
        ("usage_completions", {"bucket_width": "1m", "limit": 1441},
         "Invalid limit 1441: with bucket_width=1m it must be between 1 and 1440."),
        ("usage_costs", {"bucket_width": "1h"}, "Invalid bucket_width '1h': /organization/costs supports 1d."),
        ("usage_costs", {"limit": 181}, "Invalid limit 181: with bucket_width=1d it must be between 1 and 180."),
        ("usage_images", {"sizes": ["3x3"]}, "Invalid value '3x3' for 'sizes': allowed are 256x256, 512x512, "
                                             "1024x1024, 1792x1792, 1024x1792."),
        ("usage_vector_stores", {"end_time": START}, "'end_time' must be later than 'start_time'."),
        ("usage_web_search_calls", {"context_levels": ["huge"]},
         "Invalid value 'huge' for 'context_levels': allowed are low, medium, high."),
    ]
    for method, kwargs, message in cases:
        with pytest.raises(ArgumentError) as info:
            getattr(api, method)(START, **kwargs)
        assert info.value.message == message
        assert isinstance(info.value, BadRequestError) and isinstance(info.value, ValueError)
    for bad, param in (({"limit": "7"}, "limit"), ({"models": [1]}, "models"), ({"end_time": 1.5}, "end_time")):
        with pytest.raises(ArgumentError) as info:
            api.usage_completions(START, **bad)
        assert info.value.param == param
    with pytest.raises(ArgumentError, match="start_time"):
        api.usage_completions("yesterday")
    with pytest.raises(TypeError, match="sizes"):
        api.usage_completions(START, sizes=["1024x1024"])  # not a parameter of completions
    with pytest.raises(TypeError):
        api.usage_completions()
    with pytest.raises(ArgumentError):
        api.iter_completions(START, group_by="size")  # eager, not at the first next()
    assert sent == []


def test_server_errors_carry_status_fields_and_headers(server: AppServer) -> None:
    with sync_api(server, "sk-wrong") as bad, pytest.raises(AuthenticationError) as info:
        bad.usage_embeddings(START)
    err = info.value
    assert err.status == 401 and err.code == "invalid_api_key" and err.type == "invalid_request_error"
    assert err.headers["content-type"].startswith("application/json")
    assert err.body["error"]["message"] == err.message
    with sync_api(server, validate=False) as api:
        with pytest.raises(BadRequestError) as info2:
            api.usage_embeddings(START, group_by=["size"])
        assert not isinstance(info2.value, ArgumentError)  # the server's own 400
        assert info2.value.param == "group_by" and info2.value.status == 400
        first = api.usage_embeddings(START, end_time=END, limit=1)
        with pytest.raises(BadRequestError) as info3:  # a cursor of another query: opaque to the client
            api.usage_embeddings(START, end_time=END, limit=2, page=first.next_page)
        assert info3.value.param == "page"


def test_signatures_and_docstrings_come_from_the_spec() -> None:
    for ep in ENDPOINTS:
        for cls in (UsageApi, AsyncUsageApi):
            for name in (ep.method_name, f"{ep.method_name}_with_http_info", f"iter_{ep.name}"):
                fn = getattr(cls, name)
                params = list(inspect.signature(fn).parameters)
                assert sorted(params[1:len(ep.parameters) + 1]) == sorted(ep.parameters), name
                assert params[1:len(ep.positional_parameters) + 1] == list(ep.positional_parameters), name
                assert ep.summary in fn.__doc__ and ep.full_path in fn.__doc__
                for g in ep.group_by:
                    assert g in fn.__doc__
        assert "paginate" in inspect.signature(getattr(UsageApi, ep.method_name)).parameters
        assert inspect.iscoroutinefunction(getattr(AsyncUsageApi, ep.method_name))


def test_to_pandas_and_to_polars(api: UsageApi, costs_api: UsageApi) -> None:
    ep = ENDPOINTS_BY_NAME["costs"]
    page = costs_api.usage_costs(START, end_time=END, group_by=["line_item", "project_id"], paginate=True, limit=1)
    rows = [(b["start_time"], r) for b in expected(ep, {"group_by": ["line_item", "project_id"]})
            for r in b["results"]]
    df = page.to_pandas()
    assert len(df) == len(rows) > 0
    assert str(df["start_time"].dtype) == "datetime64[ns, UTC]" or str(df["start_time"].dtype).endswith(", UTC]")
    assert df["start_time"].iloc[0].timestamp() == rows[0][0]
    assert df["amount"].tolist() == [r["amount"]["value"] for _, r in rows]
    assert set(df["currency"]) == {"usd"}
    assert [None if v != v else v for v in df["line_item"]] == [r["line_item"] for _, r in rows]  # NaN: missing
    pl_df = page.to_polars()
    assert pl_df.height == len(rows)
    assert str(pl_df.schema["end_time"]).startswith("Datetime") and "UTC" in str(pl_df.schema["end_time"])
    assert pl_df["amount"].to_list() == df["amount"].tolist()
    comp = api.usage_completions(START, end_time=END, group_by="model")
    cdf = comp.to_pandas()
    assert str(cdf["input_tokens"].dtype) == "Int64"
    assert int(cdf["input_tokens"].sum()) == sum(r["input_tokens"] for b in expected(
        ENDPOINTS_BY_NAME["completions"], {"group_by": ["model"]}) for r in b["results"])
    assert "object" not in cdf.columns
    empty = api.usage_completions(T0 - 10 * DAY, end_time=T0 - 9 * DAY)
    assert len(empty.to_pandas()) == 0 and "input_tokens" in empty.to_pandas().columns


def test_the_seed_example_in_the_docs_runs(live_server: LiveServer, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "client.md").read_text()
    example = docs.split("## The seed's example, in Python")[1].split("```python")[1].split("```")[0]
    monkeypatch.setenv("OPENAI_ADMIN_KEY", live_server.admin_key)
    exec(compile(example.replace("https://api.openai.com/v1", live_server.url), "client.md", "exec"), {})
    out = capsys.readouterr().out
    assert "Status code: 200" in out and "Response body: {'object': 'page'" in out
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-wrong")
    exec(compile(example.replace("https://api.openai.com/v1", live_server.url), "client.md", "exec"), {})
    out = capsys.readouterr().out
    assert "Status code: 401" in out and "code=invalid_api_key" in out
