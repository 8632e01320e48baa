"""Ingest validation over HTTP: every bad value is a 400 naming ``events[i].field``, and nothing of
the request is stored."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from openusage.errors import BadRequestError
from openusage.ingest.events import validate_events
from openusage.spec import DIMENSIONS, EVENT_TYPES, event_dimensions
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
