"""The writer's threads: with two, a commit starts while another runs; every batch queued before
``close`` is committed, each future answered once; one thread keeps commits one after the other."""

from __future__ import annotations

import threading
import time

import pytest

from openusage.ingest.events import EventBatch, validate_events
from openusage.store.writer import Writer

T0 = 1_767_225_600


def batch(tag: str, n: int = 3) -> EventBatch:
    return validate_events([{"id": f"{tag}-{k}", "type": "completions", "timestamp": T0 + k, "model": "m",
                             "input_tokens": 1} for k in range(n)])


class SlowStore:
    """An insert taking ``delay`` seconds, recording how many ran at once and every batch it stored."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.stored: list[int] = []

    def insert(self, batches: list[EventBatch]) -> list[int]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.delay)
        with self.lock:
            self.running -= 1
            self.stored += [len(b) for b in batches]
        return [len(b) for b in batches]


@pytest.mark.parametrize("threads", [1, 2])
def test_commits_overlap_only_with_two_threads(threads: int) -> None:
    store = SlowStore(0.2)
    writer = Writer(store.insert, threads=threads)
    first = writer.submit(batch("a"))
    time.sleep(0.05)  # the first commit runs: the next request is a commit of its own
    second = writer.submit(batch("b", 4))
    assert second.result(5) == 4 and first.result(5) == 3
    writer.close()
    assert store.most == threads
    assert sorted(store.stored) == [3, 4]


def test_close_commits_every_batch_queued_with_every_thread() -> None:
    store = SlowStore(0.01)
    writer = Writer(store.insert, threads=2)
    futures = [writer.submit(batch(f"q{i}", 1 + i % 5)) for i in range(60)]
    writer.close()
    assert [f.result(0) for f in futures] == [1 + i % 5 for i in range(60)]
    assert sum(store.stored) == sum(1 + i % 5 for i in range(60))
    late = writer.submit(batch("late"))
    with pytest.raises(RuntimeError, match="shutting down"):
        late.result(1)


def test_a_writer_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        Writer(SlowStore(0).insert, threads=0)


def test_a_postgresql_server_commits_with_its_writers_option() -> None:
    """The server runs as many writer threads as its PostgreSQL store's ``writers`` option says."""
    from openusage.store import open_store
    from tests.conftest import start_app
    from tests.storeconf import PG_BASE, drop_schema, require_pg, unique_schema

    require_pg()
    schema = unique_schema()
    store = open_store(f"{PG_BASE}?schema={schema}&writers=3")
    try:
        server = start_app(store)
        try:
            names = {t.name for t in threading.enumerate() if t.name.startswith("openusage-writer-")}
            assert names == {"openusage-writer-0", "openusage-writer-1", "openusage-writer-2"}
            with server.client() as client:
                events = [{"id": f"w{i}", "type": "completions", "timestamp": T0 + i, "model": "m",
                           "input_tokens": 1} for i in range(5)]
                r = client.post("/v1/usage/events", json={"events": events})
                assert r.status_code == 200 and r.json()["accepted"] == 5
        finally:
            server.stop()
        assert not any(t.name.startswith("openusage-writer-") for t in threading.enumerate())
    finally:
        store.close()
        drop_schema(schema)
