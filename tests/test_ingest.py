"""Ingestion over real HTTP: both body formats, idempotency, all-or-nothing batches, durability
across a restart, and every event type with every field it may carry."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

from openusage.spec import DIMENSIONS, ENDPOINTS, ENDPOINTS_BY_TYPE, EVENT_TYPES, QUANTITY_UNITS, event_dimensions
from openusage.store import open_store
from tests.conftest import AppServer, start_app
from tests.reference import consistent_tokens, fetch_all

T0 = 1_700_006_400  # a UTC midnight
DAY = 86400
EVENTS = "/v1/usage/events"


def completion(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"c{i}", "type": "completions", "timestamp": T0 + i, "input_tokens": 10, **extra}


def totals(c: httpx.Client, name: str = "completions", metric: str = "input_tokens") -> tuple[int, int]:
    """(sum of ``metric``, sum of requests) over the first day."""
    ep = next(e for e in ENDPOINTS if e.name == name)
    pages = fetch_all(c, ep.full_path, [("start_time", str(T0)), ("end_time", str(T0 + DAY))])
    results = [r for p in pages for b in p["data"] for r in b["results"]]
    return sum(r[metric] for r in results), sum(r.get("num_model_requests", 0) for r in results)


def test_json_and_ndjson_bodies(app_server: AppServer) -> None:
    with app_server.client() as c:
        assert c.post(EVENTS, json={"events": []}).json() == {"accepted": 0, "duplicates": 0}
        assert c.post(EVENTS, json={"events": [completion(0), completion(1)]}).json() == {"accepted": 2,
                                                                                          "duplicates": 0}
        for n, ctype in enumerate(("application/x-ndjson", "application/jsonl", "application/x-ndjson; charset=utf-8")):
            lines = [orjson.dumps(completion(10 + 3 * n + k)) for k in range(3)]
            body = b"\n" + b"\n".join(lines[:2]) + b"\n\n  \r\n" + lines[2]  # blank lines are skipped
            r = c.post(EVENTS, content=body, headers={"content-type": ctype})
            assert r.json() == {"accepted": 3, "duplicates": 0}, r.text
        assert c.post(EVENTS, content=b"", headers={"content-type": "application/x-ndjson"}).json() == {
            "accepted": 0, "duplicates": 0}
        assert totals(c) == (110, 11)
    assert app_server.store.count_events() == 11


def test_reingest_is_idempotent(app_server: AppServer) -> None:
    events = [completion(i) for i in range(50)]
    with app_server.client() as c:
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": 50, "duplicates": 0}
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": 0, "duplicates": 50}
        ndjson = b"\n".join(orjson.dumps(e) for e in events)
        r = c.post(EVENTS, content=ndjson, headers={"content-type": "application/x-ndjson"})
        assert r.json() == {"accepted": 0, "duplicates": 50}
        mixed = [completion(i) for i in range(45, 55)]
        assert c.post(EVENTS, json={"events": mixed}).json() == {"accepted": 5, "duplicates": 5}
        assert totals(c) == (550, 55)


def test_duplicates_inside_one_request_first_wins(app_server: AppServer) -> None:
    events = [completion(0, input_tokens=1), completion(1), completion(0, input_tokens=1000),
              {"id": "c1", "type": "embeddings", "timestamp": T0, "input_tokens": 99}]
    with app_server.client() as c:
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": 2, "duplicates": 2}
        assert totals(c) == (11, 2)
        assert totals(c, "embeddings") == (0, 0)  # an id is one event, whatever the type


def test_concurrent_copies_count_once(app_server: AppServer) -> None:
    """The same events sent by several clients at once (their requests share commits) count once."""
    events = [completion(i) for i in range(100)]
    answers: list[dict[str, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def send() -> None:
        with app_server.client() as c:
            barrier.wait()
            answer = c.post(EVENTS, json={"events": events}).json()
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(a["accepted"] for a in answers) == 100
    assert sum(a["duplicates"] for a in answers) == 500
    with app_server.client() as c:
        assert totals(c) == (1000, 100)


def test_rejected_batch_stores_nothing(app_server: AppServer) -> None:
    events = [completion(i) for i in range(20)] + [completion(20, input_tokens=-1)]
    with app_server.client() as c:
        r = c.post(EVENTS, json={"events": events})
        assert r.status_code == 400 and r.json()["error"]["param"] == "events[20].input_tokens"
        assert totals(c) == (0, 0)
        # the same events, fixed, are all new: nothing of the rejected request was kept
        assert c.post(EVENTS, json={"events": events[:20]}).json() == {"accepted": 20, "duplicates": 0}
    assert app_server.store.count_events() == 20


def test_timestamps_keep_microseconds(app_server: AppServer) -> None:
    with app_server.client() as c:
        events = [completion(0, timestamp=T0 + 0.000001), completion(1, timestamp=T0 + DAY - 0.000001),
                  completion(2, timestamp=T0 + DAY), completion(3, timestamp=T0 - 0.000001),
                  completion(4, timestamp=1_700_000_123.654321)]
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": 5, "duplicates": 0}
        assert totals(c) == (20, 2)
    rows = app_server.store.execute("SELECT id, ts_us FROM events ORDER BY id")  # type: ignore[attr-defined]
    assert rows == [("c0", T0 * 10**6 + 1), ("c1", (T0 + DAY) * 10**6 - 1), ("c2", (T0 + DAY) * 10**6),
                    ("c3", T0 * 10**6 - 1), ("c4", 1_700_000_123_654_321)]


def test_restart_keeps_every_acknowledged_event(tmp_path: Path) -> None:
    path = str(tmp_path / "durable.duckdb")
    store = open_store(path)
    srv = start_app(store)
    acknowledged: list[int] = []
    lock = threading.Lock()

    def writer(w: int) -> None:  # several clients at once: their requests share commits
        with srv.client() as c:
            for k in range(10):
                events = [completion(w * 1000 + k * 10 + j) for j in range(10)]
                answer = c.post(EVENTS, json={"events": events}).json()
                with lock:
                    acknowledged.append(answer["accepted"])

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(acknowledged) == 400
    srv.stop()
    store.close()

    reopened = open_store(path)
    srv = start_app(reopened)
    try:
        with srv.client() as c:
            pages = fetch_all(c, "/v1/organization/usage/completions",
                              [("start_time", str(T0)), ("end_time", str(T0 + 5 * DAY))])
            results = [r for p in pages for b in p["data"] for r in b["results"]]
            assert sum(r["num_model_requests"] for r in results) == 400
            assert sum(r["input_tokens"] for r in results) == 4000
            assert c.post(EVENTS, json={"events": [completion(0)]}).json() == {"accepted": 0, "duplicates": 1}
    finally:
        srv.stop()
        reopened.close()


def full_event(event_type: str, n: int) -> dict[str, Any]:
    """An event of ``event_type`` with every field the type allows, each set to a distinct value."""
    ev: dict[str, Any] = {"id": f"full-{event_type}", "type": event_type, "timestamp": T0 + 3600 + n}
    for d in event_dimensions(event_type):
        spec = DIMENSIONS[d]
        if spec.kind == "bool":
            ev[d] = True
        elif spec.enum:
            ev[d] = spec.enum[-1] if spec.default != spec.enum[-1] else spec.enum[0]
        else:
            ev[d] = f"{d}-{n}"
    ep = ENDPOINTS_BY_TYPE[event_type]
    for k, m in enumerate(ep.metrics):
        if m.agg in ("sum", "gauge"):
            ev[m.name] = 1000 * (n + 1) + k
    if event_type == "costs":
        ev["amount"] = {"value": "12.345678901234", "currency": "usd"}
        ev["quantity"] = 1500.5
        ev["quantity_unit"] = QUANTITY_UNITS[1]
    return consistent_tokens(ev)


def test_every_event_type_with_all_its_fields(app_server: AppServer) -> None:
    events = [full_event(t, n) for n, t in enumerate(EVENT_TYPES)]
    with app_server.client() as c:
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": len(events), "duplicates": 0}
        for ev in events:
            ep = ENDPOINTS_BY_TYPE[ev["type"]]
            width = "1d" if ep.name == "costs" else "1h"
            items = [("start_time", str(T0)), ("end_time", str(T0 + DAY)), ("bucket_width", width)]
            items += [("group_by", g) for g in ep.group_by]
            buckets = [b for p in fetch_all(c, ep.full_path, items) for b in p["data"]]
            full = [b for b in buckets if b["results"]]
            assert len(full) == 1 and full[0]["start_time"] == (T0 if width == "1d" else T0 + 3600)
            (result,) = full[0]["results"]
            assert result["object"] == ep.result_object
            for d in ep.result_dimensions:
                assert result[d] == ev[d], d
            if ep.name == "costs":
                assert result["amount"] == {"value": float(Decimal("12.345678901234")), "currency": "usd"}
                assert (result["quantity"], result["quantity_unit"]) == (1500.5, QUANTITY_UNITS[1])
            else:
                for m in ep.metrics:
                    assert result[m.name] == ev[m.name], m.name


def test_defaults_of_left_out_fields(app_server: AppServer) -> None:
    """Dimensions take the spec's defaults; counted metrics default to 1, the others to 0."""
    minimal = [{"id": f"min-{t}", "type": t, "timestamp": T0 + 7200} for t in EVENT_TYPES]
    minimal[EVENT_TYPES.index("costs")]["amount"] = 2
    with app_server.client() as c:
        assert c.post(EVENTS, json={"events": minimal}).json() == {"accepted": len(minimal), "duplicates": 0}
        for ev in minimal:
            ep = ENDPOINTS_BY_TYPE[ev["type"]]
            items = [("start_time", str(T0)), ("end_time", str(T0 + DAY))] + [("group_by", g) for g in ep.group_by]
            (result,) = fetch_all(c, ep.full_path, items)[0]["data"][0]["results"]
            for d in ep.result_dimensions:
                assert result[d] == DIMENSIONS[d].default, d
            for m in ep.metrics:
                if m.agg != "decimal" and m.name != "quantity":
                    assert result[m.name] == m.default, m.name
    assert {m.name for e in ENDPOINTS for m in e.metrics if m.default == 1} == {
        "num_model_requests", "num_sessions", "images", "num_requests"}


def test_largest_amounts_sum_exactly(app_server: AppServer) -> None:
    """Amounts up to the per-event bound, many in one minute, sum without overflow, exactly."""
    big = "999999999999999999.999999999999"
    events = [{"id": f"big-{i}", "type": "costs", "timestamp": T0 + i, "amount": big} for i in range(50)]
    events.append({"id": "big-neg", "type": "costs", "timestamp": T0, "amount": "-" + big})
    with app_server.client() as c:
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": 51, "duplicates": 0}
        too_big = {"id": "too-big", "type": "costs", "timestamp": T0, "amount": "1e18"}
        r = c.post(EVENTS, json={"events": [too_big]})
        assert r.status_code == 400 and r.json()["error"]["param"] == "events[0].amount"
        for start in (T0, T0 + 1):  # whole minutes and a partial one
            page = c.get("/v1/organization/costs", params={"start_time": start, "end_time": start + DAY}).json()
            # from T0: 50 events less the negative one; from T0 + 1: 49, the negative one left out
            want = Decimal(big) * 49
            assert page["data"][0]["results"][0]["amount"] == {"value": float(want), "currency": "usd"}
