"""Ingest validation over HTTP: every bad value is a 400 naming ``events[i].field``, and nothing of
the request is stored."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from openusage.errors import BadRequestError
from openusage.ingest.events import MAX_BYTES, MAX_INT, SERVER_MIN_TIME, validate_events
from openusage.server.app import ServerSettings
from openusage.spec import DIMENSIONS, ENDPOINTS_BY_TYPE, EVENT_TYPES, event_dimensions
from openusage.store import Store
from tests.conftest import ADMIN_KEY, AppServer, start_app
from tests.procserver import ServerProcess
from tests.storeconf import fresh_store

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
def test_nul_in_any_string_is_refused(module_app_server: AppServer, event_type: str, field: str) -> None:
    before = module_app_server.store.count_events()
    with module_app_server.client() as c:
        for n, ndjson in enumerate((False, True)):
            events = [event(event_type, 10 * n), event(event_type, 10 * n + 1, **{field: "a\x00b"})]
            err = refused(c, events, ndjson)
            assert err["param"] == f"events[1].{field}"
            assert "control characters" in err["message"]
    assert module_app_server.store.count_events() == before


@pytest.mark.parametrize("char", ["\x01", "\t", "\n", "\x1f", "\x7f", "\x85", "\x9f"])
def test_control_characters_are_refused(module_app_server: AppServer, char: str) -> None:
    with module_app_server.client() as c:
        err = refused(c, [event("completions", 0, model=f"gpt{char}4")])
        assert err["param"] == "events[0].model"


def test_printable_unicode_is_kept(module_app_server: AppServer) -> None:
    names = ["modèle-ß", "模型", "emoji-🚀", "a b", "\u00a0nbsp", "x" * 512]
    events = [event("completions", 100 + k, id=f"uni-{k}", model=m, user_id=m) for k, m in enumerate(names)]
    with module_app_server.client() as c:
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": 6, "duplicates": 0}
        page = c.get("/v1/organization/usage/completions",
                     params={"start_time": T0, "end_time": T0 + 86400, "group_by": "model"}).json()
    got = {r["model"] for b in page["data"] for r in b["results"]} & set(names)
    assert got == set(names)


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(BadRequestError) as info:
        validate_events([event("completions", 0), event("completions", 1, user_id="a\ud800b")])
    assert info.value.param == "events[1].user_id"


def test_lone_surrogate_escape_in_json_is_refused(module_app_server: AppServer) -> None:
    body = b'{"events": [{"id": "s", "type": "completions", "timestamp": 1767225600, "model": "a\\ud800"}]}'
    with module_app_server.client() as c:
        r = c.post(EVENTS, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


INT_FIELDS = [(t, m.name, MAX_BYTES if m.agg == "gauge" else MAX_INT)
              for t in EVENT_TYPES for m in ENDPOINTS_BY_TYPE[t].metrics if m.agg in ("sum", "gauge")]


@pytest.mark.parametrize(("event_type", "field", "bound"), INT_FIELDS)
def test_counts_above_the_per_event_bound_are_refused(module_app_server: AppServer, event_type: str, field: str,
                                                      bound: int) -> None:
    before = module_app_server.store.count_events()
    with module_app_server.client() as c:
        err = refused(c, [event(event_type, 0, id=f"{field}-ok"), event(event_type, 1, **{field: bound + 1})])
        assert err["param"] == f"events[1].{field}"
        assert str(bound) in err["message"]
    assert module_app_server.store.count_events() == before


def test_quantity_is_bounded(module_app_server: AppServer) -> None:
    with module_app_server.client() as c:
        err = refused(c, [event("costs", 0, quantity=1e16)])
        assert err["param"] == "events[0].quantity"


def test_events_at_the_bound_sum_exactly(app_server: AppServer) -> None:
    """Many events at the bound, in one minute, still sum exactly on every read path."""
    events = [event("completions", k % 60, id=f"max-{k}", input_tokens=MAX_INT, output_tokens=MAX_INT)
              for k in range(1000)]
    events += [event("vector_stores", 0, id=f"vs-{k}", project_id=f"p{k}", usage_bytes=MAX_BYTES) for k in range(100)]
    with app_server.client() as c:
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": 1100, "duplicates": 0}
        for width in ("1m", "1h", "1d"):
            page = c.get("/v1/organization/usage/completions",
                         params={"start_time": T0, "end_time": T0 + 3600, "bucket_width": width}).json()
            (result,) = [r for b in page["data"] for r in b["results"]]
            assert (result["input_tokens"], result["output_tokens"]) == (1000 * MAX_INT, 1000 * MAX_INT)
        page = c.get("/v1/organization/usage/vector_stores", params={"start_time": T0, "end_time": T0 + 86400}).json()
        assert page["data"][0]["results"][0]["usage_bytes"] == 100 * MAX_BYTES


# -- timestamps: the accepted window and the months of one request --------------------------------

def test_timestamps_outside_the_window_are_refused(module_app_server: AppServer) -> None:
    now = time.time()
    with module_app_server.client() as c:
        for ts, words in [(SERVER_MIN_TIME - 1, "before 2015-01-01T00:00:00Z"), (0, "before 2015-01-01"),
                          (-1, "before 1970"), (1_000_000_000, "before 2015-01-01"),
                          (now + 86_400 + 120, "later than"), (32503680000, "later than")]:
            err = refused(c, [event("completions", 0), event("completions", 1, timestamp=ts)])
            assert err["param"] == "events[1].timestamp"
            assert words in err["message"], err["message"]
        ok = [event("completions", 0, id="w-lo", timestamp=SERVER_MIN_TIME),
              event("completions", 0, id="w-hi", timestamp=int(now) + 86_000)]
        assert c.post(EVENTS, json={"events": ok}).json() == {"accepted": 2, "duplicates": 0}


@pytest.mark.parametrize(("value", "unit"), [(1_767_225_600_000, "milliseconds"),
                                             (1_767_225_600_000_000, "microseconds"),
                                             (1_767_225_600_000_000_000, "nanoseconds"),
                                             (1.7672256e11, "milliseconds")])
def test_timestamps_in_another_unit_get_a_hint(module_app_server: AppServer, value: float, unit: str) -> None:
    with module_app_server.client() as c:
        err = refused(c, [event("completions", 0, timestamp=value)])
    assert err["param"] == "events[0].timestamp"
    assert err["message"].startswith(f"timestamps are Unix seconds; this looks like {unit}")


def months_apart(n: int) -> list[dict[str, Any]]:
    """``n`` events, each in its own calendar month, going back from December 2025."""
    return [event("completions", 0, id=f"mo-{n}-{k}",
                  timestamp=datetime(2025 - k // 12, 12 - k % 12, 15, tzinfo=UTC).timestamp())
            for k in range(n)]


def test_one_request_touches_a_bounded_number_of_months(module_app_server: AppServer) -> None:
    before = module_app_server.store.count_events()
    with module_app_server.client() as c:
        err = refused(c, months_apart(25))
        assert err["param"] == "events[24].timestamp"
        assert "at most 24 calendar months" in err["message"]
        assert module_app_server.store.count_events() == before
        many_days = [event("completions", 0, id=f"days-{k}", timestamp=T0 - 86_400 * 700 + k * 86_400)
                     for k in range(700)]  # 700 days, 23 months
        assert c.post(EVENTS, json={"events": many_days}).json() == {"accepted": 700, "duplicates": 0}
        assert c.post(EVENTS, json={"events": months_apart(24)}).json() == {"accepted": 24, "duplicates": 0}


def test_postgresql_gets_partitions_only_for_the_bounded_months(tmp_path: Path) -> None:
    """1,500 events in 1,500 months are one 400 and no partition at all."""
    with fresh_store("postgresql", tmp_path) as store:
        srv = start_app(store)
        try:
            spread = [event("completions", 0, id=f"p{k}", timestamp=SERVER_MIN_TIME + k * 31 * 86_400)
                      for k in range(140)]
            with srv.client() as c:
                err = refused(c, spread)
                assert err["param"] == "events[24].timestamp"
                assert c.post(EVENTS, json={"events": spread[:24]}).json() == {"accepted": 24, "duplicates": 0}
            parts = store.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")  # type: ignore[attr-defined]
            assert parts == [(24,)]
        finally:
            srv.stop()


def test_window_and_months_are_settings(store: Store) -> None:
    settings = ServerSettings(admin_key=ADMIN_KEY, ingest_min_time=0, ingest_max_future_s=0, ingest_max_months=2)
    srv = start_app(store, settings)
    try:
        with srv.client() as c:
            assert c.post(EVENTS, json={"events": [event("completions", 0, timestamp=60)]}).status_code == 200
            err = refused(c, [event("completions", 1, timestamp=time.time() + 30)])
            assert err["param"] == "events[0].timestamp"
            err = refused(c, months_apart(3))
            assert err["param"] == "events[2].timestamp" and "at most 2 calendar months" in err["message"]
    finally:
        srv.stop()


def test_library_validation_keeps_the_schema_bounds() -> None:
    """Files and syncs (no server settings) take 1970 to 3000, and any number of months."""
    assert len(validate_events([event("completions", k, timestamp=k * 2_700_000) for k in range(100)])) == 100
    with pytest.raises(BadRequestError) as info:
        validate_events([event("completions", 0, timestamp=-0.5)])
    assert info.value.param == "events[0].timestamp"


def test_serve_flags_set_the_window(tmp_path: Path) -> None:
    args = ("--ingest-since", "2020-01-01", "--ingest-max-future", "3600", "--ingest-max-months", "3")
    with ServerProcess(str(tmp_path / "flags.duckdb"), tmp_path, args) as srv, srv.client() as c:
        jan2020 = 1_577_836_800
        assert c.post(EVENTS, json={"events": [event("completions", 0, timestamp=jan2020)]}).status_code == 200
        err = refused(c, [event("completions", 1, timestamp=jan2020 - 1)])
        assert "before 2020-01-01T00:00:00Z" in err["message"]
        err = refused(c, [event("completions", 2, timestamp=time.time() + 3700)])
        assert "later than" in err["message"]
        err = refused(c, months_apart(4))
        assert err["param"] == "events[3].timestamp" and "at most 3 calendar months" in err["message"]
