"""Time and bodies the way people send them: RFC 3339 timestamps, gzip bodies (bounded once
decompressed), a UTF-8 byte order mark; anything else is a clear error in the envelope."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openusage.ingest.events import validate_events
from openusage.server.app import ServerSettings
from openusage.store import Store
from tests.conftest import ADMIN_KEY, AppServer, start_app

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
EVENTS = "/v1/usage/events"
LIMIT = 64 * 1024


@pytest.fixture
def small_server(store: Store) -> Iterator[AppServer]:
    srv = start_app(store, ServerSettings(admin_key=ADMIN_KEY, max_body_bytes=LIMIT))
    yield srv
    srv.stop()


def completion(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"b{i}", "type": "completions", "timestamp": T0 + i, "input_tokens": 10, **extra}


def stored_times(srv: AppServer) -> list[tuple[str, int]]:
    return srv.store.execute("SELECT id, ts_us FROM events ORDER BY id")  # type: ignore[attr-defined]


def test_rfc3339_timestamps(app_server: AppServer) -> None:
    events = [completion(0, timestamp="2026-11-01T12:00:00Z"),
              completion(1, timestamp="2026-11-01T12:00:00.123456Z"),
              completion(2, timestamp="2026-11-01T14:00:00+02:00"),
              completion(3, timestamp="2026-11-01T06:30:00.5-05:30"),
              completion(4, timestamp=1_793_534_400),  # int seconds
              completion(5, timestamp=1_793_534_400.25)]  # float seconds
    with app_server.client() as c:
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": 6, "duplicates": 0}
    noon = 1_793_534_400 * 10**6  # 2026-11-01T12:00:00Z
    assert stored_times(app_server) == [("b0", noon), ("b1", noon + 123_456), ("b2", noon), ("b3", noon + 500_000),
                                         ("b4", noon), ("b5", noon + 250_000)]


@pytest.mark.parametrize(("value", "words"), [
    ("2026-11-01T12:00:00", "needs its offset"),
    ("2026-11-01", "RFC 3339"),
    ("1767225600", "RFC 3339"),
    ("yesterday", "RFC 3339"),
    (True, "RFC 3339"),
    ("2014-12-31T23:59:59Z", "before 2015-01-01T00:00:00Z"),
    ("2999-01-01T00:00:00Z", "later than"),
    (1_767_225_600_000, "this looks like milliseconds"),
    (1_767_225_600_000_000, "this looks like microseconds"),
])
def test_bad_timestamps(app_server: AppServer, value: Any, words: str) -> None:
    with app_server.client() as c:
        r = c.post(EVENTS, json={"events": [completion(0), completion(1, timestamp=value)]})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == "events[1].timestamp" and words in err["message"], err
    assert app_server.store.count_events() == 0


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 12, 30),
                    timezones=st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))))
def test_rfc3339_is_read_to_the_microsecond(moment: datetime) -> None:
    """Any aware datetime, written as RFC 3339 with its offset, lands on its exact UTC microsecond."""
    text = moment.isoformat()
    want = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // (datetime.resolution)
    (got,) = validate_events([completion(0, timestamp=text)]).table.column("ts_us").to_pylist()
    assert got == want


def test_gzip_bodies(small_server: AppServer) -> None:
    events = [completion(i) for i in range(300)]
    body = orjson.dumps({"events": events})
    assert len(body) < LIMIT
    with small_server.client() as c:
        for encoding in ("gzip", "x-gzip", "GZIP"):
            r = c.post(EVENTS, content=gzip.compress(body),
                       headers={"content-type": "application/json", "content-encoding": encoding})
            assert r.status_code == 200, r.text
        ndjson = b"\n".join(orjson.dumps(completion(1000 + i)) for i in range(50))
        # two gzip members one after the other (concatenated files) are one body
        two = gzip.compress(ndjson[:500]) + gzip.compress(ndjson[500:])
        r = c.post(EVENTS, content=two, headers={"content-type": "application/x-ndjson", "content-encoding": "gzip"})
        assert r.json() == {"accepted": 50, "duplicates": 0}
        r = c.post(EVENTS, content=body, headers={"content-type": "application/json", "content-encoding": "identity"})
        assert r.json() == {"accepted": 0, "duplicates": 300}
    assert small_server.store.count_events() == 350


def test_gzip_bomb_is_413(small_server: AppServer) -> None:
    """A few KB that expand past the limit are refused as soon as the limit is reached."""
    bomb = gzip.compress(b'{"events": [' + b" " * (200 * LIMIT) + b"]}", compresslevel=9)
    assert len(bomb) < LIMIT // 4
    just_over = orjson.dumps({"events": [completion(0, model="m" * 400)] * 200})
    assert len(just_over) > LIMIT
    with small_server.client() as c:
        for body in (bomb, gzip.compress(just_over)):
            r = c.post(EVENTS, content=body, headers={"content-type": "application/json", "content-encoding": "gzip"})
            assert r.status_code == 413, r.text
            err = r.json()["error"]
            assert "once decompressed" in err["message"] and err["type"] == "invalid_request_error"
    assert small_server.store.count_events() == 0


@pytest.mark.parametrize(("body", "words"), [
    (b"not gzip at all", "not valid gzip"),
    (gzip.compress(b'{"events": []}', mtime=0)[:-6], "truncated"),  # mtime: the same test id in every worker
    (gzip.compress(b'{"events": []}', mtime=0) + b"trailing junk", "not valid gzip"),
], ids=["not gzip", "truncated", "trailing junk"])
def test_bad_gzip_is_400(small_server: AppServer, body: bytes, words: str) -> None:
    with small_server.client() as c:
        r = c.post(EVENTS, content=body, headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]["message"]


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "gzip, br", "compress"])
def test_unknown_content_encoding_is_415(small_server: AppServer, encoding: str) -> None:
    with small_server.client() as c:
        r = c.post(EVENTS, content=zlib.compress(b'{"events": []}'),
                   headers={"content-type": "application/json", "content-encoding": encoding})
    assert r.status_code == 415, r.text
    assert r.json()["error"] == {"message": r.json()["error"]["message"], "type": "invalid_request_error",
                                 "param": None, "code": "unsupported_content_encoding"}


def test_byte_order_mark(app_server: AppServer) -> None:
    bom = b"\xef\xbb\xbf"
    with app_server.client() as c:
        r = c.post(EVENTS, content=bom + orjson.dumps({"events": [completion(0)]}),
                   headers={"content-type": "application/json"})
        assert r.json() == {"accepted": 1, "duplicates": 0}, r.text
        lines = b"\n".join(orjson.dumps(completion(i)) for i in range(1, 4))
        r = c.post(EVENTS, content=bom + lines, headers={"content-type": "application/x-ndjson"})
        assert r.json() == {"accepted": 3, "duplicates": 0}, r.text
        r = c.post(EVENTS, content=gzip.compress(bom + orjson.dumps({"events": [completion(4)]})),
                   headers={"content-type": "application/json", "content-encoding": "gzip"})
        assert r.json() == {"accepted": 1, "duplicates": 0}, r.text
        r = c.post(EVENTS, content=bom * 2 + orjson.dumps({"events": []}),
                   headers={"content-type": "application/json"})
        assert r.status_code == 400  # one mark, at the start, only
    assert app_server.store.count_events() == 5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=32503680000, allow_nan=False), min_size=1, max_size=40),
       st.booleans())
def test_times_are_rounded_like_python(values: list[float], mixed: bool) -> None:
    """Whole columns of numbers (and, mixed with an RFC 3339 time, event by event) land on the
    microsecond Python's ``round`` gives, half to even."""
    events = [completion(k, timestamp=v) for k, v in enumerate(values)]
    if mixed:
        events.append(completion(len(values), timestamp="2026-01-01T00:00:00Z"))
    got = validate_events(events).table.column("ts_us").to_pylist()
    assert got == [round(v * 1_000_000) for v in values] + ([T0 * 10**6] if mixed else [])
