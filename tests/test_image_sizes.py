"""Image usage of any size a model produces is stored and reported; the ``sizes`` filter keeps
OpenAI's documented values."""

from __future__ import annotations

import pytest

from tests.conftest import LiveServer

T0 = 1_767_225_600  # 2026-01-01


def _ingest(server: LiveServer, *events: dict) -> int:
    with server.client() as c:
        r = c.post("/v1/usage/events", json={"events": list(events)})
    return r.status_code


def test_new_sizes_are_reported(live_server: LiveServer) -> None:
    assert _ingest(live_server,
                   {"id": "a", "type": "images", "timestamp": T0, "model": "gpt-image-1", "size": "1536x1024",
                    "images": 2},
                   {"id": "b", "type": "images", "timestamp": T0, "model": "gpt-image-1", "size": "1024x1536"},
                   {"id": "c", "type": "images", "timestamp": T0, "model": "dall-e-3", "size": "1024x1024"}) == 200
    with live_server.client() as c:
        r = c.get("/v1/organization/usage/images", params={"start_time": T0, "end_time": T0 + 86400,
                                                            "group_by": "size"})
        assert r.status_code == 200
        got = {x["size"]: x["images"] for x in r.json()["data"][0]["results"]}
        assert got == {"1024x1024": 1, "1024x1536": 1, "1536x1024": 2}
        only = c.get("/v1/organization/usage/images", params={"start_time": T0, "end_time": T0 + 86400,
                                                               "sizes": "1024x1024"})
        assert only.json()["data"][0]["results"][0]["images"] == 1
        undocumented = c.get("/v1/organization/usage/images", params={"start_time": T0, "sizes": "1536x1024"})
        assert undocumented.status_code == 400 and undocumented.json()["error"]["param"] == "sizes"


@pytest.mark.parametrize("size", ["3x3", "1024x", "x1024", "1024*1024", "01024x1024", "1024x1024 ", "big"])
def test_sizes_that_are_not_width_by_height_are_refused(live_server: LiveServer, size: str) -> None:
    with live_server.client() as c:
        r = c.post("/v1/usage/events", json={"events": [
            {"id": "x", "type": "images", "timestamp": T0, "model": "m", "size": size}]})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "events[0].size"
    assert live_server.store.count_events() == 0


def test_quality_and_tokens_are_stored_for_pricing_but_not_reported(live_server: LiveServer) -> None:
    assert _ingest(live_server,
                   {"id": "q1", "type": "images", "timestamp": T0, "model": "dall-e-3", "size": "1024x1024",
                    "quality": "hd", "images": 2},
                   {"id": "q2", "type": "images", "timestamp": T0, "model": "gpt-image-1", "size": "1024x1024",
                    "quality": "auto", "input_tokens": 300, "input_image_tokens": 100, "output_tokens": 4160}) == 200
    rows = live_server.store.execute("SELECT id, quality, input_tokens, input_image_tokens, output_tokens FROM events "
                                     "ORDER BY id", [])
    assert [tuple(r) for r in rows] == [("q1", "hd", 0, 0, 0), ("q2", "auto", 300, 100, 4160)]
    with live_server.client() as c:
        r = c.get("/v1/organization/usage/images", params={"start_time": T0, "end_time": T0 + 86400})
        assert r.json()["data"][0]["results"] == [{"object": "organization.usage.images.result", "images": 3,
                                                   "num_model_requests": 2, "project_id": None, "user_id": None,
                                                   "api_key_id": None, "model": None, "size": None, "source": None}]
        by_quality = c.get("/v1/organization/usage/images", params={"start_time": T0, "group_by": "quality"})
        assert by_quality.status_code == 400 and by_quality.json()["error"]["param"] == "group_by"


@pytest.mark.parametrize(("event", "param", "words"), [
    ({"type": "images", "quality": "ultra"}, "events[0].quality", "standard, hd, low, medium, high, auto"),
    ({"type": "images", "quality": "HD"}, "events[0].quality", "quality is one of"),
    ({"type": "completions", "model": "gpt-4o", "quality": "hd"}, "events[0].quality", "unknown field"),
    ({"type": "images", "input_tokens": 10, "input_image_tokens": 11}, "events[0].input_image_tokens",
     "more than input_tokens"),
    ({"type": "images", "input_cached_tokens": 1}, "events[0].input_cached_tokens", "unknown field"),
    ({"type": "code_interpreter_sessions", "memory_limit": "2g"}, "events[0].memory_limit", "1g, 4g, 16g, 64g"),
    ({"type": "web_searches", "memory_limit": "4g"}, "events[0].memory_limit", "unknown field"),
])
def test_bad_pricing_fields_are_refused(live_server: LiveServer, event: dict, param: str, words: str) -> None:
    with live_server.client() as c:
        r = c.post("/v1/usage/events", json={"events": [{"id": "x", "timestamp": T0, **event}]})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["param"] == param and err["type"] == "invalid_request_error"
    assert words in err["message"]
    assert live_server.store.count_events() == 0
