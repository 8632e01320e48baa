"""The fast ingest path accepts and refuses exactly what the precise path does.

A JSON body in which :func:`plain_json` finds no byte that could start a control character skips
the per-column string checks; these properties prove that skipping them never changes the outcome:
the same table for a good request, the same error (``param`` and message) for a bad one, both on
the decoder and through a real server on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openusage.errors import ApiError
from openusage.ingest.events import (
    _JSON_BODY,
    _JSON_EVENT,
    CONTROL_CHARS,
    EventBatch,
    batch_from_structs,
    decode_json,
    decode_ndjson,
    plain_json,
)
from openusage.store import open_store
from tests.conftest import LiveServer, start_server

T0 = 1_700_006_400

# characters around every boundary the checks care about: C0, DEL, C1, U+00A0 (first byte C2 in
# UTF-8), U+D7FF (first byte ED), quotes and backslashes (escaped in JSON) and lone surrogates
TRICKY = "\x00\x01\t\n\x1f\x7f\x80\x85\x9f\xa0\xbf\xe9\ud7ff\ud800\udfff\"\\/é한"
text = st.text(alphabet=st.sampled_from("abc_-.:1" + TRICKY), min_size=1, max_size=8)
plain_text = st.text(alphabet=st.sampled_from("abc_-.:1"), min_size=1, max_size=8)


@st.composite
def events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Completions events, most of them clean, some with a tricky string somewhere."""
    n = draw(st.integers(1, 6))
    out = []
    for i in range(n):
        tricky = draw(st.booleans())
        s = text if tricky else plain_text
        ev: dict[str, Any] = {"id": draw(s), "type": "completions", "timestamp": T0 + i,
                              "input_tokens": draw(st.integers(0, 50)), "output_tokens": draw(st.integers(0, 50))}
        for name in ("model", "project_id", "user_id", "api_key_id"):
            if draw(st.booleans()):
                ev[name] = draw(s)
        out.append(ev)
    return out


def encode(evs: list[dict[str, Any]], how: str) -> bytes | None:
    """The body as different clients write it; None when the encoder cannot (a lone surrogate)."""
    body = {"events": evs}
    try:
        if how == "orjson":
            return orjson.dumps(body)
        if how == "ascii":
            return json.dumps(body).encode()
        return json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (orjson.JSONEncodeError, UnicodeEncodeError):
        return None


def outcome(decode: Any) -> tuple[str, Any]:
    """A batch's table and count, or the error's class, param and message."""
    try:
        batch: EventBatch = decode()
    except ApiError as exc:
        return "error", (type(exc).__name__, exc.param, exc.message)
    return "ok", (batch.table, batch.received)


def same(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "error":
        return a[1] == b[1]
    return a[1][0].equals(b[1][0]) and a[1][1] == b[1][1]


def precise_json(body: bytes) -> EventBatch:
    """Every column checked, whatever the body holds."""
    return batch_from_structs(_JSON_BODY.decode(body).events)


def precise_ndjson(lines: list[bytes]) -> EventBatch:
    return batch_from_structs([_JSON_EVENT.decode(line) for line in lines])


@settings(max_examples=400, deadline=None)
@given(evs=events(), how=st.sampled_from(["orjson", "ascii", "utf8"]))
def test_plain_json_is_sound(evs: list[dict[str, Any]], how: str) -> None:
    """A body said plain decodes to strings without a control character or lone surrogate."""
    body = encode(evs, how)
    if body is None or not plain_json(body):
        return
    try:
        parsed = _JSON_BODY.decode(body)
    except Exception:
        return
    for ev in parsed.events:
        for name in ("id", "model", "project_id", "user_id", "api_key_id"):
            value = getattr(ev, name)
            assert value is None or not CONTROL_CHARS.search(value)


@settings(max_examples=400, deadline=None)
@given(evs=events(), how=st.sampled_from(["orjson", "ascii", "utf8"]))
def test_fast_json_equals_precise(evs: list[dict[str, Any]], how: str) -> None:
    body = encode(evs, how)
    if body is None:
        return
    try:
        _JSON_BODY.decode(body)
    except Exception:  # refused by the decoder before either path: nothing to compare
        return
    assert same(outcome(lambda: decode_json(body)), outcome(lambda: precise_json(body)))


@settings(max_examples=200, deadline=None)
@given(evs=events())
def test_fast_ndjson_equals_precise(evs: list[dict[str, Any]]) -> None:
    try:
        lines = [orjson.dumps(ev) for ev in evs]
    except orjson.JSONEncodeError:
        return
    fast = outcome(lambda: decode_ndjson(b"\n".join(lines)))
    assert same(fast, outcome(lambda: precise_ndjson(lines)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store = open_store(str(tmp_path_factory.mktemp("speed") / "usage.duckdb"))
    srv = start_server(store)
    yield srv
    srv.stop()
    store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(evs=events(), how=st.sampled_from(["orjson", "ascii", "utf8"]))
def test_server_answers_as_the_precise_path(server: LiveServer, evs: list[dict[str, Any]], how: str) -> None:
    """Over HTTP: refused with the precise path's param, or accepted with its table's events."""
    body = encode(evs, how)
    if body is None:
        return
    try:
        _JSON_BODY.decode(body)
    except Exception:
        return
    kind, expected = outcome(lambda: precise_json(body))
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.admin_key}"},
                      timeout=60) as c:
        r = c.post("/v1/usage/events", content=body, headers={"Content-Type": "application/json"})
    if kind == "error":
        assert r.status_code in (400, 403), r.text
        assert r.json()["error"]["param"] == expected[1]
    else:
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["accepted"] + answer["duplicates"] == expected[1]
