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
