"""DuckDB maintenance in slices: folding events into the summaries and compacting them a bounded number of
rows per transaction, so a backfill (or one tenant's thousands of groups in a minute) is folded within the
store's ``memory_limit`` instead of failing every round after; an insert's answer never fails because the
maintenance after its commit did; and every event stays counted exactly once through partial rounds.
The reference is the same aggregation over the raw events by DuckDB alone."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openusage.ingest.events import validate_events
from openusage.store import open_store
from openusage.store.duckdb_store import DuckDBStore, slices
from openusage.store.sql import SUMMARIES, SUMMARY_DIMS

from .test_duckdb_fold import answers_match_raw, events, unfolded

T0 = 1767225600


def duck(url: str) -> DuckDBStore:
    store = open_store(url)
    assert isinstance(store, DuckDBStore)
    return store


def loose(store: DuckDBStore) -> int:
    return sum(int(store.execute(f"SELECT count(*) FROM {t} WHERE NOT compacted")[0][0]) for t, _ in SUMMARIES)


def duplicate_groups(store: DuckDBStore) -> int:
    """Groups holding more than one row in a period, over the summaries (a whole round leaves none)."""
    keys = ", ".join(("type", "ts_us", *SUMMARY_DIMS))
    return sum(int(store.execute(f"SELECT count(*) FROM (SELECT {keys} FROM {t} GROUP BY ALL "
                                 "HAVING count(*) > 1)")[0][0]) for t, _ in SUMMARIES)


@given(st.lists(st.integers(1, 40), max_size=30), st.integers(1, 25))
def test_slices_cover_every_key_once_within_the_bound(sizes: list[int], bound: int) -> None:
    counts = [(k * 10, n) for k, n in enumerate(sizes)]
    packed = slices(counts, bound)
    covered = [k for lo, hi, _ in packed for k, _ in counts if lo <= k <= hi]
    assert covered == [k for k, _ in counts]  # in order, each once
    rows = dict(counts)
    for lo, hi, parts in packed:
        inside = [n for k, n in counts if lo <= k <= hi]
        if parts == 1:
            assert sum(inside) <= bound
        else:  # one key over the bound, split in hash parts of about the bound each
            assert lo == hi and rows[lo] > bound and parts == -(-rows[lo] // bound)


def test_a_commit_is_numbered_in_slices(tmp_path: Path) -> None:
    store = duck(str(tmp_path / "n.duckdb"))
    store.slice_rows = 7
    try:
        rng = random.Random(1)
        store.insert([validate_events(events("a", 10, rng)), validate_events(events("b", 15, rng))])
        sizes = store.execute("SELECT commit_seq, count(*) FROM events GROUP BY 1 ORDER BY 1")
        assert [n for _, n in sizes] == [7, 7, 7, 4]
        assert [s for s, _ in sizes] == [1, 2, 3, 4]
        store.insert([validate_events(events("c", 3, rng))])
        assert store.execute("SELECT max(commit_seq), count(*) FROM events WHERE id LIKE 'c%'") == [(5, 3)]
    finally:
        store.close()


@pytest.mark.parametrize("seed", range(2))
def test_tiny_slices_and_partial_rounds_count_every_event_once(tmp_path: Path, seed: int) -> None:
    """Random inserts (duplicates included) and compaction rounds cut short at random, with slices of a
    few rows: after every step the summaries answer as the raw events do; a whole round leaves nothing
    loose and one row per group and period."""
    rng = random.Random(seed)
    store = duck(str(tmp_path / "t.duckdb"))
    store.slice_rows = rng.choice([3, 5, 11])
    sent = 0
    batches: list[list[dict[str, Any]]] = []
    try:
        for step in range(12):
            action = rng.choice(["insert", "insert", "duplicates", "round", "partial"])
            if action == "insert" or not sent:
                batch = events(f"s{step}-", rng.randrange(1, 60), rng)
                assert store.insert([validate_events(batch)]) == [len(batch)]
                batches.append(batch)
                sent += len(batch)
            elif action == "duplicates":  # a batch sent before again, beside a new one: only the new count
                again, new = rng.choice(batches), events(f"d{step}-", rng.randrange(1, 30), rng)
                assert store.insert([validate_events(again), validate_events(new)]) == [0, len(new)]
                batches.append(new)
                sent += len(new)
            elif action == "round":
                store.compact()
                assert unfolded(store) == 0 and loose(store) == 0 and duplicate_groups(store) == 0
            else:
                store.compact_round(budget_s=rng.choice([0.0, 0.002, 0.02]))
            assert store.count_events() == sent
            answers_match_raw(store)
        rounds = 0
        while not store.compact_round(budget_s=0.01).done:  # a backlog folded over several budgeted rounds
            rounds += 1
            if rounds % 7 == 1:
                answers_match_raw(store)
            assert rounds < 10_000
        assert unfolded(store) == 0 and loose(store) == 0 and duplicate_groups(store) == 0
        answers_match_raw(store)
    finally:
        store.close()


def spread(n: int, prefix: str = "e") -> list[dict[str, Any]]:
    """``n`` completions over 30 days: about a minute row each."""
    return [{"id": f"{prefix}{i}", "type": "completions", "timestamp": T0 + i * 43 % (30 * 86400),
             "model": f"m{i % 5}", "project_id": f"p{i % 10}", "input_tokens": i} for i in range(n)]


def one_minute(n: int) -> list[dict[str, Any]]:
    """``n`` groups in one minute: a model name each (one tenant's hostile cardinality)."""
    return [{"id": f"g{i}", "type": "completions", "timestamp": T0 + i % 60, "model": f"model-{i}-{'x' * 30}",
             "project_id": "p", "input_tokens": i} for i in range(n)]


@pytest.mark.parametrize("make", [spread, one_minute], ids=["backfill", "groups-in-one-minute"])
def test_a_backlog_is_folded_within_the_smallest_memory_bound(tmp_path: Path, make: Any) -> None:
    """60,000 events in one request under 64 MiB: the folds and compaction that failed out of memory
    (at 50,000 minute rows already) now run in slices; the answers stay exact throughout."""
    store = duck(f"duckdb://{tmp_path}/m.duckdb?memory_limit=64MiB")
    try:
        assert store.slice_rows == 2048
        batch = make(60_000)
        assert store.insert([validate_events(batch)]) == [60_000]
        store.compact()
        assert unfolded(store) == 0 and loose(store) == 0 and duplicate_groups(store) == 0
        assert store.execute("SELECT sum(n), sum(input_tokens) FROM summary_1d") == [(60_000, sum(range(60_000)))]
        answers_match_raw(store)
    finally:
        store.close()


def test_an_insert_is_answered_when_the_maintenance_after_it_fails(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A file whose unfolded events are one commit too big to fold under the bound (numbered as one, as
    before commits were numbered in slices): the fold fails out of memory, yet every insert is answered
    with its count, logged once per failed round, and queries count the unfolded events; opened with
    more memory, the backlog is folded."""
    db = tmp_path / "w.duckdb"
    store = duck(f"duckdb://{db}?memory_limit=64MiB")
    try:
        store.slice_rows = 10**9  # one number for the whole commit
        assert store.insert([validate_events(spread(300_000))]) == [300_000]
        store.slice_rows = 2048
        with caplog.at_level(logging.WARNING, logger="openusage.store"):
            store._compacted_at = 0.0  # a round is due at this insert
            assert store.insert([validate_events(spread(10, "late"))]) == [10]
        assert any("compaction of" in r.getMessage() and "OutOfMemory" in r.getMessage() for r in caplog.records)
        assert unfolded(store) == 300_010
        answers_match_raw(store)
    finally:
        store.close()
    store = duck(f"duckdb://{db}?memory_limit=1GiB")
    try:
        store.compact()
        assert unfolded(store) == 0 and loose(store) == 0
        answers_match_raw(store)
    finally:
        store.close()


def test_large_commits_fit_the_smallest_memory_bound(tmp_path: Path) -> None:
    """Three commits of 300,000 events under 64 MiB: the data written since the last checkpoint stays in
    memory, so with 256 MB between checkpoints the third failed out of memory; the checkpoint now
    comes at a quarter of the bound."""
    store = duck(f"duckdb://{tmp_path}/c.duckdb?memory_limit=64MiB")
    try:
        assert store.execute("SELECT current_setting('checkpoint_threshold')") == [("16.0 MiB",)]
        for k in range(3):
            assert store.insert([validate_events(spread(300_000, f"c{k}-"))]) == [300_000]
        assert store.count_events() == 900_000
        answers_match_raw(store)
    finally:
        store.close()


def test_parts_known_empty_are_left_out_of_what_queries_read(tmp_path: Path) -> None:
    """Once everything is folded a query reads the summary tables alone; an insert (its events not
    folded yet) or a fold (its minute rows not yet in the hours and days) brings their parts back."""
    store = duck(str(tmp_path / "e.duckdb"))
    rng = random.Random(5)

    def levels() -> list[str]:
        seen: list[str] = []

        def build(lv: tuple[tuple[str, int], ...]) -> tuple[str, list[Any]]:
            seen.extend(rel for rel, _ in lv)
            return "SELECT 1", []
        store.read_summaries(build)
        return seen

    try:
        store.insert([validate_events(events("a", 50, rng))])
        assert all("commit_seq >" in rel for rel in levels())
        store.compact()
        assert levels() == [t for t, _ in SUMMARIES]
        answers_match_raw(store)
        store.insert([validate_events(events("b", 5, rng))])
        assert all("commit_seq >" in rel for rel in levels())
        answers_match_raw(store)
        with store._write_lock:
            store._fold_events()
        assert [("NOT compacted" in rel, "commit_seq >" in rel) for rel in levels()] == \
            [(True, False), (True, False), (False, False)]
        answers_match_raw(store)
        store.compact()
        assert levels() == [t for t, _ in SUMMARIES]
        answers_match_raw(store)
    finally:
        store.close()
