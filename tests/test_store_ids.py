"""Event ids are unique per project: one key can neither claim nor shadow another project's ids.

The idempotency key is (project_id, id), events without a project counting under the empty
project, as CloudEvents deduplicates per source and id.  Checked on every engine, and on
PostgreSQL across two ``openusage serve`` processes receiving the same ids at the same instant.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openusage.ingest.events import validate_events
from openusage.store import Store, open_store
from openusage.store.base import Aggregate
from tests.procserver import ServerProcess
from tests.storeconf import ENGINES, PG_BASE, drop_schema, fresh_store, require_pg, unique_schema

T0 = 1_700_000_000
DAY0 = T0 - T0 % 86400


def ev(i: str, project: str | None, tokens: int = 1, ts: float = T0) -> dict[str, Any]:
    e = {"id": i, "type": "completions", "timestamp": ts, "model": "o3", "input_tokens": tokens}
    return {**e, "project_id": project} if project is not None else e


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with fresh_store(request.param, tmp_path) as s:
        yield s


def by_project(store: Store) -> list[tuple[str | None, int, int]]:
    agg = Aggregate("completions", DAY0, DAY0 + 86400, 86400, group_by=("project_id",),
                    metrics=("input_tokens", "num_model_requests"))
    answers = []
    for rollups in (True, False):
        store.rollups = rollups  # type: ignore[attr-defined]
        try:
            t = store.aggregate(agg)
        finally:
            store.rollups = True  # type: ignore[attr-defined]
        answers.append(list(zip(*(t.column(c).to_pylist() for c in ("project_id", "input_tokens",
                                                                     "num_model_requests")), strict=True)))
    assert answers[0] == answers[1]
    return answers[0]


def test_same_id_counts_once_per_project(store: Store) -> None:
    assert store.insert([validate_events([ev("x", "p1", 1)])]) == [1]
    assert store.insert([validate_events([ev("x", "p2", 10)])]) == [1]  # another project's id: its own event
    assert store.insert([validate_events([ev("x", "p1", 100, ts=T0 + 60)])]) == [0]  # a resend, moved: known
    assert store.insert([validate_events([ev("x", None, 1000)])]) == [1]  # no project: the empty project
    assert store.insert([validate_events([ev("x", None, 5)])]) == [0]
    # in one request: the same id twice in one project folds, in two projects counts twice
    batch = validate_events([ev("y", "p3", 7), ev("y", "p3", 8), ev("y", "p4", 9), ev("x", "p2", 3)])
    assert store.insert([batch, validate_events([ev("y", "p4", 1), ev("z", "p4", 20)])]) == [2, 1]
    assert store.count_events() == 6
    assert by_project(store) == [(None, 1000, 1), ("p1", 1, 1), ("p2", 10, 1), ("p3", 7, 1), ("p4", 29, 2)]


def test_two_serve_processes_count_each_project_id_once(tmp_path: Path) -> None:
    """Two workers receive the same ids in three projects at the same instant: each (project, id) once."""
    require_pg()
    schema = unique_schema()
    url = f"{PG_BASE}?schema={schema}"
    open_store(url).close()
    try:
        with ServerProcess(url, tmp_path) as a, ServerProcess(url, tmp_path) as b, a.client() as ca, \
                b.client() as cb:
            accepted = [0, 0]
            rounds = [[ev(f"e{i}", f"p{i % 3}" if i % 4 else None, i) for i in range(r * 20, r * 20 + 40)]
                      + [ev(f"e{i}", "shared", 1) for i in range(r * 20, r * 20 + 40)] for r in range(8)]

            def send(idx: int, client: Any, barrier: threading.Barrier) -> None:
                for body in rounds:
                    barrier.wait(timeout=30)
                    r = client.post("/v1/usage/events", json={"events": body})
                    assert r.status_code == 200, r.text
                    accepted[idx] += r.json()["accepted"]

            barrier = threading.Barrier(2)
            threads = [threading.Thread(target=send, args=(i, c, barrier)) for i, c in enumerate((ca, cb))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            ids = 7 * 20 + 40
            assert sum(accepted) == 2 * ids
        store = open_store(url)
        try:
            assert store.count_events() == 2 * ids
            assert store.execute("SELECT count(*) FROM event_ids") == [(2 * ids,)]  # type: ignore[attr-defined]
            assert by_project(store)[-1] == ("shared", ids, ids)
            assert sum(n for _, _, n in by_project(store)) == 2 * ids
            assert sum(t for _, t, _ in by_project(store)) == sum(range(ids)) + ids
        finally:
            store.close()
    finally:
        drop_schema(schema)


def test_scan_chunks_keep_every_project_of_an_id_together(store: Store) -> None:
    """``openusage migrate`` reads chunks after the last (ts_us, id): a chunk ends with all its events."""
    evs = [ev("x", "p2"), ev("x", None), ev("x", "p1"), ev("y", "p1", ts=T0 + 1), ev("a", "p1", ts=T0 + 2)]
    assert store.insert([validate_events(evs)]) == [5]
    first = store.scan(None, 1)
    assert list(zip(first.column("id").to_pylist(), first.column("project_id").to_pylist(), strict=True)) == [
        ("x", None), ("x", "p1"), ("x", "p2")]
    rest = store.scan((T0 * 1_000_000, "x"), 1)
    assert rest.column("id").to_pylist() == ["y"]
    assert store.scan((T0 * 1_000_000 + 1_000_000, "y"), 5).column("id").to_pylist() == ["a"]
    assert store.scan((T0 * 1_000_000 + 2_000_000, "a"), 5).num_rows == 0


def test_migrate_copies_an_id_in_every_project(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from openusage.cli import cli

    src = f"duckdb:///{tmp_path / 'a.duckdb'}"
    store = open_store(src)
    store.insert([validate_events([ev("x", "p1"), ev("x", "p2"), ev("x", None), ev("y", "p1", ts=T0 + 1)])])
    store.close()
    dst = f"chdb:///{tmp_path / 'ch'}"
    r = CliRunner().invoke(cli, ["migrate", "--from", src, "--to", dst, "--chunk", "1"])
    assert r.exit_code == 0, r.output
    assert "Copied 4 new events (0 already there)" in r.output
