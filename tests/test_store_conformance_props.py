"""The foundation's reference-model property test, on every engine: DuckDB, PostgreSQL and chdb.

Random events go over HTTP into a live server on each store; random queries on every endpoint
come back page by page and must equal :mod:`tests.reference` over everything that server was
sent.  Each answer is fetched twice, from the per-minute rollups and from raw events only, and
both must match.  (Costs over HTTP add usage priced at query time, so for costs the store's own
part is rendered and compared, and the HTTP answers compared with each other.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openusage.query.params import parse_params, resolve
from openusage.query.render import render_parts
from openusage.service import aggregate_for
from openusage.spec import ENDPOINTS, Endpoint
from openusage.store import Store
from tests.conftest import LiveServer, start_server
from tests.reference import event_key, fetch_all, reference_buckets
from tests.storeconf import ENGINES, fresh_store
from tests.test_properties import case, query_items


@dataclass
class Engine:
    name: str
    server: LiveServer
    client: httpx.Client
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.server.store


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with fresh_store(request.param, tmp_path_factory.mktemp(request.param)) as store:
        srv = start_server(store)
        with srv.client() as client:
            yield Engine(request.param, srv, client)
        srv.stop()


def ingest(e: Engine, events: list[dict[str, Any]]) -> None:
    known = {event_key(ev) for ev in e.history}
    fresh = len({event_key(ev) for ev in events} - known)
    r = e.client.post("/v1/usage/events", json={"events": events})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": fresh, "duplicates": len(events) - fresh}
    e.history.extend(events)


@pytest.mark.parametrize("ep", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_engine_matches_reference(engine: Engine, ep: Endpoint, data: st.DataObject) -> None:
    c = data.draw(case(ep))
    ingest(engine, c["events"])
    want = reference_buckets(ep, engine.history, start_time=c["start"], end_time=c["end"], bucket_width=c["width"],
                             group_by=c["group_by"], filters=c["filters"])
    answers = []
    for rollups in (True, False):
        engine.store.rollups = rollups  # type: ignore[attr-defined]
        try:
            pages = fetch_all(engine.client, ep.full_path, query_items(ep, c))
            answers.append([b for p in pages for b in p["data"]])
            if ep.name == "costs":  # the HTTP answer adds usage priced at query time: check the store's part
                got = store_buckets(engine.store, ep, query_items(ep, c))
            else:
                got = answers[-1]
        finally:
            engine.store.rollups = True  # type: ignore[attr-defined]
        assert got == want, f"{engine.name} rollups={rollups}"
    assert answers[0] == answers[1]


def store_buckets(store: Store, ep: Endpoint, items: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Every page's buckets as the store's aggregation renders them, following the cursors."""
    out: list[dict[str, Any]] = []
    page: list[tuple[str, str]] = []
    for _ in range(200):
        q = resolve(parse_params(ep, items + page), 0)
        table = store.aggregate(aggregate_for(q)) if q.buckets else pa.table({"bucket": pa.array([], pa.int64())})
        body = orjson.loads(b"".join(render_parts(q, table)))
        for bucket in body["data"]:
            for r in bucket["results"]:
                if r.get("quantity") is None and "quantity_unit" in r:
                    r["quantity_unit"] = None  # as the costs layer does: a unit means nothing without a quantity
        out += body["data"]
        if not body["has_more"]:
            return out
        page = [("page", body["next_page"])]
    raise AssertionError("too many pages")
