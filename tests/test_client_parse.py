"""Parsing what the real service sends: recorded pages shaped like OpenAI's published examples
(the fuller, current result fields included), checked against the official SDK's own models."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import openai.types.admin.organization as sdk
import pytest

from openusage import CompletionsResult, CostsResult, Page
from openusage.client import Result, loads_page
from openusage.client.types import RESULT_CLASSES
from openusage.spec import ENDPOINTS, ENDPOINTS_BY_NAME

FIXTURES = Path(__file__).parent / "fixtures"
SDK_PAGES = {ep.name: getattr(sdk, "Usage" + "".join(p.title() for p in ep.name.split("_")) + "Response")
             for ep in ENDPOINTS}


def load(name: str) -> tuple[bytes, Any]:
    raw = (FIXTURES / f"openai_{name}.json").read_bytes()
    return raw, json.loads(raw)


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: e.name)
def test_every_endpoint_fixture_parses_and_round_trips(ep: Any) -> None:
    raw, body = load(ep.name)
    SDK_PAGES[ep.name].model_validate(body)  # the fixture is what OpenAI's SDK accepts
    page = loads_page(raw, ep)
    assert isinstance(page, Page)
    assert page.to_dict() == body
    assert page.has_more == body["has_more"] and page.next_page == body["next_page"]
    for bucket, b in zip(page.data, body["data"], strict=True):
        assert (bucket.start_time, bucket.end_time) == (b["start_time"], b["end_time"])
        for result, r in zip(bucket.results, b["results"], strict=True):
            assert type(result) is RESULT_CLASSES[ep.name]
            assert result.object == ep.result_object
            for field in result.fields:
                if field == "amount":
                    assert result.amount.value == r["amount"]["value"]
                    assert result.amount.currency == r["amount"]["currency"]
                else:
                    assert getattr(result, field) == r.get(field), field
            assert result.to_dict() == r


def test_reference_example_of_completions() -> None:
    raw, _ = load("completions")
    page = loads_page(raw, ENDPOINTS_BY_NAME["completions"])
    (bucket,) = page.data
    (r,) = bucket.results
    assert isinstance(r, CompletionsResult)
    assert (r.input_tokens, r.output_tokens, r.input_cached_tokens, r.num_model_requests) == (1000, 500, 800, 5)
    assert r.model is None and r.batch is None
    assert r.input_text_tokens is None  # absent in the older example: None, and still absent in to_dict()
    assert "input_text_tokens" not in r.to_dict()
    assert page.has_more is True and page.next_page == "page_AAAAAGdGxdEiJdKOAAAAAGcqsYA="


def test_fuller_completions_fields_and_empty_bucket() -> None:
    raw, body = load("completions_grouped")
    page = loads_page(raw, ENDPOINTS_BY_NAME["completions"])
    assert [len(b) for b in page] == [2, 0, 1]
    r = page.data[0].results[1]
    assert r.model == "gpt-4o-mini-2024-07-18" and r.project_id == "proj_abc"
    assert (r.input_cache_write_30m_tokens, r.input_cache_write_12h_tokens, r.input_uncached_tokens) == (720, 480, 8400)
    assert r.api_source == "unlabeled" and r.service_tier == "default" and r.batch is False
    sdk_page = SDK_PAGES["completions"].model_validate(body)
    assert sdk_page.data[0].results[1].input_cache_write_30m_tokens == r.input_cache_write_30m_tokens
    assert [x.to_dict() for x in page.results()] == [x for b in body["data"] for x in b["results"]]


def test_costs_amounts_and_quantities() -> None:
    raw, _ = load("costs_line_items")
    page = loads_page(raw, ENDPOINTS_BY_NAME["costs"])
    a, b = page.data[0].results
    assert isinstance(a, CostsResult)
    assert (a.amount.value, a.amount.currency, a.line_item, a.quantity, a.quantity_unit) == (
        1.2345, "usd", "gpt-4o-2024-08-06, input", 493800.0, "tokens")
    assert b.quantity_unit == "images"
    raw, _ = load("costs")
    (only,) = loads_page(raw, ENDPOINTS_BY_NAME["costs"]).data[0].results
    assert only.amount.value == 0.06 and only.api_key_id is None  # absent in the older example


def test_fields_and_results_of_a_newer_api_are_kept() -> None:
    raw, body = load("completions_future")
    page = loads_page(raw, ENDPOINTS_BY_NAME["completions"])
    r = page.data[0].results[0]
    assert r.output_reasoning_tokens == 99 and r.region == "eu"
    assert r["region"] == "eu" and r.get("nothing", 1) == 1
    unknown = page.data[1].results[0]
    assert type(unknown) is Result
    assert unknown.num_jumps == 3 and unknown.object == "organization.usage.teleport.result"
    assert page.to_dict() == body
    with pytest.raises(AttributeError, match="no field 'missing'"):
        _ = r.missing


def test_to_dict_is_a_copy_and_views_compare_by_content() -> None:
    raw, body = load("embeddings")
    page = loads_page(raw, ENDPOINTS_BY_NAME["embeddings"])
    d = page.to_dict()
    d["data"][0]["results"][0]["input_tokens"] = -1
    assert page.data[0].results[0].input_tokens == 16
    assert loads_page(raw, ENDPOINTS_BY_NAME["embeddings"]) == page
    assert json.loads(page.to_json()) == body
    assert "input_tokens=16" in repr(page.data[0].results[0])
    assert repr(page) == "Page(buckets=1, results=1, has_more=False, next_page=None)"


def test_result_classes_are_generated_from_the_spec() -> None:
    for ep in ENDPOINTS:
        cls = RESULT_CLASSES[ep.name]
        assert cls.endpoint is ep
        names = {m.name for m in ep.metrics} | set(ep.result_dimensions)
        assert names <= set(cls.fields)
        for name in names:
            assert isinstance(getattr(cls, name), property) and getattr(cls, name).__doc__


def test_public_surface_and_docs_agree() -> None:
    import openusage
    from openusage import client

    docs = (Path(__file__).resolve().parent.parent / "docs" / "client.md").read_text()
    for name in client.__all__:
        assert name in openusage.__all__ or name in ("loads_page", "parse_page"), name
    for name in openusage.__all__:
        assert hasattr(openusage, name), name
    for ep in ENDPOINTS:
        assert f"`{ep.method_name}`" in docs and f"`{ep.full_path}`" in docs, ep.name
    for name in ("UsageApi", "AsyncUsageApi", "ApiResponse", "ArgumentError", "to_pandas", "to_polars",
                 "paginate=True", "_with_http_info", "iter_completions", "openusage sync"):
        assert name in docs, name


@pytest.mark.parametrize("module", ["pandas", "polars"])
def test_data_frames_without_the_extra_say_what_to_install(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    raw, _ = load("embeddings")
    page = loads_page(raw, ENDPOINTS_BY_NAME["embeddings"])
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(ImportError, match=rf"pip install openusage\[{module}\]"):
        getattr(page, f"to_{module}")()


def test_generated_module_is_current_and_holds_the_methods() -> None:
    from openusage import AsyncUsageApi, UsageApi
    from openusage.client import _gen, _generated

    assert _gen.TARGET.read_text() == _gen.render(), "run `python -m openusage.client._gen`"
    assert _gen.main(["_gen", "--check"]) == 0
    source = _gen.TARGET.read_text()
    assert "setattr" not in source and "__signature__" not in source
    for ep in ENDPOINTS:
        cls = RESULT_CLASSES[ep.name]
        assert cls is getattr(_generated, _gen.class_name(ep)) and cls.endpoint is ep
        for name in (ep.method_name, f"{ep.method_name}_with_http_info", f"iter_{ep.name}"):
            assert f"def {name}(" in source
            # the clients' methods are the generated code itself, with nothing attached at import time
            assert getattr(UsageApi, name) is getattr(_generated.SyncMethods, name)
            assert getattr(AsyncUsageApi, name) is getattr(_generated.AsyncMethods, name)
            assert not hasattr(getattr(UsageApi, name), "__signature__")
