"""Snapshots: the exact SQL and arguments each dialect runs (with rollups) for representative queries.

A change here is a change to what every engine executes: update a snapshot on purpose, never to
make a test pass.  Identifiers come from the endpoint table only; every value is an argument.
"""

from __future__ import annotations

from typing import Any

import pytest

from openusage.store.base import Aggregate
from openusage.store.sql import CLICKHOUSE, DUCKDB, POSTGRESQL, ROLLUPS, aggregate_sql, plan_segments, rollup_select_sql

DIALECTS = {d.name: d for d in (DUCKDB, POSTGRESQL, CLICKHOUSE)}
CASES = {
    "unaligned": Aggregate("completions", 1700000010, 1700003590, 3600, group_by=("model",),
                           filters={"project_id": ("p1", "p2"), "batch": True}, metrics=("input_tokens",)),
    "gauge": Aggregate("vector_stores", 1699999980, 1700003580, 3600, gauges=("usage_bytes",)),
    "costs": Aggregate("costs", 1699999980, 1700003580, 86400, group_by=("line_item",), decimals=("amount",),
                       with_quantity=True),
    "sub_minute": Aggregate("embeddings", 1700000001, 1700000050, 60, metrics=("input_tokens",)),
    "days": Aggregate("images", 1700000010, 1700262790, 86400, group_by=("size",), metrics=("images",)),
}

