"""A PostgreSQL worker whose list of month partitions went stale (another worker's retention dropped
a month) still stores a late event for that month: the insert recreates the partition and the event
is counted once, instead of failing with "no partition of relation events found for row"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openusage.ingest.events import validate_events
from openusage.store import Store, open_store
from tests.storeconf import fresh_store, require_pg

MAR_2025 = 1_741_000_000  # 2025-03-03
NOW = 1_764_000_000  # 2025-11-24


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Store]:
    require_pg()
    with fresh_store("postgresql", tmp_path) as s:
        yield s


def _event(i: int, ts: int) -> dict[str, object]:
    return {"id": f"late-{i}", "type": "completions", "timestamp": ts, "model": "gpt-4o", "project_id": "proj_a",
            "input_tokens": 10 + i}


def test_an_event_for_a_month_another_worker_dropped_is_stored(worker: Store) -> None:
    other = open_store(worker.url)  # a second worker on the same store (the URL names its schema)
    try:
        assert worker.insert([validate_events([_event(0, MAR_2025)])]) == [1]
        assert other.prune(NOW) == 0  # March's partition wholly before the cutoff: folded and dropped
        # The first worker still lists March's partition as there; a late event for March arrives.
        assert worker.execute("SELECT count(*) FROM events") == [(0,)]
        assert worker.insert([validate_events([_event(1, MAR_2025 + 60)])]) == [1]
        assert worker.insert([validate_events([_event(1, MAR_2025 + 60)])]) == [0]  # a retry: once
        assert worker.execute("SELECT id FROM events") == [("late-1",)]
    finally:
        other.close()


def test_the_store_url_names_its_schema(worker: Store) -> None:
    """Two schemas of one database are two stores: each one's URL says which (it names the Redis
    namespace of its rate limits, and reopens the same store)."""
    assert f"schema={worker.schema}" in worker.url  # type: ignore[attr-defined]
    again = open_store(worker.url)
    try:
        assert again.schema == worker.schema  # type: ignore[attr-defined]
    finally:
        again.close()
