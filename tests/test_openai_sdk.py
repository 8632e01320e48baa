"""OpenAI's official Python SDK, pointed at openusage, reads every endpoint as it reads OpenAI's.

``OpenAI(admin_api_key=..., base_url=<server>/v1)``: the usage methods authenticate with the admin
key (``OPENAI_ADMIN_KEY``) and send arrays as ``group_by[]=a&group_by[]=b``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
import pytest

from openusage.spec import ENDPOINTS, Endpoint
from tests.conftest import LiveServer, new_store, start_server
from tests.reference import consistent_tokens, reference_buckets

T0 = 1_700_006_400  # a UTC midnight
DAY = 86400
PROJECTS = ("proj_a", "proj_b")


def dataset() -> list[dict[str, Any]]:
    """Three days of every event type, over two projects and a few values of each dimension."""
    out: list[dict[str, Any]] = []
    for ep in ENDPOINTS:
        for i in range(12):
            ev: dict[str, Any] = {"id": f"sdk-{ep.name}-{i}", "type": ep.event_type,
                                  "timestamp": T0 + (i % 3) * DAY + i * 1000 + 0.25}
            dims = {"project_id": PROJECTS[i % 2], "user_id": f"user_{i % 3}", "api_key_id": f"key_{i % 2}",
                    "model": ("gpt-4o", "o3")[i % 2],
                    "batch": i % 4 == 0, "service_tier": ("default", "flex")[i % 2],
                    "api_source": ("agents_api", "unlabeled")[i % 2], "size": ("256x256", "1024x1024")[i % 2],
                    "source": ("image.edit", "image.generation")[i % 2], "vector_store_id": f"vs_{i % 2}",
                    "context_level": ("low", "high")[i % 2], "line_item": ("gpt-4o, input", "o3, output")[i % 2]}
            for d in ep.result_dimensions:
                ev[d] = dims[d]
            for m in ep.metrics:
                if m.agg in ("sum", "gauge"):
                    ev[m.name] = 100 * (i + 1) + len(m.name)
            if ep.name == "costs":
                ev.update(amount=f"{i}.125", quantity=i * 10.5, quantity_unit="tokens")
            out.append(consistent_tokens(ev))
    return out


EVENTS = dataset()


@dataclass
class Sdk:
    usage: openai.OpenAI
    """Over a server holding the usage events."""
    costs: openai.OpenAI
    """Over a server holding only the cost lines (elsewhere usage is priced into costs too)."""
    urls: list[str]

    def method(self, ep: Endpoint) -> Any:
        client = self.costs if ep.name == "costs" else self.usage
        return getattr(client.admin.organization.usage, ep.name)


def _client(srv: LiveServer, urls: list[str]) -> openai.OpenAI:
    http = httpx2.Client(event_hooks={"request": [lambda request: urls.append(str(request.url))]})
    return openai.OpenAI(admin_api_key=srv.admin_key, base_url=srv.url + "/v1", http_client=http, max_retries=0)


@pytest.fixture(scope="module")
def sdk(module_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    store = new_store(tmp_path_factory.mktemp("costs") / "usage.duckdb")
    costs_server = start_server(store)
    for srv, kind in ((module_server, "usage"), (costs_server, "costs")):
        mine = [e for e in EVENTS if (e["type"] == "costs") == (kind == "costs")]
        with srv.client() as c:
            assert c.post("/v1/usage/events", json={"events": mine}).json() == {"accepted": len(mine),
                                                                                "duplicates": 0}
    urls: list[str] = []
    out = Sdk(_client(module_server, urls), _client(costs_server, urls), urls)
    yield out
    out.usage.close()
    out.costs.close()
    costs_server.stop()
    store.close()


def query_for(ep: Endpoint) -> dict[str, Any]:
    """A query with a group_by pair and a filter the endpoint has."""
    q: dict[str, Any] = {"start_time": T0 + 3600, "end_time": T0 + 3 * DAY, "group_by": list(ep.group_by[:2])}
    special = {"completions": {"batch": False}, "images": {"sizes": ["1024x1024"], "sources": ["image.generation"]},
               "web_search_calls": {"context_levels": ["high", "low"]}, "costs": {"line_items": ["o3, output"]},
               "file_search_calls": {"vector_store_ids": ["vs_1"]}}
    q.update(special.get(ep.name, {"project_ids": ["proj_b"]}))
    if ep.name == "completions":
        q.update(bucket_width="1h", limit=30)
    return q


def assert_same(ep: Endpoint, got: Any, want: list[dict[str, Any]]) -> None:
    """SDK-parsed buckets against the reference model's, field by field."""
    assert [(b.start_time, b.end_time) for b in got] == [(b["start_time"], b["end_time"]) for b in want]
    for g, w in zip(got, want, strict=True):
        assert g.object == "bucket" and len(g.results) == len(w["results"])
        for r, expected in zip(g.results, w["results"], strict=True):
            assert r.object == ep.result_object
            for name, value in expected.items():
                if name == "amount":
                    assert (r.amount.value, r.amount.currency) == (value["value"], "usd")
                else:
                    assert getattr(r, name) == value, name