SNAPSHOTS: dict[tuple[str, str], tuple[str, list[Any]]] = {
    ("unaligned", "duckdb"): (
        "SELECT (ts_us // 3600000000) * 3600 AS bucket, model, SUM(input_tokens) AS "
        "input_tokens FROM (SELECT type, ts_us, project_id, model, batch, input_tokens FROM events WHERE "
        "type = ? AND ts_us >= ? AND ts_us < ? UNION ALL SELECT type, ts_us, project_id, model, batch, "
        "input_tokens FROM rollup_1m WHERE type = ? AND ts_us >= ? AND ts_us < ? UNION ALL SELECT type, "
        "ts_us, project_id, model, batch, input_tokens FROM events WHERE type = ? AND ts_us >= ? AND "
        "ts_us < ?) AS src WHERE type = ? AND ts_us >= ? AND ts_us < ? AND batch = ? AND project_id IN "
        "(?, ?) GROUP BY bucket, model ORDER BY bucket, model NULLS FIRST",
        ["completions", 1700000010000000, 1700000040000000, "completions", 1700000040000000, 1700003580000000,
        "completions", 1700003580000000, 1700003590000000, "completions", 1700000010000000, 1700003590000000, True,
        "p1", "p2"]
    ),
    ("unaligned", "postgresql"): (
        "SELECT (ts_us / 3600000000) * 3600 AS bucket, model, SUM(input_tokens) AS "
        "input_tokens FROM (SELECT type, ts_us, project_id, model, batch, input_tokens FROM events WHERE "
        "type = %s AND ts_us >= %s AND ts_us < %s UNION ALL SELECT type, ts_us, project_id, model, "
        "batch, input_tokens FROM rollup_1m WHERE type = %s AND ts_us >= %s AND ts_us < %s UNION ALL "
        "SELECT type, ts_us, project_id, model, batch, input_tokens FROM events WHERE type = %s AND "
        "ts_us >= %s AND ts_us < %s) AS src WHERE type = %s AND ts_us >= %s AND ts_us < %s AND batch = "
        "%s AND project_id IN (%s, %s) GROUP BY bucket, model ORDER BY bucket, model NULLS FIRST",
        ["completions", 1700000010000000, 1700000040000000, "completions", 1700000040000000, 1700003580000000,
        "completions", 1700003580000000, 1700003590000000, "completions", 1700000010000000, 1700003590000000, True,
        "p1", "p2"]
    ),
    ("unaligned", "clickhouse"): (
        "SELECT intDiv(ts_us, 3600000000) * 3600 AS bucket, model, toDecimal128(sum(toInt128(input_tokens)), 0) AS "
        "input_tokens FROM (SELECT type, ts_us, project_id, model, batch, input_tokens FROM events FINAL "
        "WHERE type = %s AND ts_us >= %s AND ts_us < %s UNION ALL SELECT type, ts_us, project_id, model, "
        "batch, input_tokens FROM rollup_1m WHERE type = %s AND ts_us >= %s AND ts_us < %s UNION ALL "
        "SELECT type, ts_us, project_id, model, batch, input_tokens FROM events FINAL WHERE type = %s "
        "AND ts_us >= %s AND ts_us < %s) AS src WHERE type = %s AND ts_us >= %s AND ts_us < %s AND batch "
        "= %s AND project_id IN (%s, %s) GROUP BY bucket, model ORDER BY bucket, model ASC NULLS FIRST",
        ["completions", 1700000010000000, 1700000040000000, "completions", 1700000040000000, 1700003580000000,
        "completions", 1700003580000000, 1700003590000000, "completions", 1700000010000000, 1700003590000000, True,
        "p1", "p2"]
    ),
    ("gauge", "duckdb"): (
        "SELECT bucket, SUM(usage_bytes) AS usage_bytes FROM (SELECT (ts_us // "
        "3600000000) * 3600 AS bucket, project_id, max(usage_bytes) AS usage_bytes FROM rollup_1m WHERE "
        "type = ? AND ts_us >= ? AND ts_us < ? GROUP BY bucket, project_id) AS g GROUP BY bucket ORDER "
        "BY bucket",
        ["vector_stores", 1699999980000000, 1700003580000000]
    ),
    ("gauge", "postgresql"): (
        "SELECT bucket, SUM(usage_bytes) AS usage_bytes FROM (SELECT (ts_us / "
        "3600000000) * 3600 AS bucket, project_id, max(usage_bytes) AS usage_bytes FROM rollup_1m WHERE "
        "type = %s AND ts_us >= %s AND ts_us < %s GROUP BY bucket, project_id) AS g GROUP BY bucket "
        "ORDER BY bucket",
        ["vector_stores", 1699999980000000, 1700003580000000]
    ),
    ("gauge", "clickhouse"): (
        "SELECT bucket, toDecimal128(sum(toInt128(usage_bytes)), 0) AS usage_bytes FROM "
        "(SELECT intDiv(ts_us, 3600000000) "
        "* 3600 AS bucket, project_id, max(usage_bytes) AS usage_bytes FROM rollup_1m WHERE type = %s "
        "AND ts_us >= %s AND ts_us < %s GROUP BY bucket, project_id) AS g GROUP BY bucket ORDER BY bucket",
        ["vector_stores", 1699999980000000, 1700003580000000]
    ),
    ("costs", "duckdb"): (
        "SELECT (ts_us // 86400000000) * 86400 AS bucket, line_item, SUM(amount) AS amount, "
        "SUM(quantity) AS quantity, min(quantity_unit) AS quantity_unit FROM rollup_1m WHERE type = ? "
        "AND ts_us >= ? AND ts_us < ? GROUP BY bucket, line_item ORDER BY bucket, line_item NULLS FIRST",
        ["costs", 1699999980000000, 1700003580000000]
    ),
    ("costs", "postgresql"): (
        "SELECT (ts_us / 86400000000) * 86400 AS bucket, line_item, SUM(amount) AS amount, "
        "SUM(quantity) AS quantity, min(quantity_unit) AS quantity_unit FROM rollup_1m WHERE type = %s "
        "AND ts_us >= %s AND ts_us < %s GROUP BY bucket, line_item ORDER BY bucket, line_item NULLS FIRST",
        ["costs", 1699999980000000, 1700003580000000]
    ),
    ("costs", "clickhouse"): (
        "SELECT intDiv(ts_us, 86400000000) * 86400 AS bucket, line_item, SUM(amount) AS amount, "
        "SUM(quantity) AS quantity, min(quantity_unit) AS quantity_unit FROM rollup_1m WHERE type = %s "
        "AND ts_us >= %s AND ts_us < %s GROUP BY bucket, line_item ORDER BY bucket, line_item ASC NULLS "
        "FIRST",
        ["costs", 1699999980000000, 1700003580000000]
    ),
    ("sub_minute", "duckdb"): (
        "SELECT (ts_us // 60000000) * 60 AS bucket, SUM(input_tokens) AS input_tokens "
        "FROM events WHERE type = ? AND ts_us >= ? AND ts_us < ? GROUP BY bucket ORDER BY bucket",
        ["embeddings", 1700000001000000, 1700000050000000]
    ),
    ("sub_minute", "postgresql"): (
        "SELECT (ts_us / 60000000) * 60 AS bucket, SUM(input_tokens) AS input_tokens "
        "FROM events WHERE type = %s AND ts_us >= %s AND ts_us < %s GROUP BY bucket ORDER BY bucket",
        ["embeddings", 1700000001000000, 1700000050000000]
    ),
    ("sub_minute", "clickhouse"): (
        "SELECT intDiv(ts_us, 60000000) * 60 AS bucket, toDecimal128(sum(toInt128(input_tokens)), 0) AS "
        "input_tokens FROM "
        "events FINAL WHERE type = %s AND ts_us >= %s AND ts_us < %s GROUP BY bucket ORDER BY bucket",
        ["embeddings", 1700000001000000, 1700000050000000]
    ),
    ("days", "duckdb"): (
        "SELECT (ts_us // 86400000000) * 86400 AS bucket, size, SUM(images) AS images "
        "FROM (SELECT type, ts_us, size, images FROM events WHERE type = ? AND ts_us >= ? AND ts_us < ? "
        "UNION ALL SELECT type, ts_us, size, images FROM rollup_1m WHERE type = ? AND ts_us >= ? AND "
        "ts_us < ? UNION ALL SELECT type, ts_us, size, images FROM rollup_1h WHERE type = ? AND ts_us >= "
        "? AND ts_us < ? UNION ALL SELECT type, ts_us, size, images FROM rollup_1d WHERE type = ? AND "
        "ts_us >= ? AND ts_us < ? UNION ALL SELECT type, ts_us, size, images FROM rollup_1h WHERE type = "
        "? AND ts_us >= ? AND ts_us < ? UNION ALL SELECT type, ts_us, size, images FROM rollup_1m WHERE "
        "type = ? AND ts_us >= ? AND ts_us < ? UNION ALL SELECT type, ts_us, size, images FROM events "
        "WHERE type = ? AND ts_us >= ? AND ts_us < ?) AS src WHERE type = ? AND ts_us >= ? AND ts_us < ? "
        "GROUP BY bucket, size ORDER BY bucket, size NULLS FIRST",
        ["images", 1700000010000000, 1700000040000000, "images", 1700000040000000, 1700002800000000, "images",
        1700002800000000, 1700006400000000, "images", 1700006400000000, 1700179200000000, "images", 1700179200000000,
        1700262000000000, "images", 1700262000000000, 1700262780000000, "images", 1700262780000000, 1700262790000000,
        "images", 1700000010000000, 1700262790000000]
    ),
    ("days", "postgresql"): (
        "SELECT (ts_us / 86400000000) * 86400 AS bucket, size, SUM(images) AS images "
        "FROM (SELECT type, ts_us, size, images FROM events WHERE type = %s AND ts_us >= %s AND ts_us < "
        "%s UNION ALL SELECT type, ts_us, size, images FROM rollup_1m WHERE type = %s AND ts_us >= %s "
        "AND ts_us < %s UNION ALL SELECT type, ts_us, size, images FROM rollup_1h WHERE type = %s AND "
        "ts_us >= %s AND ts_us < %s UNION ALL SELECT type, ts_us, size, images FROM rollup_1d WHERE type "
        "= %s AND ts_us >= %s AND ts_us < %s UNION ALL SELECT type, ts_us, size, images FROM rollup_1h "
        "WHERE type = %s AND ts_us >= %s AND ts_us < %s UNION ALL SELECT type, ts_us, size, images FROM "
        "rollup_1m WHERE type = %s AND ts_us >= %s AND ts_us < %s UNION ALL SELECT type, ts_us, size, "
        "images FROM events WHERE type = %s AND ts_us >= %s AND ts_us < %s) AS src WHERE type = %s AND "
        "ts_us >= %s AND ts_us < %s GROUP BY bucket, size ORDER BY bucket, size NULLS FIRST",
        ["images", 1700000010000000, 1700000040000000, "images", 1700000040000000, 1700002800000000, "images",
        1700002800000000, 1700006400000000, "images", 1700006400000000, 1700179200000000, "images", 1700179200000000,
        1700262000000000, "images", 1700262000000000, 1700262780000000, "images", 1700262780000000, 1700262790000000,
        "images", 1700000010000000, 1700262790000000]
    ),
    ("days", "clickhouse"): (
        "SELECT intDiv(ts_us, 86400000000) * 86400 AS bucket, size, toDecimal128(sum(toInt128(images)), 0) AS "
        "images FROM "
        "(SELECT type, ts_us, size, images FROM events FINAL WHERE type = %s AND ts_us >= %s AND ts_us < "
        "%s UNION ALL SELECT type, ts_us, size, images FROM rollup_1m WHERE type = %s AND ts_us >= %s "
        "AND ts_us < %s UNION ALL SELECT type, ts_us, size, images FROM rollup_1h WHERE type = %s AND "
        "ts_us >= %s AND ts_us < %s UNION ALL SELECT type, ts_us, size, images FROM rollup_1d WHERE type "
        "= %s AND ts_us >= %s AND ts_us < %s UNION ALL SELECT type, ts_us, size, images FROM rollup_1h "
        "WHERE type = %s AND ts_us >= %s AND ts_us < %s UNION ALL SELECT type, ts_us, size, images FROM "
        "rollup_1m WHERE type = %s AND ts_us >= %s AND ts_us < %s UNION ALL SELECT type, ts_us, size, "
        "images FROM events FINAL WHERE type = %s AND ts_us >= %s AND ts_us < %s) AS src WHERE type = %s "
        "AND ts_us >= %s AND ts_us < %s GROUP BY bucket, size ORDER BY bucket, size ASC NULLS FIRST",
        ["images", 1700000010000000, 1700000040000000, "images", 1700000040000000, 1700002800000000, "images",
        1700002800000000, 1700006400000000, "images", 1700006400000000, 1700179200000000, "images", 1700179200000000,
        1700262000000000, "images", 1700262000000000, 1700262780000000, "images", 1700262780000000, 1700262790000000,
        "images", 1700000010000000, 1700262790000000]
    ),
}


