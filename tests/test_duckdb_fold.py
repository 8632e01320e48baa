"""Without the rollups, a DuckDB file's inserts do not fold into the minute summary: compaction folds the
events of many commits at once, and queries read the summaries plus the events not folded yet.  Every
acknowledged event must be counted exactly once whatever happens between: duplicates, compaction
rounds, closing with events not folded, switching the rollups on and off, queries running while the
writer folds.  The reference is the same aggregation over the raw events by DuckDB alone."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import pytest

from openusage.ingest.events import validate_events
from openusage.store import Aggregate, open_store
from openusage.store import duckdb_store as ds
from openusage.store.duckdb_store import DuckDBStore, Rollups
from openusage.store.sql import DUCKDB, aggregate_sql

T0 = 1767225600
GROUPINGS: list[tuple[int, tuple[str, ...]]] = [(60, ()), (3600, ("model",)), (86400, ("project_id", "model")),
                                                 (3600, ("project_id",))]


def events(prefix: str, n: int, rng: random.Random) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}{i}", "type": rng.choice(["completions", "embeddings"]),
             "timestamp": T0 + rng.randrange(2 * 86400), "model": f"m{rng.randrange(3)}",
             "project_id": f"p{rng.randrange(3)}", "input_tokens": rng.randrange(1000)} for i in range(n)]


def agg(width: int, group_by: tuple[str, ...], end: int = T0 + 2 * 86400) -> Aggregate:
    return Aggregate("completions", T0, end, width, group_by, {}, ("input_tokens", "num_model_requests"))


def answers_match_raw(store: DuckDBStore) -> None:
    """Every grouping answered from the summaries (and the unfolded events) as from the raw events."""
    for width, group_by in GROUPINGS:
        a = agg(width, group_by)
        assert [tuple(r.values()) for r in store.aggregate(a).to_pylist()] == store.execute(*aggregate_sql(a, DUCKDB))


def unfolded(store: DuckDBStore) -> int:
    return int(store.execute("SELECT count(*) FROM events WHERE commit_seq > (SELECT seq FROM summary_fold)")[0][0])


@pytest.mark.parametrize("seed", range(4))
def test_every_event_counted_once_through_folds_reopens_and_switches(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    db = str(tmp_path / "f.duckdb")
    store = open_store(db)
    sent: list[list[dict[str, Any]]] = []
    try:
        for step in range(14):
            assert isinstance(store, DuckDBStore)
            action = rng.choice(["insert", "insert", "insert", "duplicates", "compact", "reopen", "switch"])
            if action == "insert" or not sent:
                batches = [events(f"s{step}-{k}-", rng.randrange(1, 300), rng) for k in range(rng.randrange(1, 4))]
                sent += batches
                store.insert([validate_events(b) for b in batches])
            elif action == "duplicates":  # a known batch again, beside a new one: only the new events count
                again, new = rng.choice(sent), events(f"d{step}-", 50, rng)
                assert store.insert([validate_events(again), validate_events(new)]) == [0, 50]
                sent.append(new)
            elif action == "compact":
                store.compact()
                assert store.rollup_state is not Rollups.OFF or unfolded(store) == 0
            elif action == "reopen":  # closed with events not folded: they stay counted, then folded
                store.close()
                store = open_store(db)
            else:  # rollups on (rebuilt from every event), then off again
                store.close()
                store = open_store(f"duckdb://{db}?rollups=on")
                assert isinstance(store, DuckDBStore)
                answers_match_raw(store)
                store.insert([validate_events(events(f"on{step}-", 40, rng))])
                store.close()
                store = open_store(f"duckdb://{db}?rollups=off")
            assert isinstance(store, DuckDBStore)
            assert store.count_events() == sum(len(b) for b in sent) + 40 * store.execute(
                "SELECT count(DISTINCT split_part(id, '-', 1)) FROM events WHERE id LIKE 'on%'")[0][0]
            answers_match_raw(store)
    finally:
        store.close()


def test_queries_see_whole_commits_while_the_writer_inserts_and_folds(tmp_path: Path) -> None:
    """A query during inserts and folds sees the events of a prefix of the commits, each once: its total
    is one of the running totals, never between two or past the last."""
    store = open_store(str(tmp_path / "c.duckdb"))
    assert isinstance(store, DuckDBStore)
    rng = random.Random(7)
    batches = [[{**e, "type": "completions"} for e in events(f"c{k}-", 200, rng)] for k in range(40)]
    totals = {0}
    running = 0
    for b in batches:
        running += sum(e["input_tokens"] for e in b)
        totals.add(running)
    seen: list[int] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not done.is_set():
                rows = store.aggregate(agg(86400, ())).to_pylist()
                seen.append(sum(r["input_tokens"] for r in rows))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for k, b in enumerate(batches):
            store.insert([validate_events(b)])
            if k % 3 == 2:
                store.compact()
    finally:
        done.set()
        reader.join()
    try:
        assert not errors and seen and set(seen) <= totals, (errors, sorted(set(seen) - totals))
        answers_match_raw(store)
    finally:
        store.close()


def test_the_unfolded_events_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past FOLD_EVERY_ROWS unfolded events an insert folds them at once, without waiting for the clock:
    one request far over the bound included."""
    monkeypatch.setattr(ds, "FOLD_EVERY_ROWS", 1000)
    monkeypatch.setattr(ds, "COMPACT_EVERY_S", 1e9)
    store = open_store(str(tmp_path / "b.duckdb"))
    assert isinstance(store, DuckDBStore)
    rng = random.Random(3)
    try:
        store.insert([validate_events(events("a", 999, rng))])
        assert unfolded(store) == 999
        store.insert([validate_events(events("b", 1, rng))])
        assert unfolded(store) == 0
        store.insert([validate_events(events("c", 20_000, rng))])  # twenty times the bound in one request
        assert unfolded(store) == 0
        answers_match_raw(store)
    finally:
        store.close()
