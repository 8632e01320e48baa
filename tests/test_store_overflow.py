"""No set of accepted events can make a later query fail: sums are exact far beyond 64 bits.

On every engine (DuckDB, PostgreSQL, chdb), events carrying the per-event bound ``MAX_INT`` go in
through a live server, and events carrying 2**62 go straight into the store (past any ingest
bound, to show the engine itself cannot overflow); every endpoint and grouping is queried, from
the rollups and from raw events, and must equal the reference model exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openusage.ingest.events import INT_METRICS, MAX_INT, EventBatch, validate_events
from openusage.spec import ENDPOINTS, ENDPOINTS_BY_TYPE, Endpoint
from openusage.store.base import Aggregate
from tests.conftest import start_server
from tests.reference import fetch_all, reference_buckets
from tests.storeconf import ENGINES, fresh_store
from tests.test_properties import case, query_items
from tests.test_store_conformance_props import Engine, ingest, store_buckets

HUGE = 2**62
DAY = 86400
T0 = 3_000_000_000 - 3_000_000_000 % DAY  # 2065: no property example reaches it


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with fresh_store(request.param, tmp_path_factory.mktemp(request.param)) as store:
        srv = start_server(store)
        with srv.client() as client:
            yield Engine(request.param, srv, client)
        srv.stop()


def at_bound(events: list[dict[str, Any]], value: int) -> list[dict[str, Any]]:
    """The events with every counter and gauge of their type set to ``value``."""
    out = []
    for ev in events:
        ev = dict(ev)
        for m in ENDPOINTS_BY_TYPE[ev["type"]].metrics:
            if m.agg in ("sum", "gauge"):
                ev[m.name] = value
        out.append(ev)
    return out


def huge_batch(events: list[dict[str, Any]]) -> EventBatch:
    """A batch whose counters hold 2**62, beyond what ingestion accepts: the store must still sum it."""
    batch = validate_events(at_bound(events, 1))
    table = batch.table
    for name in INT_METRICS:
        col = table.column(name)
        table = table.set_column(table.schema.get_field_index(name), name,
                                 pc.if_else(pc.is_null(col), col, pa.scalar(HUGE, pa.int64())))
    return EventBatch(table, batch.received)


def check(engine: Engine, ep: Endpoint, c: dict[str, Any]) -> None:
    want = reference_buckets(ep, engine.history, start_time=c["start"], end_time=c["end"], bucket_width=c["width"],
                             group_by=c["group_by"], filters=c["filters"])
    for rollups in (True, False):
        engine.store.rollups = rollups  # type: ignore[attr-defined]
        try:
            pages = fetch_all(engine.client, ep.full_path, query_items(ep, c))  # asserts 200 on every page
            got = store_buckets(engine.store, ep, query_items(ep, c)) if ep.name == "costs" else \
                [b for p in pages for b in p["data"]]
        finally:
            engine.store.rollups = True  # type: ignore[attr-defined]
        assert got == want, f"{engine.name} rollups={rollups}"


@pytest.mark.parametrize("ep", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_events_at_the_bound_never_break_a_query(engine: Engine, ep: Endpoint, data: st.DataObject) -> None:
    c = data.draw(case(ep))
    ingest(engine, at_bound(c["events"], MAX_INT))
    check(engine, ep, c)


@pytest.mark.parametrize("ep", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_engine_sums_2_pow_62_exactly(engine: Engine, ep: Endpoint, data: st.DataObject) -> None:
    c = data.draw(case(ep))
    events = at_bound(c["events"], HUGE)
    engine.store.insert([huge_batch(c["events"])])
    engine.history.extend(events)
    check(engine, ep, c)


def test_many_huge_events_sum_past_int64(engine: Engine) -> None:
    """Forty events of 2**62 in one minute: 10 * 2**64, exact in the API's JSON and the store's answer."""
    evs = [{"id": f"big{i}", "type": "embeddings", "timestamp": T0 + 3 * DAY + 30 + i / 100, "input_tokens": 1,
            "project_id": f"p{i % 2}"} for i in range(40)]
    engine.store.insert([huge_batch(evs)])
    engine.history.extend(at_bound(evs, HUGE))
    agg = Aggregate("embeddings", T0 + 3 * DAY, T0 + 4 * DAY, DAY, metrics=("input_tokens", "num_model_requests"))
    for rollups in (True, False):
        engine.store.rollups = rollups  # type: ignore[attr-defined]
        try:
            t = engine.store.aggregate(agg)
            r = engine.client.get("/v1/organization/usage/embeddings",
                                  params={"start_time": T0 + 3 * DAY, "end_time": T0 + 4 * DAY})
        finally:
            engine.store.rollups = True  # type: ignore[attr-defined]
        assert t.to_pylist() == [{"bucket": T0 + 3 * DAY, "input_tokens": Decimal(40 * HUGE),
                                  "num_model_requests": Decimal(40 * HUGE)}]
        assert r.status_code == 200, r.text
        assert b'"input_tokens":184467440737095516160,' in r.content
        [res] = r.json()["data"][0]["results"]
        assert res["input_tokens"] == 40 * HUGE == 184467440737095516160