@pytest.mark.parametrize(("case", "dialect"), list(SNAPSHOTS), ids=[f"{c}-{d}" for c, d in SNAPSHOTS])
def test_aggregate_sql_snapshot(case: str, dialect: str) -> None:
    assert aggregate_sql(CASES[case], DIALECTS[dialect], rollups=ROLLUPS) == SNAPSHOTS[(case, dialect)]


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_without_rollups_only_raw_events_are_read(dialect: str) -> None:
    sql, args = aggregate_sql(CASES["unaligned"], DIALECTS[dialect])
    assert "rollup_1m" not in sql and "UNION" not in sql
    assert args == ["completions", 1700000010000000, 1700003590000000, True, "p1", "p2"]


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_aligned_range_reads_only_the_rollup(dialect: str) -> None:
    agg = Aggregate("embeddings", 1699999980, 1700003580, 60, metrics=("input_tokens",))
    sql, args = aggregate_sql(agg, DIALECTS[dialect], rollups=ROLLUPS)
    assert " FROM rollup_1m WHERE " in sql and " events" not in sql
    assert args == ["embeddings", 1699999980000000, 1700003580000000]


def test_rollup_rows_snapshot() -> None:
    """The per-minute rows: counters summed, the gauge's maximum, the smallest unit, a count."""
    sql = rollup_select_sql(DUCKDB, "fresh")
    assert sql.startswith("SELECT type, (ts_us // 60000000) * 60000000 AS ts_us, project_id, user_id, ")
    assert "SUM(input_tokens) AS input_tokens" in sql  # HUGEINT in DuckDB: no accepted events overflow it
    assert "sum(toInt128(input_tokens)) AS input_tokens" in rollup_select_sql(CLICKHOUSE, "events")
    assert "max(usage_bytes) AS usage_bytes" in sql
    assert sql.endswith("SUM(amount) AS amount, SUM(quantity) AS quantity, min(quantity_unit) AS quantity_unit, "
                        "count(*) AS n FROM fresh GROUP BY type, (ts_us // 60000000) * 60000000, project_id, user_id, "
                        "api_key_id, model, batch, service_tier, api_source, size, source, vector_store_id, "
                        "context_level, line_item, origin, quality, memory_limit")
    pg = rollup_select_sql(POSTGRESQL, "fresh")
    assert "FROM fresh GROUP BY type, div(ts_us, 60000000) * 60000000, project_id" in pg
    # ClickHouse reads a GROUP BY name as the SELECT alias, the minute here
    assert "FROM events GROUP BY type, ts_us, project_id" in rollup_select_sql(CLICKHOUSE, "events")


