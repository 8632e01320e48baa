"""The client takes the seed document's parameters by position, in its order, as its generated
clients did: ``usage_completions(start_time, end_time, bucket_width, project_ids, ...)``."""

from __future__ import annotations

import inspect

import pytest

from openusage import AsyncUsageApi, UsageApi
from openusage.spec import ENDPOINTS, ENDPOINTS_BY_NAME
from tests.conftest import AppServer

T0 = 1_767_225_600


@pytest.fixture
def filled(app_server: AppServer) -> AppServer:
    events = [
        {"id": "c1", "type": "completions", "timestamp": T0 + 60, "model": "m1", "project_id": "p1",
         "input_tokens": 10, "batch": True},
        {"id": "c2", "type": "completions", "timestamp": T0 + 3600, "model": "m2", "project_id": "p2",
         "input_tokens": 20},
        {"id": "i1", "type": "images", "timestamp": T0, "model": "dall-e-3", "project_id": "p1", "size": "1024x1024",
         "source": "image.edit", "images": 3},
        {"id": "i2", "type": "images", "timestamp": T0, "model": "dall-e-3", "project_id": "p1", "size": "256x256",
         "source": "image.generation", "images": 5},
    ]
    with app_server.client() as c:
        assert c.post("/v1/usage/events", json={"events": events}).status_code == 200
    return app_server


def test_positional_arguments_in_the_seed_order(filled: AppServer) -> None:
    with filled.http() as http, UsageApi(filled.url, filled.admin_key, http_client=http) as api:
        by_position = api.usage_completions(T0, T0 + 86400, "1h", ["p1", "p2"], None, None, ["m1", "m2"], None,
                                            ["model"], 24)
        by_name = api.usage_completions(T0, end_time=T0 + 86400, bucket_width="1h", project_ids=["p1", "p2"],
                                        models=["m1", "m2"], group_by=["model"], limit=24)
        assert by_position.to_dict() == by_name.to_dict()
        assert [(b.start_time, r.model, r.input_tokens) for b in by_position for r in b.results] == [
            (T0, "m1", 10), (T0 + 3600, "m2", 20)]
        batch_only = api.usage_completions(T0, T0 + 86400, "1d", None, None, None, None, True)
        assert [r.input_tokens for b in batch_only for r in b.results] == [10]
        # images: sources and sizes come first, as in the seed
        images = api.usage_images(T0, T0 + 86400, "1d", ["image.edit"], ["1024x1024", "256x256"], ["p1"])
        assert [r.images for b in images for r in b.results] == [3]
        info = api.usage_costs_with_http_info(T0, T0 + 86400, "1d", ["p1"], ["line_item"], 7)
        assert info.status_code == 200


def test_parameters_newer_than_the_seed_are_keyword_only() -> None:
    sig = inspect.signature(UsageApi.usage_costs)
    kinds = {name: p.kind for name, p in sig.parameters.items()}
    assert list(sig.parameters)[:8] == ["self", "start_time", "end_time", "bucket_width", "project_ids", "group_by",
                                        "limit", "page"]
    assert kinds["api_key_ids"] == kinds["line_items"] == kinds["paginate"] == inspect.Parameter.KEYWORD_ONLY
    with pytest.raises(TypeError):
        UsageApi("http://127.0.0.1:9", "k").usage_costs(T0, T0 + 1, "1d", None, None, 7, None, ["k1"])


@pytest.mark.parametrize("name", [ep.name for ep in ENDPOINTS])
def test_sync_async_and_declared_signatures_agree(name: str) -> None:
    ep = ENDPOINTS_BY_NAME[name]
    for cls in (UsageApi, AsyncUsageApi):
        sig = inspect.signature(getattr(cls, ep.method_name))
        positional = [n for n, p in sig.parameters.items() if p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD]
        assert positional == ["self", *ep.positional_parameters]
