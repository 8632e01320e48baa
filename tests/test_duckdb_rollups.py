"""The embedded store's rollups are a choice kept in the file: off for a new file (ingestion first),
on when asked, rebuilt when turned on again, and answers are the same either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from openusage.ingest.events import validate_events
from openusage.store import Aggregate, open_store
from openusage.store.duckdb_store import Rollups

T0 = 1767225600


def _events(prefix: str, n: int = 300) -> list[dict]:
    return [{"id": f"{prefix}{i}", "type": "completions", "timestamp": T0 + i * 37 + 0.25,
             "model": f"m{i % 3}", "project_id": f"p{i % 4}", "input_tokens": i, "output_tokens": 2 * i}
            for i in range(n)]


def _answer(store) -> list[dict]:  # type: ignore[no-untyped-def]
    agg = Aggregate("completions", T0 + 5, T0 + 86400, 3600, ("model",), {},
                    ("input_tokens", "output_tokens", "num_model_requests"))
    return store.aggregate(agg).to_pylist()


def _rollup_rows(store) -> int:  # type: ignore[no-untyped-def]
    return store.execute("SELECT count(*) FROM rollup_1m")[0][0]


def test_new_file_has_no_rollups_until_asked(tmp_path: Path) -> None:
    db = str(tmp_path / "u.duckdb")
    s = open_store(db)
    s.insert([validate_events(_events("a"))])
    assert s.rollup_state is Rollups.OFF and not s.maintain_rollups and _rollup_rows(s) == 0
    s.rollups = True  # rollups that inserts skip are never read
    assert s.rollup_state is Rollups.OFF and not s.rollups
    raw = _answer(s)
    s.close()

    s = open_store(f"duckdb://{db}?rollups=on")  # turned on: rebuilt from the events
    assert s.maintain_rollups and _rollup_rows(s) > 0
    assert _answer(s) == raw
    s.insert([validate_events(_events("b"))])
    both = _answer(s)
    s.rollups = False
    assert s.rollup_state is Rollups.KEPT and s.maintain_rollups
    assert _answer(s) == both  # the rollups agree with the raw events
    s.close()

    s = open_store(db)  # no option: the file's choice (on) is kept
    assert s.maintain_rollups and _answer(s) == both
    s.close()

    s = open_store(f"duckdb://{db}?rollups=off")
    s.insert([validate_events(_events("c"))])  # not folded: the rollups are now stale
    third = _answer(s)
    s.close()
    s = open_store(f"duckdb://{db}?rollups=on")
    assert _answer(s) == third  # rebuilt, so "c" is counted
    s.rollups = False
    assert _answer(s) == third
    s.close()


def test_retention_needs_rollups(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="retention_days needs rollups=on"):
        open_store(f"duckdb://{tmp_path / 'r.duckdb'}?retention_days=30")


def test_compaction_folds_rows_and_keeps_answers(tmp_path: Path) -> None:
    """Rows appended per insert fold into one per group and period; answers stay those of raw events
    before, during (a reader while another thread compacts) and after compaction."""
    import threading

    store = open_store(f"duckdb:///{tmp_path / 'c.duckdb'}?rollups=on")
    try:
        def both() -> tuple[list[dict], list[dict]]:
            out = []
            for rollups in (True, False):
                store.rollups = rollups
                out.append(_answer(store))
            store.rollups = True
            return out[0], out[1]

        for k in range(6):
            store.insert([validate_events(_events(f"r{k}-", 120)), validate_events(_events(f"r{k + 1}-", 120))])
            with_rollups, raw = both()
            assert with_rollups == raw
        loose = _rollup_rows(store)
        stop = threading.Event()

        def compactor() -> None:
            while not stop.is_set():
                store.compact()

        thread = threading.Thread(target=compactor)
        thread.start()
        try:
            for k in range(6, 9):
                store.insert([validate_events(_events(f"r{k}-", 120))])
                with_rollups, raw = both()
                assert with_rollups == raw
        finally:
            stop.set()
            thread.join()
        store.compact()
        assert _rollup_rows(store) < loose
        assert store.execute("SELECT count(*) FROM rollup_1m WHERE NOT compacted") == [(0,)]
        groups = store.execute("SELECT count(*) FROM (SELECT DISTINCT type, ts_us, project_id, model FROM rollup_1m)")
        assert store.execute("SELECT count(*) FROM rollup_1m")[0][0] <= 10 * groups[0][0]  # a row per round per group
        with_rollups, raw = both()
        assert with_rollups == raw
        assert sum(r["num_model_requests"] for r in raw) == 9 * 119  # r0- .. r8-, each once; one before T0 + 5
        assert store.compact() == 0
    finally:
        store.close()


def _raw_answer(store, group_by: tuple[str, ...] = ("model",)) -> list[tuple]:  # type: ignore[no-untyped-def]
    """The answer of :func:`_answer` computed from the raw events by the engine alone."""
    from openusage.store.sql import DUCKDB, aggregate_sql

    agg = Aggregate("completions", T0 + 5, T0 + 86400, 3600, group_by, {},
                    ("input_tokens", "output_tokens", "num_model_requests"))
    return store.execute(*aggregate_sql(agg, DUCKDB))


def _summary_answer(store, group_by: tuple[str, ...] = ("model",)) -> list[tuple]:  # type: ignore[no-untyped-def]
    agg = Aggregate("completions", T0 + 5, T0 + 86400, 3600, group_by, {},
                    ("input_tokens", "output_tokens", "num_model_requests"))
    return [tuple(r.values()) for r in store.aggregate(agg).to_pylist()]


def test_a_new_file_keeps_the_summaries_and_answers_from_them(tmp_path: Path) -> None:
    """Without rollups a file still keeps the summaries (far fewer rows): compaction folds the events of
    the commits since its last round into them, and queries they can serve read them with the events not
    folded yet: the same rows as the raw events."""
    db = str(tmp_path / "s.duckdb")
    s = open_store(db)
    try:
        for k in range(3):
            s.insert([validate_events(_events(f"s{k}-", 200))])
        assert s.rollup_state is Rollups.OFF and _rollup_rows(s) == 0
        assert s.execute("SELECT count(*) FROM summary_1m")[0][0] == 0  # compaction folds the commits' events
        assert s.execute("SELECT count(*) FROM events WHERE commit_seq > (SELECT seq FROM summary_fold)") == [(600,)]
        assert _summary_answer(s) == _raw_answer(s)
        assert _summary_answer(s, ("project_id", "model")) == _raw_answer(s, ("project_id", "model"))
        s.compact()
        assert s.execute("SELECT count(*) FROM events WHERE commit_seq > (SELECT seq FROM summary_fold)") == [(0,)]
        assert s.execute("SELECT count(*) FROM summary_1m")[0][0] > 0
        assert s.execute("SELECT count(*) FROM summary_1h")[0][0] > 0
        assert s.execute("SELECT count(*) FROM summary_1m WHERE NOT compacted") == [(0,)]
        assert _summary_answer(s) == _raw_answer(s)
        s.insert([validate_events(_events("s3-", 200))])  # loose minutes beside folded hours
        assert _summary_answer(s) == _raw_answer(s)
        s.compact()
        assert s.execute("SELECT count(*) FROM summary_1m WHERE NOT compacted") == [(0,)]
        for table in ("summary_1m", "summary_1h", "summary_1d"):  # one row per group and period, every round
            groups = s.execute(f"SELECT count(*) FROM (SELECT DISTINCT type, ts_us, project_id, model FROM {table})")
            assert s.execute(f"SELECT count(*) FROM {table}") == groups
        assert _summary_answer(s) == _raw_answer(s)
        assert _summary_answer(s, ("project_id",)) == _raw_answer(s, ("project_id",))
    finally:
        s.close()


def test_summaries_skipped_by_an_older_file_are_rebuilt_on_open(tmp_path: Path) -> None:
    """A file whose inserts skipped the summaries (``stale``) gets them rebuilt from its events when
    opened; until a store has settled that (opened without migrating), it answers from raw events."""
    db = str(tmp_path / "o.duckdb")
    s = open_store(db)
    s.insert([validate_events(_events("a"))])
    for table in ("summary_1d", "summary_1h", "summary_1m"):
        s.execute(f"DELETE FROM {table}")
    s.set_meta("rollups", "stale")
    raw = _raw_answer(s)
    s.close()

    unsettled = open_store(db, migrate=False)
    assert _summary_answer(unsettled) == raw  # the empty summaries are not read
    unsettled.close()
    s = open_store(db)
    try:
        assert s.get_meta("rollups") == "summaries"
        assert s.execute("SELECT count(*) FROM summary_1m")[0][0] > 0
        assert _summary_answer(s) == raw
    finally:
        s.close()
