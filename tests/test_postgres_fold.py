"""PostgreSQL: closed days folded into ``history_1d`` answer day queries by user exactly as raw events do.

A day query by user and another dimension than the project reads the history and the raw events of the
days not folded (:meth:`PostgresStore.fold_days`).  Checked against sums worked out here from the events
(:func:`tests.test_postgres_history.reference`): before and after folds, for a day left raw because it would
not aggregate, with late and retried events for a folded day, with retention pruning folded and unfolded
days, with an insert waiting on a fold, and with two workers folding at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
from hypothesis import given
from hypothesis import strategies as st

from openusage.ingest.events import validate_events
from openusage.store import open_store
from openusage.store.base import Aggregate
from openusage.store.postgres_store import DAY_US, FOLD_AFTER_S, PostgresStore, unfolded_ranges
from tests import test_postgres_history as history
from tests.storeconf import PG_BASE
from tests.test_postgres_history import DAY, DAY0, check, completion, moved, run_together

url = history.url
store = history.store
"""The fixtures of the history tests: a store on a schema of its own."""

Event = dict[str, Any]
DENSE_DAYS = 3


def dense(tag: str = "d", per_day: int = 300) -> list[Event]:
    """``per_day`` completions on each of the first days (at most 60 groups by every dimension a day)."""
    return [completion(i, DAY0 + d * DAY + (i * 271) % DAY, f"{tag}{d}-") for d in range(DENSE_DAYS)
            for i in range(per_day)]


def sparse(n: int = 40) -> list[Event]:
    """A day of ``n`` completions, each by a user of its own: as many groups as events."""
    day = DAY0 + DENSE_DAYS * DAY
    return [dict(completion(i, day + i * 613, "s"), user_id=f"solo{i}") for i in range(n)]


def folded(store: PostgresStore) -> list[tuple[int, bool]]:
    rows = store.execute("SELECT day, folded FROM folded_days ORDER BY day")
    return [(int(d) // 1_000_000, bool(f)) for d, f in rows]


def test_folded_days_answer_as_their_raw_events(store: PostgresStore) -> None:
    events = dense() + sparse()
    store.insert([validate_events(events)])
    check(store, events)
    assert store.fold_days(now=DAY0 + (DENSE_DAYS + 1) * DAY + FOLD_AFTER_S - 1) == DENSE_DAYS  # not the last day yet
    assert folded(store) == [(DAY0 + d * DAY, True) for d in range(DENSE_DAYS)]
    check(store, events)
    assert store.fold_days() == 0  # the sparse day would not aggregate: recorded as left raw
    assert folded(store) == [*((DAY0 + d * DAY, True) for d in range(DENSE_DAYS)), (DAY0 + DENSE_DAYS * DAY, False)]
    assert moved(store) == len(dense())
    check(store, events)
    assert store.count_events() == len(events)  # the raw events stay for minute and hour answers
    agg = Aggregate("completions", DAY0, DAY0 + (DENSE_DAYS + 1) * DAY, DAY, group_by=("user_id", "model"),
                    metrics=("input_tokens",))
    sql, _ = store.statement(agg)
    unfolded_start = (DAY0 + DENSE_DAYS * DAY) * 1_000_000
    assert f"(ts_us >= 0 AND ts_us < {DAY0 * 1_000_000})" in sql and f"ts_us >= {unfolded_start} AND" in sql


def test_late_and_retried_events_of_a_folded_day_count_once(store: PostgresStore) -> None:
    events = dense()
    store.insert([validate_events(events)])
    assert store.fold_days() == DENSE_DAYS
    late = [completion(i, DAY0 + DAY + 17 * i, "late") for i in range(25)]
    retried = events[:10]  # ids already stored: skipped
    store.insert([validate_events(late + retried)])
    check(store, events + late)
    assert moved(store) == len(events) + len(late)
    store.compact()
    check(store, events + late)


def test_retention_prunes_folded_and_unfolded_days_once(store: PostgresStore) -> None:
    events = dense() + sparse()
    store.insert([validate_events(events)])
    store.fold_days(max_s=None)
    cutoff = DAY0 + DENSE_DAYS * DAY + 12 * 3600  # through the folded days and half the raw one
    store.prune(cutoff)
    assert store.count_events() == sum(1 for e in events if e["timestamp"] >= cutoff)
    assert moved(store) == len(dense()) + sum(1 for e in sparse() if e["timestamp"] < cutoff)
    check(store, events)
    late = [completion(i, DAY0 + 3600 * i, "late") for i in range(12)]  # a folded, pruned day
    store.insert([validate_events(late)])
    store.prune(cutoff)
    check(store, events + late)


def test_an_insert_waiting_on_a_fold_adds_its_late_events_to_the_history(url: str, store: PostgresStore) -> None:
    """An insert in flight holds its day's lock: the fold waits for it; an insert arriving meanwhile waits
    for the fold, then adds its events for the folded day into the history too."""
    events = dense()
    store.insert([validate_events(events)])
    other = open_store(url)
    assert isinstance(other, PostgresStore)
    day = DAY0 + DAY
    blocker = psycopg.connect(PG_BASE, autocommit=False)
    done: list[int] = []
    late = [completion(i, day + 11 * i, "waits") for i in range(20)]
    try:
        blocker.execute("SELECT pg_advisory_xact_lock_shared(hashtext(%s), %s)", [store._fold_lock, day // DAY])
        folder = threading.Thread(target=lambda: done.append(store.fold_days(max_s=None)))
        folder.start()
        waiting = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        deadline = time.monotonic() + 10
        while not store.execute(waiting)[0][0]:
            assert time.monotonic() < deadline, "the fold did not wait for the insert in flight"
            time.sleep(0.02)
        inserter = threading.Thread(target=lambda: other.insert([validate_events(late)]))
        inserter.start()
        while store.execute(waiting)[0][0] < 2:
            assert time.monotonic() < deadline, "the insert did not wait for the fold"
            time.sleep(0.02)
    finally:
        blocker.rollback()
        blocker.close()
    folder.join(30)
    inserter.join(30)
    other.close()
    assert done == [DENSE_DAYS]
    assert moved(store) == len(events) + len(late)
    check(store, events + late)


def test_two_workers_fold_at_once_and_each_day_counts_once(url: str, store: PostgresStore) -> None:
    events = dense()
    store.insert([validate_events(events)])
    other = open_store(url)
    assert isinstance(other, PostgresStore)
    counts: list[int] = []
    late = [completion(i, DAY0 + (i % DENSE_DAYS) * DAY + 7 * i, "both") for i in range(60)]
    try:
        run_together(lambda: counts.append(store.fold_days(max_s=None)),
                     lambda: counts.append(other.fold_days(max_s=None)),
                     lambda: [other.insert([validate_events(late[i:i + 5])]) for i in range(0, len(late), 5)])
    finally:
        other.close()
    store.fold_days(max_s=None)  # a worker finding the other folding leaves the rest to the next round
    assert [d for d, f in folded(store) if f] == [DAY0 + d * DAY for d in range(DENSE_DAYS)]
    assert moved(store) == len(events) + len(late)
    check(store, events + late)


@given(st.lists(st.integers(0, 20), max_size=15), st.integers(0, 20), st.integers(0, 20))
def test_unfolded_ranges_pick_exactly_the_days_not_folded(days: list[int], lo: int, span: int) -> None:
    folded_us = [d * DAY_US for d in days]
    cond = unfolded_ranges(lo * DAY_US, (lo + span) * DAY_US, folded_us)
    picked = set()
    if cond != "false":
        for part in cond.strip("()").split(") OR ("):
            a, b = (int(x.split()[-1]) for x in part.strip("()").split(" AND "))
            assert a % DAY_US == 0 and b % DAY_US == 0 and a < b
            picked |= set(range(a // DAY_US, b // DAY_US))
    assert picked == {d for d in range(lo, lo + span) if d not in days}


def test_maintenance_folds_the_closed_days(store: PostgresStore) -> None:
    """A server folds in its maintenance rounds (after compaction), at most every FOLD_EVERY_S."""
    events = dense()
    store.insert([validate_events(events)])
    store.compact()
    assert [d for d, f in folded(store) if f] == [DAY0 + d * DAY for d in range(DENSE_DAYS)]
    check(store, events)
