"""The fast ingest path accepts and refuses exactly what the precise path does.

A JSON body in which :func:`plain_json` finds no byte that could start a control character skips
the per-column string checks; these properties prove that skipping them never changes the outcome:
the same table for a good request, the same error (``param`` and message) for a bad one, both on
the decoder and through a real server on loopback.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openusage.errors import ApiError
from openusage.ingest.events import (
    _JSON_BODY,
    _JSON_EVENT,
    CONTROL_CHARS,
    SERVER_MIN_TIME,
    EventBatch,
    IngestLimits,
    batch_from_structs,
    decode_json,
    decode_ndjson,
    plain_json,
)
from openusage.server.app import ServerSettings
from openusage.spec import DIMENSIONS, ENDPOINTS_BY_TYPE, event_dimensions
from tests.conftest import AppServer

T0 = 1_700_006_400

# characters around every boundary the checks care about: C0, DEL, C1, U+00A0 (first byte C2 in
# UTF-8), U+D7FF (first byte ED), quotes and backslashes (escaped in JSON) and lone surrogates
TRICKY = "\x00\x01\t\n\x1f\x7f\x80\x85\x9f\xa0\xbf\xe9\ud7ff\ud800\udfff\"\\/é한"
text = st.text(alphabet=st.sampled_from("abc_-.:1" + TRICKY), min_size=1, max_size=8)
plain_text = st.text(alphabet=st.sampled_from("abc_-.:1"), min_size=1, max_size=8)
clean_text = st.text(alphabet=st.sampled_from("ab\xa0\xbf\xe9\ud7ff\"\\/é한"), min_size=1, max_size=8)
"""Strings without a control character whose JSON text still holds an escape, C2 or ED."""


TEXT_DIMENSIONS = {d for d, spec in DIMENSIONS.items() if spec.kind == "string" and not spec.enum and not spec.pattern}
TYPES = ["completions", "completions", "embeddings", "audio_speeches", "vector_stores", "images", "costs"]


def timestamp(i: int) -> st.SearchStrategy[Any]:
    """Mostly Unix seconds; RFC 3339 (with or without an offset) and a few out of the window."""
    return st.one_of(st.just(T0 + i), st.just(T0 + i + 0.25), st.just(T0 + i + 0.0000005),
                     st.just(f"2023-11-15T00:00:0{i % 10}Z"), st.just("2023-11-15T00:00:00"),
                     st.sampled_from([0, 1.7e12, 4e10]))


@st.composite
def events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events of a few types, most of them clean, some with a tricky string, time or token count."""
    n = draw(st.integers(1, 6))
    same_type = draw(st.booleans())
    first = draw(st.sampled_from(TYPES))
    out = []
    for i in range(n):
        kind = first if same_type else draw(st.sampled_from(TYPES))
        s = draw(st.sampled_from([text, clean_text, plain_text, plain_text]))
        ts = draw(timestamp(i)) if draw(st.integers(0, 4)) == 0 else T0 + i
        ev: dict[str, Any] = {"id": draw(s), "type": kind, "timestamp": ts}
        for name in event_dimensions(kind):
            spec = DIMENSIONS[name]
            if not draw(st.booleans()):
                continue
            if name in TEXT_DIMENSIONS:
                ev[name] = draw(s)
            elif spec.kind == "bool":
                ev[name] = draw(st.booleans())
            elif spec.enum:
                ev[name] = draw(st.sampled_from([*spec.enum, None]))
        metrics = [m.name for m in ENDPOINTS_BY_TYPE[kind].metrics if m.agg in ("sum", "gauge")]
        for name in metrics[:3] + (["input_cached_tokens", "input_text_tokens"] if kind == "completions" else []):
            if draw(st.booleans()):
                ev[name] = draw(st.integers(0, 60))
        if kind == "costs":
            ev["amount"] = draw(st.sampled_from([1, 0.25, {"value": 2.5, "currency": "usd"}]))
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


LIMITS = [None, IngestLimits(projects=frozenset({"a", "b"})),
          IngestLimits(min_time=SERVER_MIN_TIME, max_future_s=86_400, max_months=1)]


def precise_json(body: bytes, limits: IngestLimits | None = None) -> EventBatch:
    """Every column checked one by one from Python values, whatever the body holds."""
    return batch_from_structs(_JSON_BODY.decode(body).events, limits)


def precise_ndjson(lines: list[bytes]) -> EventBatch:
    return batch_from_structs([_JSON_EVENT.decode(line) for line in lines])


@settings(max_examples=200, deadline=None)
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
        for name in ("id", *TEXT_DIMENSIONS):
            value = getattr(ev, name, None)
            assert value is None or not CONTROL_CHARS.search(value)


@settings(max_examples=300, deadline=None)
@given(evs=events(), how=st.sampled_from(["orjson", "ascii", "utf8"]), limits=st.sampled_from(LIMITS))
def test_fast_json_equals_precise(evs: list[dict[str, Any]], how: str, limits: IngestLimits | None) -> None:
    body = encode(evs, how)
    if body is None:
        return
    try:
        _JSON_BODY.decode(body)
    except Exception:  # refused by the decoder before either path: nothing to compare
        return
    assert same(outcome(lambda: decode_json(body, limits)), outcome(lambda: precise_json(body, limits)))


@settings(max_examples=100, deadline=None)
@given(evs=events(), sep=st.sampled_from([b"\n", b"\r\n", b"\n\n  \n"]), bom=st.booleans())
def test_fast_ndjson_equals_precise(evs: list[dict[str, Any]], sep: bytes, bom: bool) -> None:
    try:
        lines = [orjson.dumps(ev) for ev in evs]
    except orjson.JSONEncodeError:
        return
    fast = outcome(lambda: decode_ndjson(b"\xef\xbb\xbf" * bom + sep.join(lines)))
    assert same(fast, outcome(lambda: precise_ndjson(lines)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(evs=events(), how=st.sampled_from(["orjson", "ascii", "utf8"]))
def test_server_answers_as_the_precise_path(module_app_server: AppServer, evs: list[dict[str, Any]], how: str) -> None:
    """Over HTTP: refused with the precise path's param, or accepted with its table's events."""
    body = encode(evs, how)
    if body is None:
        return
    try:
        _JSON_BODY.decode(body)
    except Exception:
        return
    limits = ServerSettings(admin_key=module_app_server.admin_key).ingest_limits(None)
    kind, expected = outcome(lambda: precise_json(body, limits))
    with module_app_server.client() as c:
        r = c.post("/v1/usage/events", content=body, headers={"Content-Type": "application/json"})
    if kind == "error":
        assert r.status_code in (400, 403), r.text
        assert r.json()["error"]["param"] == expected[1]
    else:
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["accepted"] + answer["duplicates"] == expected[1]
