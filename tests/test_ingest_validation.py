"""Ingest validation over HTTP: every bad value is a 400 naming ``events[i].field``, and nothing of
the request is stored."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from openusage.errors import BadRequestError
from openusage.ingest.events import MAX_BYTES, MAX_INT, validate_events
from openusage.spec import DIMENSIONS, ENDPOINTS_BY_TYPE, EVENT_TYPES, event_dimensions
from tests.conftest import LiveServer

T0 = 1_767_225_600  # 2026-01-01
EVENTS = "/v1/usage/events"


def event(event_type: str, n: int, **extra: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {"id": f"{event_type}-{n}", "type": event_type, "timestamp": T0 + n}
    if event_type == "costs":
        ev["amount"] = "1.5"
    return {**ev, **extra}


def refused(c: httpx.Client, events: list[dict[str, Any]], ndjson: bool = False) -> dict[str, Any]:
    if ndjson:
        r = c.post(EVENTS, content=b"\n".join(orjson.dumps(e) for e in events),
                   headers={"content-type": "application/x-ndjson"})
    else:
        r = c.post(EVENTS, json={"events": events})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error"
    return err


STRING_FIELDS = [(t, f) for t in EVENT_TYPES
                 for f in ("id", *(d for d in event_dimensions(t) if DIMENSIONS[d].kind != "bool"
                                   and not DIMENSIONS[d].enum))]


@pytest.mark.parametrize(("event_type", "field"), STRING_FIELDS)
def test_nul_in_any_string_is_refused(module_server: LiveServer, event_type: str, field: str) -> None:
    before = module_server.store.count_events()
    with module_server.client() as c:
        for n, ndjson in enumerate((False, True)):
            events = [event(event_type, 10 * n), event(event_type, 10 * n + 1, **{field: "a\x00b"})]
            err = refused(c, events, ndjson)
            assert err["param"] == f"events[1].{field}"
            assert "control characters" in err["message"]
    assert module_server.store.count_events() == before


@pytest.mark.parametrize("char", ["\x01", "\t", "\n", "\x1f", "\x7f", "\x85", "\x9f"])
def test_control_characters_are_refused(module_server: LiveServer, char: str) -> None:
    with module_server.client() as c:
        err = refused(c, [event("completions", 0, model=f"gpt{char}4")])
        assert err["param"] == "events[0].model"


def test_printable_unicode_is_kept(module_server: LiveServer) -> None:
    names = ["modèle-ß", "模型", "emoji-🚀", "a b", "\u00a0nbsp", "x" * 512]
    events = [event("completions", 100 + k, id=f"uni-{k}", model=m, user_id=m) for k, m in enumerate(names)]
    with module_server.client() as c:
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": 6, "duplicates": 0}
        page = c.get("/v1/organization/usage/completions",
                     params={"start_time": T0, "end_time": T0 + 86400, "group_by": "model"}).json()
    got = {r["model"] for b in page["data"] for r in b["results"]} & set(names)
    assert got == set(names)


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(BadRequestError) as info:
        validate_events([event("completions", 0), event("completions", 1, user_id="a\ud800b")])
    assert info.value.param == "events[1].user_id"


def test_lone_surrogate_escape_in_json_is_refused(module_server: LiveServer) -> None:
    body = b'{"events": [{"id": "s", "type": "completions", "timestamp": 1767225600, "model": "a\\ud800"}]}'
    with module_server.client() as c:
        r = c.post(EVENTS, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


INT_FIELDS = [(t, m.name, MAX_BYTES if m.agg == "gauge" else MAX_INT)
              for t in EVENT_TYPES for m in ENDPOINTS_BY_TYPE[t].metrics if m.agg in ("sum", "gauge")]


@pytest.mark.parametrize(("event_type", "field", "bound"), INT_FIELDS)
def test_counts_above_the_per_event_bound_are_refused(module_server: LiveServer, event_type: str, field: str,
                                                      bound: int) -> None:
    before = module_server.store.count_events()
    with module_server.client() as c:
        err = refused(c, [event(event_type, 0, id=f"{field}-ok"), event(event_type, 1, **{field: bound + 1})])
        assert err["param"] == f"events[1].{field}"
        assert str(bound) in err["message"]
    assert module_server.store.count_events() == before


def test_quantity_is_bounded(module_server: LiveServer) -> None:
    with module_server.client() as c:
        err = refused(c, [event("costs", 0, quantity=1e16)])
        assert err["param"] == "events[0].quantity"


def test_events_at_the_bound_sum_exactly(live_server: LiveServer) -> None:
    """Many events at the bound, in one minute, still sum exactly on every read path."""
    events = [event("completions", k % 60, id=f"max-{k}", input_tokens=MAX_INT, output_tokens=MAX_INT)
              for k in range(1000)]
    events += [event("vector_stores", 0, id=f"vs-{k}", project_id=f"p{k}", usage_bytes=MAX_BYTES) for k in range(100)]
    with live_server.client() as c:
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": 1100, "duplicates": 0}
        for width in ("1m", "1h", "1d"):
            page = c.get("/v1/organization/usage/completions",
                         params={"start_time": T0, "end_time": T0 + 3600, "bucket_width": width}).json()
            (result,) = [r for b in page["data"] for r in b["results"]]
            assert (result["input_tokens"], result["output_tokens"]) == (1000 * MAX_INT, 1000 * MAX_INT)
        page = c.get("/v1/organization/usage/vector_stores", params={"start_time": T0, "end_time": T0 + 86400}).json()
        assert page["data"][0]["results"][0]["usage_bytes"] == 100 * MAX_BYTES
