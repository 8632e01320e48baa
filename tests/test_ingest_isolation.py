"""One request never makes another fail: a group commit that fails is retried request by request,
so only the faulty request is refused; a store outage still fails every request of the commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from openusage.ingest.events import EventBatch, validate_events
from openusage.store import Store
from openusage.store.writer import Writer
from tests.conftest import AppServer, start_app
from tests.storeconf import fresh_store

T0 = 1_767_225_600  # 2026-01-01
EVENTS = "/v1/usage/events"


def completions(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{k}", "type": "completions", "timestamp": T0 + k, "model": "m",
             "input_tokens": 10, "output_tokens": 1} for k in range(n)]


def bad_batch(kind: str, prefix: str) -> EventBatch:
    """Three events built past validation, which the store itself refuses."""
    table = validate_events(completions(prefix, 3)).table
    if kind == "nul":  # PostgreSQL refuses U+0000 in text
        col, values = "model", pa.array(["gpt\x00x"] * 3, pa.string())
    else:  # not a number: refused when cast to BIGINT
        col, values = "input_tokens", pa.array(["many"] * 3, pa.string())
    i = table.schema.get_field_index(col)
    return EventBatch(table.set_column(i, col, values), 3)


def is_data_error(exc: BaseException) -> bool:
    return any(c.__name__ == "DataError" for c in type(exc).__mro__)


CASES = [("duckdb", "type"), ("postgresql", "nul"), ("postgresql", "type")]


@pytest.fixture
def engine_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with fresh_store(request.param, tmp_path) as store:
        yield store


@pytest.mark.parametrize(("engine_store", "kind"), CASES, indirect=["engine_store"])
def test_failing_batch_in_a_group_commit_fails_alone(engine_store: Store, kind: str) -> None:
    gate = threading.Event()
    commits: list[list[int]] = []

    def insert(batches: list[EventBatch]) -> list[int]:
        gate.wait(30)  # holds the first commit until every request is queued: the rest share one commit
        commits.append([len(b) for b in batches])
        return engine_store.insert(batches)

    writer = Writer(insert)
    good: list[Future[int]] = [writer.submit(validate_events(completions(f"a{k}", 10))) for k in range(30)]
    bad = writer.submit(bad_batch(kind, "bad"))
    good += [writer.submit(validate_events(completions(f"b{k}", 10))) for k in range(30)]
    gate.set()
    assert [f.result(60) for f in good] == [10] * 60
    exc = bad.exception(60)
    assert exc is not None and is_data_error(exc), exc
    writer.close()
    assert any(3 in c and len(c) > 1 for c in commits), commits  # the bad batch shared a commit
    assert engine_store.count_events() == 600
    assert engine_store.execute("SELECT count(*) FROM events WHERE starts_with(id, 'bad-')") == [(0,)]  # type: ignore[attr-defined]


def test_an_outage_fails_every_request_of_the_commit_without_retrying_each() -> None:
    gate = threading.Event()
    calls: list[int] = []

    def insert(batches: list[EventBatch]) -> list[int]:
        gate.wait(30)
        calls.append(len(batches))
        raise OSError(28, "No space left on device")

    writer = Writer(insert)
    futures = [writer.submit(validate_events(completions(f"o{k}", 2))) for k in range(5)]
    gate.set()
    errors = [f.exception(30) for f in futures]
    writer.close()
    assert all(isinstance(e, OSError) and e.errno == 28 for e in errors)
    assert sum(calls) == 5 and len(calls) <= 2  # whole commits only, never one by one


@pytest.mark.parametrize(("engine_store", "kind"), [("duckdb", "type"), ("postgresql", "nul")],
                         indirect=["engine_store"])
def test_concurrent_http_requests_survive_a_faulty_neighbour(engine_store: Store, kind: str) -> None:
    srv: AppServer = start_app(engine_store)
    core = srv.app.state.core
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(9)

    def client(w: int) -> None:
        with srv.client() as c:
            start.wait()
            for r in range(6):
                status = c.post(EVENTS, json={"events": completions(f"w{w}r{r}", 20)}).status_code
                with lock:
                    statuses.append(status)

    try:
        threads = [threading.Thread(target=client, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        start.wait()
        bad = [core.writer.submit(bad_batch(kind, f"bad{k}")) for k in range(6)]
        for t in threads:
            t.join()
        assert statuses == [200] * 48
        assert all(is_data_error(f.exception(30)) for f in bad)
        assert engine_store.count_events() == 960
    finally:
        srv.stop()