@pytest.mark.parametrize("bad", [{"group_by": ("nope",)}, {"filters": {"nope": ("x",)}}, {"metrics": ("a;b",)}])
def test_identifiers_outside_the_allow_list_are_refused(bad: dict[str, Any]) -> None:
    agg = Aggregate("completions", 1699999980, 1700003580, 60, **bad)
    with pytest.raises(ValueError):
        aggregate_sql(agg, POSTGRESQL, rollups=ROLLUPS)


def test_plan_uses_the_coarsest_rollup_that_divides_the_bucket() -> None:
    t0 = 1700000010  # 2023-11-14T22:13:30Z
    assert plan_segments(t0, t0 + 3 * 86400, 86400, ROLLUPS) == [
        ("events", t0, 1700000040), ("rollup_1m", 1700000040, 1700002800), ("rollup_1h", 1700002800, 1700006400),
        ("rollup_1d", 1700006400, 1700179200), ("rollup_1h", 1700179200, 1700258400),
        ("rollup_1m", 1700258400, 1700259180), ("events", 1700259180, t0 + 3 * 86400)]
    # hourly buckets never read the day rollup; minute buckets only the minute rollup
    assert {t for t, _, _ in plan_segments(t0, t0 + 3 * 86400, 3600, ROLLUPS)} == {"events", "rollup_1m", "rollup_1h"}
    assert plan_segments(0, 2 * 86400, 60, ROLLUPS) == [("rollup_1m", 0, 2 * 86400)]
    assert plan_segments(t0, t0 + 20, 60, ROLLUPS) == [("events", t0, t0 + 20)]
    assert plan_segments(t0, t0 + 20, 60, ()) == [("events", t0, t0 + 20)]


