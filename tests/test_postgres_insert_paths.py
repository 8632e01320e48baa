"""PostgreSQL's insert: retried and overlapping batches, in one store or two at once, count each event
once (the ids already stored are skipped, the rest stored and added into the rollups)."""

from __future__ import annotations

import threading

from openusage.ingest.events import validate_events
from tests import test_postgres_history as history
from tests.test_postgres_history import DAY, DAY0, check, completion, run_together

url = history.url
store = history.store
"""The fixtures of the history tests: a store on a schema of its own."""


def test_retried_and_mixed_batches_count_each_event_once(store: history.PostgresStore) -> None:
    first = [completion(i, DAY0 + 97 * i) for i in range(50)]
    assert store.insert([validate_events(first)]) == [50]
    assert store.insert([validate_events(first)]) == [0]  # a retried request
    mixed = first[20:] + [completion(i, DAY0 + DAY + 31 * i, "m") for i in range(25)]
    assert store.insert([validate_events(mixed[:40]), validate_events(mixed[40:])]) == [10, 15]
    check(store, first + mixed[30:])
    assert store.count_events() == 75


def test_two_stores_inserting_overlapping_batches_count_each_event_once(url: str, store: history.PostgresStore) -> None:
    other = history.open_store(url)
    rounds = [[completion(i, DAY0 + 13 * i) for i in range(r * 20, r * 20 + 40)] for r in range(15)]
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def send(s: history.PostgresStore) -> None:
        for body in rounds:
            barrier.wait(timeout=30)
            counts.extend(s.insert([validate_events(body)]))

    try:
        run_together(lambda: send(store), lambda: send(other))
    finally:
        other.close()
    unique = 14 * 20 + 40
    assert sum(counts) == unique == store.count_events()
    check(store, [completion(i, DAY0 + 13 * i) for i in range(unique)])