@pytest.mark.parametrize("ep", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_every_endpoint_through_the_sdk(sdk: Sdk, ep: Endpoint) -> None:
    method = sdk.method(ep)
    q = query_for(ep)
    page = method(**q)
    assert page.object == "page" and page.has_more is (page.next_page is not None)
    buckets = list(page.data)
    while page.has_more:  # the SDK leaves paging to the caller
        page = method(**q, page=page.next_page)
        buckets += page.data
    filters = {k: v for k, v in q.items() if k not in ("start_time", "end_time", "group_by", "bucket_width", "limit")}
    want = reference_buckets(ep, EVENTS, start_time=q["start_time"], end_time=q["end_time"],
                             bucket_width=q.get("bucket_width", "1d"), group_by=q["group_by"], filters=filters)
    assert sum(len(b["results"]) for b in want) > 0
    assert_same(ep, buckets, want)
    assert f"group_by%5B%5D={q['group_by'][0]}" in sdk.urls[-1]  # the SDK's bracketed arrays


def test_sdk_reads_exact_numbers(sdk: Sdk) -> None:
    usage = sdk.usage.admin.organization.usage
    page = usage.completions(start_time=T0, end_time=T0 + 3 * DAY, group_by=["project_id"], project_ids=["proj_a"])
    # day 0 holds events 0, 3, 6, 9; proj_a has the even ones
    assert [(r.project_id, r.input_tokens, r.num_model_requests, r.model) for r in page.data[0].results] == [
        ("proj_a", 112 + 712, 118 + 718, None)]
    costs = sdk.costs.admin.organization.usage.costs(start_time=T0, end_time=T0 + DAY, group_by=["line_item"])
    assert [(r.line_item, r.amount.value, r.amount.currency, r.quantity, r.quantity_unit)
            for r in costs.data[0].results] == [("gpt-4o, input", 6.25, "usd", 63.0, "tokens"),
                                                ("o3, output", 12.25, "usd", 126.0, "tokens")]
    stores = usage.vector_stores(start_time=T0, end_time=T0 + DAY)
    assert stores.data[0].results[0].usage_bytes == 711 + 1011  # per project the largest sample, summed


def test_sdk_errors(sdk: Sdk, module_server: LiveServer) -> None:
    client = sdk.usage
    with pytest.raises(openai.BadRequestError) as bad:
        client.admin.organization.usage.completions(start_time=T0, end_time=T0 - 1)
    assert bad.value.status_code == 400 and bad.value.param == "end_time"
    with pytest.raises(openai.BadRequestError) as bad:
        client.admin.organization.usage.costs(start_time=T0, bucket_width="1h")  # type: ignore[arg-type]
    assert bad.value.param == "bucket_width"
    wrong = openai.OpenAI(admin_api_key="sk-wrong", base_url=module_server.url + "/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        wrong.admin.organization.usage.embeddings(start_time=T0)
    assert denied.value.code == "invalid_api_key"
    wrong.close()
