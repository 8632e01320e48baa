"""One query cannot hold unbounded memory: pages stop at a bucket edge once they would hold more than
``max_page_results`` results (followed to the end they equal the unbounded answer), a bucket alone
over the bound is a 400 saying how to narrow the query, and a key runs a bounded number of queries
at once."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openusage.auth import create_key
from openusage.server.app import ServerSettings
from openusage.store import Store
from tests.conftest import ADMIN_KEY, AppServer, WrappedStore, new_store, start_app
from tests.reference import fetch_all

T0 = 1_700_006_400  # a UTC midnight
H = 3600
PATH = "/v1/organization/usage/completions"
MODELS_PER_HOUR = [2, 2, 2, 3, 1, 0, 6]
"""Distinct models in each hour from T0: the results each 1h bucket holds, grouped by model."""
_ids = itertools.count()


def post(srv: AppServer, events: list[dict[str, Any]]) -> None:
    with srv.client() as c:
        r = c.post("/v1/usage/events", json={"events": events})
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, AppServer]]:
    """Two servers on one store: results bounded to 5 a page, and the default bound."""
    store = new_store(tmp_path_factory.mktemp("pages") / "u.duckdb")
    bounded = start_app(store, ServerSettings(admin_key=ADMIN_KEY, max_page_results=5))
    unbounded = start_app(store)
    post(bounded, [{"id": f"h{h}-m{m}", "type": "completions", "timestamp": T0 + h * H + 60, "model": f"m{m}",
                    "input_tokens": 10 * h + m} for h, n in enumerate(MODELS_PER_HOUR) for m in range(n)])
    yield bounded, unbounded
    bounded.stop()
    unbounded.stop()
    store.close()


def shape(pages: list[dict[str, Any]]) -> list[list[int]]:
    """Per page, the number of results in each bucket."""
    return [[len(b["results"]) for b in p["data"]] for p in pages]


def test_pages_end_at_a_bucket_edge_before_the_bound(servers: tuple[AppServer, AppServer]) -> None:
    bounded, unbounded = servers
    items = [("start_time", str(T0)), ("end_time", str(T0 + 6 * H)), ("bucket_width", "1h"), ("limit", "6"),
             ("group_by", "model")]
    with bounded.client() as c, unbounded.client() as u:
        pages = fetch_all(c, PATH, items)
        assert shape(pages) == [[2, 2], [2, 3], [1, 0]]
        assert [p["data"][0]["start_time"] for p in pages] == [T0, T0 + 2 * H, T0 + 4 * H]
        whole = fetch_all(u, PATH, items)
        assert shape(whole) == [[2, 2, 2, 3, 1, 0]]
        assert [b for p in pages for b in p["data"]] == whole[0]["data"]


def test_a_bucket_over_the_bound_is_a_400(servers: tuple[AppServer, AppServer]) -> None:
    bounded, _ = servers
    with bounded.client() as c:
        items = {"start_time": T0 + 4 * H, "end_time": T0 + 7 * H, "bucket_width": "1h", "group_by": "model"}
        first = c.get(PATH, params=items).json()
        assert shape([first]) == [[1, 0]] and first["has_more"]
        for params in ({**items, "page": first["next_page"]}, {**items, "start_time": T0 + 6 * H + 1}):
            r = c.get(PATH, params=params)
            assert r.status_code == 400
            start = T0 + 6 * H + (1 if "page" not in params else 0)
            assert r.json()["error"] == {
                "message": f"The bucket starting at {start} holds more than 5 results, the most one page may "
                           "hold: narrow the query with a smaller bucket_width, fewer group_by fields or "
                           "filters (project_ids, models, ...).",
                "type": "invalid_request_error", "param": None, "code": None}
        ok = c.get(PATH, params={"start_time": T0 + 6 * H, "end_time": T0 + 7 * H, "bucket_width": "1h"})
        assert ok.status_code == 200  # the same hour not grouped by model fits
        assert ok.json()["data"][0]["results"][0]["input_tokens"] == sum(60 + m for m in range(6))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bounded_pages_followed_to_the_end_equal_the_unbounded_answer(
        servers: tuple[AppServer, AppServer], data: st.DataObject) -> None:
    bounded, unbounded = servers
    base = T0 + 10 * 86400 + data.draw(st.integers(0, 1000)) * 86400
    n = data.draw(st.integers(0, 40))
    post(bounded, [{"id": f"p{next(_ids)}", "type": "completions",
                    "timestamp": base + data.draw(st.integers(0, 4 * H - 1)),
                    "model": data.draw(st.sampled_from(["a", "b", "c", "d"])),
                    "project_id": data.draw(st.sampled_from(["p1", "p2", None])),
                    "input_tokens": data.draw(st.integers(0, 1000))} for _ in range(n)])
    width = data.draw(st.sampled_from(["1m", "1h"]))
    start = base + data.draw(st.integers(0, 2 * H))
    items = [("start_time", str(start)), ("end_time", str(start + data.draw(st.integers(1, 2 * H)))),
             ("bucket_width", width), ("limit", str(data.draw(st.integers(1, 30))))]
    items += [("group_by", g) for g in data.draw(st.lists(st.sampled_from(["model", "project_id"]), unique=True))]
    bound = data.draw(st.integers(1, 6))
    bounded.app.state.core.service.max_page_results = bound
    with bounded.client() as c, unbounded.client() as u:
        whole = [b for p in fetch_all(u, PATH, items) for b in p["data"]]
        if max((len(b["results"]) for b in whole), default=0) > bound:
            return  # a bucket alone over the bound: the 400 above
        pages = fetch_all(c, PATH, items, max_pages=500)
        assert all(sum(len(b["results"]) for b in p["data"]) <= bound for p in pages)
        assert [b for p in pages for b in p["data"]] == whole


class SlowAggregates(WrappedStore):
    """A real store whose aggregations take half a second more, as a busy database's do."""

    def aggregate(self, agg: Any) -> Any:
        time.sleep(0.5)
        return self._store.aggregate(agg)


