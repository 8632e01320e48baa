"""ClickHouse summaries (rollups without the free-form ids): filled by their views, by the version-6
upgrade from the rollups, read by queries that neither group nor filter by a user, key or vector store.

The reference is the raw events (``rollups=off``) and, for the upgrade, a new store given the same events
through its ordinary insert: the summary rows must be equal, row for row.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa

from openusage.ingest.events import validate_events
from openusage.store import open_store
from openusage.store.base import Aggregate
from openusage.store.clickhouse_store import ClickHouseStore, _Chdb, ddl, price_ddl
from openusage.store.sql import CLICKHOUSE, ROLLUPS, SUMMARIES, SUMMARY_DIMS, aggregate_sql, rollup_select_sql

T0 = 1_700_000_000 // 86_400 * 86_400


def _events(n: int) -> list[dict[str, object]]:
    """Many users and keys per minute (a minute rollup keeps a row per event), few models and projects."""
    return [{"id": f"e{i}", "type": "completions", "timestamp": T0 + i * 7, "model": f"m{i % 3}",
             "project_id": f"p{i % 2}", "user_id": f"u{i}", "api_key_id": f"k{i % 97}", "input_tokens": 1 + i,
             "output_tokens": i % 5, "batch": i % 4 == 0} for i in range(n)]


def _summary_rows(store: ClickHouseStore, table: str) -> list[dict[str, object]]:
    keys = ", ".join(["type", "ts_us", *SUMMARY_DIMS])
    return store.arrow(f"SELECT * FROM {table} FINAL ORDER BY {keys}").to_pylist()


def _answers(store: ClickHouseStore) -> list[pa.Table]:
    """Minute, hour and day answers by model and project over the whole data, from summaries and raw."""
    out = []
    for width in (60, 3600, 86_400):
        agg = Aggregate(event_type="completions", start_s=T0, end_s=T0 + 86_400 * 2, width_s=width,
                        group_by=("model", "project_id"), metrics=("input_tokens", "output_tokens"))
        for rollups in (True, False):
            store.rollups = rollups
            out.append(store.aggregate(agg))
    return out


def test_queries_without_ids_read_the_summaries(tmp_path: Path) -> None:
    agg = Aggregate(event_type="completions", start_s=T0, end_s=T0 + 3600, width_s=60, group_by=("model",),
                    metrics=("input_tokens",))
    sql, _ = aggregate_sql(agg, CLICKHOUSE, rollups=ROLLUPS, summaries=SUMMARIES)
    assert "summary_1m" in sql and "rollup_1m" not in sql
    by_user = dataclasses.replace(agg, group_by=("user_id",))
    assert "rollup_1m" in aggregate_sql(by_user, CLICKHOUSE, rollups=ROLLUPS, summaries=SUMMARIES)[0]
    store = open_store(f"chdb:///{tmp_path / 'ch'}")
    assert isinstance(store, ClickHouseStore)
    try:
        store.insert([validate_events(_events(2_000))])
        # every event its own row in the minute rollup, a row per model, project and batch in the summary
        assert store.rows("SELECT count() FROM rollup_1m FINAL")[0][0] == 2_000
        assert store.rows("SELECT count() FROM summary_1m FINAL")[0][0] <= 3 * 2 * 2 * (2_000 * 7 // 60 + 1)
        answers = _answers(store)
        for from_summaries, from_raw in zip(answers[::2], answers[1::2], strict=True):
            assert from_summaries.equals(from_raw)
        store.rollups = True
        for table in ("summary_1m", "summary_1h", "summary_1d"):  # the answers did come from the summaries
            store.db.command(f"TRUNCATE TABLE {table}")
        agg = Aggregate(event_type="completions", start_s=T0, end_s=T0 + 86_400, width_s=86_400,
                        metrics=("input_tokens",))
        assert store.aggregate(agg).num_rows == 0
    finally:
        store.close()


def _reference_rows(store: ClickHouseStore, width: int) -> list[dict[str, object]]:
    """The summary rows computed from the raw events, in the summary table's column order."""
    keys = ", ".join(["type", "ts_us", *SUMMARY_DIMS])
    names = store.arrow("SELECT * FROM summary_1d LIMIT 0").column_names
    select = rollup_select_sql(CLICKHOUSE, "events FINAL", width, SUMMARY_DIMS)
    return store.arrow(f"SELECT {', '.join(names)} FROM ({select}) ORDER BY {keys}").to_pylist()


def test_repair_takes_copies_out_of_the_summaries(tmp_path: Path) -> None:
    """Copies slipped in beneath the id check (two processes, one new id) are counted by the summaries'
    views too; ``repair`` takes them out there as well, so summaries equal the events again."""
    store = open_store(f"chdb:///{tmp_path / 'ch'}")
    assert isinstance(store, ClickHouseStore)
    try:
        store.insert([validate_events(_events(1_000))])
        store.db.insert("events", validate_events(_events(1_000)[::4]).to_arrow(), {"insert_deduplicate": 0})
        assert store.rows("SELECT sum(n) FROM summary_1d")[0][0] == 1_250
        assert store.repair() == (250, 250)
        for table, width in SUMMARIES:
            assert _summary_rows(store, table) == _reference_rows(store, width), table
    finally:
        store.close()


def test_upgrade_backfill_equals_the_events(tmp_path: Path) -> None:
    """Row for row, each summary filled by the upgrade equals the store's events summarised afresh."""
    db = _Chdb(str(tmp_path / "old"))
    try:
        for stmt in [*ddl(), *price_ddl()]:
            db.command(stmt)
        db.command("INSERT INTO openusage_meta VALUES ('schema_version', '5', 1)")
        for part in range(3):  # three parts, so the backfill re-aggregates unmerged rollup rows
            db.insert("events", validate_events(_events(3_000)[part::3]).to_arrow(), {"insert_deduplicate": 0})
    finally:
        db.close()
    store = open_store(f"chdb:///{tmp_path / 'old'}")
    assert isinstance(store, ClickHouseStore)
    try:
        for table, width in SUMMARIES:
            assert _summary_rows(store, table) == _reference_rows(store, width), table
        more = validate_events([{**e, "id": f"x{e['id']}"} for e in _events(500)])
        store.insert([more])
        for table, width in SUMMARIES:
            assert _summary_rows(store, table) == _reference_rows(store, width), table
        answers = _answers(store)
        for from_summaries, from_raw in zip(answers[::2], answers[1::2], strict=True):
            assert from_summaries.equals(from_raw)
    finally:
        store.close()