def test_dialect_primitives() -> None:
    """What each engine's dialect writes for the store's own bookkeeping and the rollup steps."""
    assert DUCKDB.upsert_sql("openusage_meta", ("name", "value"), "name") == (
        "INSERT OR REPLACE INTO openusage_meta (name, value) VALUES (?, ?)")
    assert POSTGRESQL.upsert_sql("openusage_meta", ("name", "value"), "name") == (
        "INSERT INTO openusage_meta (name, value) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET value = "
        "EXCLUDED.value")
    with pytest.raises(NotImplementedError):
        CLICKHOUSE.upsert_sql("openusage_meta", ("name", "value"), "name")
    assert [d.raw_events for d in (DUCKDB, POSTGRESQL, CLICKHOUSE)] == ["events", "events", "events FINAL"]
    assert [d.step_expr(3600) for d in (DUCKDB, POSTGRESQL, CLICKHOUSE)] == [
        "(ts_us // 3600000000) * 3600000000", "div(ts_us, 3600000000) * 3600000000",
        "intDiv(ts_us, 3600000000) * 3600000000"]
    assert POSTGRESQL.step_expr(60, nonnegative=True) == "(ts_us / 60000000) * 60000000"
    assert DUCKDB.step_expr(60, nonnegative=True) == "(ts_us // 60000000) * 60000000"
    assert [d.name for d in (DUCKDB, POSTGRESQL, CLICKHOUSE)] == ["duckdb", "postgresql", "clickhouse"]