def test_a_key_runs_a_bounded_number_of_queries_at_once(tmp_path: Path) -> None:
    real = new_store(tmp_path / "u.duckdb")
    mine, other = (create_key(real, n, "read").secret for n in ("mine", "other"))
    server = start_app(SlowAggregates(real), ServerSettings(admin_key=ADMIN_KEY,  # type: ignore[arg-type]
                                                            max_concurrent_queries=2))
    answers: list[tuple[str, httpx.Response]] = []

    def query(key: str) -> None:
        with server.client(key) as c:
            r = c.get(PATH, params={"start_time": T0, "end_time": T0 + 86400})
        answers.append((key, r))

    try:
        threads = [threading.Thread(target=query, args=(k,)) for k in (mine, mine, mine, mine, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for k, r in answers if k == mine)
        assert codes == [200, 200, 429, 429]
        assert [r.status_code for k, r in answers if k == other] == [200]
        refused = next(r for _, r in answers if r.status_code == 429)
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"] == {
            "message": "This key already runs 2 queries at once; wait for one to finish. Retry after 1 s.",
            "type": "rate_limit_error", "param": None, "code": "too_many_concurrent_queries"}
        query(mine)  # the slots were given back
        assert answers[-1][1].status_code == 200
    finally:
        server.stop()
        real.close()


class RecordingStore(WrappedStore):
    """A real store that records the buckets each aggregation spans."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.spans: list[int] = []

    def aggregate(self, agg: Any) -> Any:
        self.spans.append((agg.end_s - agg.start_s) // agg.width_s)
        return self._store.aggregate(agg)


def test_the_engine_reads_a_page_in_runs_near_the_bound(tmp_path: Path) -> None:
    real = new_store(tmp_path / "u.duckdb")
    store = RecordingStore(real)
    server = start_app(store, ServerSettings(admin_key=ADMIN_KEY, max_page_results=25))  # type: ignore[arg-type]
    try:
        post(server, [{"id": f"e{m}-{u}", "type": "completions", "timestamp": T0 + m * 60, "user_id": f"u{u}",
                       "input_tokens": 1} for m in range(60) for u in range(10)])  # 10 results a minute
        store.spans.clear()
        with server.client() as c:
            params = {"start_time": T0, "end_time": T0 + H, "bucket_width": "1m", "limit": 60, "group_by": "user_id"}
            pages = fetch_all(c, PATH, list(params.items()), max_pages=60)
        assert shape(pages)[:2] == [[10, 10], [10, 10]] and len(pages) == 30
        assert store.spans[:2] == [1, 3]  # not the page's 60 minutes at once
        assert max(store.spans) <= 3
    finally:
        server.stop()
        real.close()


def test_serve_flags_set_the_bounds(tmp_path: Path) -> None:
    from tests.procserver import ServerProcess

    args = ("--max-page-results", "3", "--max-concurrent-queries", "1", "--auth-failures-per-minute", "2")
    with ServerProcess(str(tmp_path / "u.duckdb"), tmp_path, args) as srv, srv.client() as c:
        r = c.post("/v1/usage/events", json={"events": [
            {"id": f"e{h}-{m}", "type": "completions", "timestamp": T0 + h * H, "model": f"m{m}", "input_tokens": 1}
            for h in range(3) for m in range(2)]})
        assert r.status_code == 200, r.text
        params = [("start_time", str(T0)), ("end_time", str(T0 + 3 * H)), ("bucket_width", "1h"),
                  ("group_by", "model")]
        assert shape(fetch_all(c, PATH, params)) == [[2], [2], [2]]
        codes = [httpx.get(srv.url + PATH, params=params, timeout=30,
                           headers={"Authorization": f"Bearer ouk_{i:012d}_{'s' * 32}"}).status_code for i in range(4)]
        assert codes == [401, 401, 429, 429]


@pytest.mark.parametrize("engine", ["duckdb", "postgresql", "chdb"])
def test_every_engine_answers_the_first_rows_in_bucket_order(engine: str, tmp_path: Path) -> None:
    from dataclasses import replace

    from openusage.ingest.events import validate_events
    from openusage.store.base import Aggregate
    from tests.storeconf import fresh_store

    with fresh_store(engine, tmp_path) as store:
        store.insert([validate_events([{"id": f"e{h}-{m}", "type": "completions", "timestamp": T0 + h * H + m,
                                        "model": f"m{m}", "input_tokens": h + m} for h in range(3) for m in range(3)])])
        agg = Aggregate("completions", T0, T0 + 3 * H, H, ("model",), metrics=("input_tokens",))
        whole = store.aggregate(agg).to_pylist()
        rows = store.aggregate(replace(agg, max_rows=4)).to_pylist()
        assert len(whole) == 9 and rows == whole[:4]
        assert [(r["bucket"], r["model"]) for r in rows] == [(T0, "m0"), (T0, "m1"), (T0, "m2"), (T0 + H, "m0")]
