"""Stores made before the dimensions stored for pricing only (image quality, container size) upgrade in
place: their events stay, priced as before (the default quality, the 1g container), and new events are
priced by the new dimensions.

Each old store is made with the statements that engine's earlier schema version ran, then opened by
this version, which upgrades it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest

from openusage.ingest.events import SCHEMA_BEFORE_PRICING_DIMS, validate_events
from openusage.pricing import compute_costs
from openusage.spec import PRICING_ONLY_DIMENSIONS
from openusage.store import Store, open_store
from openusage.store.sql import (
    CLICKHOUSE,
    DIMS_THROUGH_ORIGIN,
    DUCKDB,
    ROLLUPS,
    SUMMARIES,
    SUMMARY_DIMS_UNPRICED,
    rollup_select_sql,
)
from tests.storeconf import PG_BASE, drop_schema, require_pg, store_url

DAY = 86400
TS = int(dt.datetime(2025, 11, 20, 12, tzinfo=dt.UTC).timestamp())
OLD_COLUMNS = "id, type, ts_us, model, size, source, images, num_model_requests, batch, service_tier, api_source, " \
              "origin"
OLD_VALUES = f"'old1', 'images', {TS * 1_000_000}, 'dall-e-3', '1024x1024', 'image.generation', 10, 1, false, " \
             "'default', 'unlabeled', 'ingest'"


def _check_upgraded(store: Store) -> None:
    store.insert([validate_events([
        {"id": "new1", "type": "images", "timestamp": TS, "model": "dall-e-3", "size": "1024x1024",
         "quality": "hd", "images": 10},
        {"id": "new2", "type": "code_interpreter_sessions", "timestamp": TS, "memory_limit": "64g",
         "num_sessions": 10},
    ])])
    assert store.count_events() == 3
    day = TS - TS % DAY
    res = compute_costs(store, day, day + DAY, ("line_item",), {})
    assert not res.unpriced
    assert {k[1]: v.amount for k, v in res.lines.items()} == {
        "dall-e-3, images 1024x1024 (standard)": Decimal("0.40"),  # stored before: the default quality
        "dall-e-3, images 1024x1024 (hd)": Decimal("0.80"),
        "code interpreter sessions (64g)": Decimal("19.20"),
    }


def test_duckdb_version_8_store(tmp_path: Path) -> None:
    from openusage.store.duckdb_store import MIGRATIONS

    url = store_url("duckdb", tmp_path)
    with duckdb.connect(str(tmp_path / "usage.duckdb")) as con:
        for stmts in MIGRATIONS[:8]:
            for stmt in stmts:
                con.execute(stmt)
        con.execute("INSERT INTO openusage_meta VALUES ('schema_version', '8'), ('rollups', 'on')")
        con.execute(f"INSERT INTO events ({OLD_COLUMNS}, project_key) VALUES ({OLD_VALUES}, '')")
        for tables, dims in ((ROLLUPS, DIMS_THROUGH_ORIGIN), (SUMMARIES, SUMMARY_DIMS_UNPRICED)):
            for table, width in tables:
                con.execute(f"INSERT INTO {table} BY NAME {rollup_select_sql(DUCKDB, 'events', width, dims)}")
    store = open_store(url)
    try:
        assert store.get_meta("schema_version") == str(len(MIGRATIONS))
        _check_upgraded(store)
    finally:
        store.close()


def test_postgresql_version_10_store(tmp_path: Path) -> None:
    from openusage.store.postgres_store import MIGRATIONS

    require_pg()
    schema = "billitems_v10_" + tmp_path.name[-8:].replace("-", "_").lower()
    drop_schema(schema)
    try:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute("CREATE TABLE openusage_meta (name TEXT PRIMARY KEY, value TEXT)")
            for stmts in MIGRATIONS[:10]:
                for stmt in stmts:
                    conn.execute(stmt)
            conn.execute("INSERT INTO openusage_meta VALUES ('schema_version', '10')")
        store = open_store(f"{PG_BASE}?schema={schema}")
        try:
            assert store.get_meta("schema_version") == str(len(MIGRATIONS))
            store.insert([validate_events([{"id": "old1", "type": "images", "timestamp": TS, "model": "dall-e-3",
                                            "size": "1024x1024", "images": 10}])])
            _check_upgraded(store)
        finally:
            store.close()
    finally:
        drop_schema(schema)


def test_clickhouse_version_3_store(tmp_path: Path) -> None:
    from openusage.store.clickhouse_store import MIGRATIONS, _Chdb, ddl

    col = " LowCardinality(Nullable(String))"
    db = _Chdb(str(tmp_path / "chdb"))
    try:
        for stmt in ddl():  # version 3: the same tables without the dimensions stored for pricing only
            if "MATERIALIZED VIEW" in stmt:
                table = stmt.split("EXISTS ")[1].split("_mv")[0]
                width = dict(ROLLUPS)[table]
                stmt = (f"CREATE MATERIALIZED VIEW IF NOT EXISTS {table}_mv TO {table} AS "
                        + rollup_select_sql(CLICKHOUSE, "events", width, DIMS_THROUGH_ORIGIN))
            for dim in PRICING_ONLY_DIMENSIONS:
                stmt = stmt.replace(f", {dim}{col}", "").replace(f", {dim},", ",").replace(f", {dim})", ")")
            db.command(stmt)
        db.command("INSERT INTO openusage_meta VALUES ('schema_version', '3', 1)")
        db.command(f"INSERT INTO events ({OLD_COLUMNS}) VALUES ({OLD_VALUES})")
        names = db.arrow("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'events' "
                         "ORDER BY position").column(0).to_pylist()
        assert names == SCHEMA_BEFORE_PRICING_DIMS.names
    finally:
        db.close()
    store = open_store(store_url("chdb", tmp_path))
    try:
        assert store.get_meta("schema_version") == str(len(MIGRATIONS))
        _check_upgraded(store)
    finally:
        store.close()


@pytest.mark.parametrize("engine", ["duckdb", "chdb"])
def test_a_new_store_prices_by_the_new_dimensions(tmp_path: Path, engine: str) -> None:
    store = open_store(store_url(engine, tmp_path))
    try:
        store.insert([validate_events([{"id": "old1", "type": "images", "timestamp": TS, "model": "dall-e-3",
                                        "size": "1024x1024", "images": 10}])])
        _check_upgraded(store)
    finally:
        store.close()
