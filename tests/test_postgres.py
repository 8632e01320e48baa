"""PostgreSQL specifics: several ``openusage serve`` processes on one database, partitions, migrations."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from openusage.ingest.events import validate_events
from openusage.store import open_store
from openusage.store.base import Aggregate
from openusage.store.postgres_store import SCHEMA_VERSION, PostgresStore, month_bounds
from openusage.store.url import StoreURL, parse_store_url
from tests.conftest import errors_in_threads
from tests.procserver import ServerProcess
from tests.storeconf import PG_BASE, drop_schema, require_pg, unique_schema


@pytest.fixture(autouse=True)
def _postgres_is_up() -> None:
    require_pg()


T0 = 1_700_000_000


@pytest.fixture
def schema() -> Iterator[str]:
    name = unique_schema()
    yield name
    drop_schema(name)


def event(i: int, ts: float = T0, **extra: Any) -> dict[str, Any]:
    return {"id": f"e{i}", "type": "completions", "timestamp": ts + i, "model": "gpt-4o", "input_tokens": i,
            **extra}


def test_two_serve_processes_count_each_id_once(schema: str, tmp_path: Path) -> None:
    """The same events sent to two workers at the same instant are stored and counted once."""
    url = f"{PG_BASE}?schema={schema}"
    open_store(url).close()  # migrate once so both workers start on a ready schema
    with ServerProcess(url, tmp_path) as a, ServerProcess(url, tmp_path, port=None) as b, \
            a.client() as ca, b.client() as cb:
        accepted = [0, 0]
        rounds = [[event(i) for i in range(r * 30, r * 30 + 60)] for r in range(12)]  # each overlaps the last

        def send(idx: int, client: Any, barrier: threading.Barrier) -> None:
            for body in rounds:
                barrier.wait(timeout=30)
                r = client.post("/v1/usage/events", json={"events": body})
                assert r.status_code == 200, r.text
                accepted[idx] += r.json()["accepted"]

        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=send, args=(i, c, barrier)) for i, c in enumerate((ca, cb))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        unique = 11 * 30 + 60
        assert sum(accepted) == unique
        r = ca.get("/v1/organization/usage/completions",
                   params={"start_time": T0 - T0 % 86400, "end_time": T0 - T0 % 86400 + 86400})
        results = r.json()["data"][0]["results"]
        assert results[0]["input_tokens"] == sum(range(unique))
        assert results[0]["num_model_requests"] == unique
        assert cb.get("/v1/organization/usage/completions", params={
            "start_time": T0 - T0 % 86400, "end_time": T0 - T0 % 86400 + 86400}).json() == r.json()
    store = open_store(url)
    try:
        assert store.count_events() == unique
        assert store.execute("SELECT count(*) FROM event_ids") == [(unique,)]  # type: ignore[attr-defined]
    finally:
        store.close()


def test_months_get_their_own_partitions(schema: str) -> None:
    store = open_store(f"{PG_BASE}?schema={schema}")
    try:
        jan_end = 1675209600  # 2023-02-01T00:00:00Z
        events = [event(0, jan_end - 1), event(1, jan_end - 1), event(2, jan_end + 86400 * 40)]
        assert store.insert([validate_events(events)]) == [3]
        rows = store.execute(  # type: ignore[attr-defined]
            "SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1 ORDER BY 1")
        assert rows == [("events_p202301", 1), ("events_p202302", 1), ("events_p202303", 1)]  # e1 is on the edge
    finally:
        store.close()


def test_month_bounds() -> None:
    assert month_bounds(1675209600 * 1_000_000) == (1675209600_000000, 1677628800_000000, "202302")
    assert month_bounds(1701388799 * 1_000_000)[2] == "202311"
    assert month_bounds(1703980800 * 1_000_000) == (1701388800_000000, 1704067200_000000, "202312")  # December


def test_workers_starting_together_migrate_once(schema: str) -> None:
    url = f"{PG_BASE}?schema={schema}"
    assert errors_in_threads(lambda: open_store(url).close(), 3, timeout=60) == []
    store = open_store(url)
    try:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    finally:
        store.close()


def test_newer_schema_is_refused(schema: str) -> None:
    store = open_store(f"{PG_BASE}?schema={schema}")
    store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    store.close()
    with pytest.raises(RuntimeError, match="newer than this openusage"):
        open_store(f"{PG_BASE}?schema={schema}")


def test_rollups_backfilled_by_migration(schema: str) -> None:
    """A store made before rollups existed gets them filled from its events."""
    store = open_store(f"{PG_BASE}?schema={schema}")
    store.insert([validate_events([event(i) for i in range(50)])])
    with psycopg.connect(PG_BASE, autocommit=True, options=f"-c search_path={schema}") as conn:
        conn.execute("DROP TABLE rollup_1d, summary_1m, summary_1h, summary_1d")
        conn.execute("UPDATE openusage_meta SET value = '1' WHERE name = 'schema_version'")
    store.close()
    store = open_store(f"{PG_BASE}?schema={schema}")
    try:
        agg = Aggregate("completions", T0 - T0 % 60, T0 - T0 % 60 + 120, 60, metrics=("input_tokens",))
        for table in ("rollup_1d", "users_1d", "summary_1m", "summary_1h", "summary_1d"):
            assert store.execute(f"SELECT sum(n) FROM {table}")[0][0] == 50  # type: ignore[attr-defined]
        assert store.aggregate(agg).column("input_tokens").to_pylist() == [sum(range(40)), sum(range(40, 50))]
    finally:
        store.close()


def test_url_options() -> None:
    assert parse_store_url("postgresql://u@h:5/db?sslmode=disable&schema=s&rollups=off") == StoreURL(
        "postgresql", "postgresql://u@h:5/db?sslmode=disable", {"schema": "s", "rollups": False})
    assert parse_store_url("postgres://u@h/db?pool_max=3").options == {"pool_max": 3}
    with pytest.raises(ValueError, match="schema must be an identifier"):
        open_store(f"{PG_BASE}?schema=a;drop")
    with pytest.raises(ValueError, match="option 'cluster' does not apply to postgresql"):
        open_store(f"{PG_BASE}?cluster=c")
    with pytest.raises(ValueError, match="not a schema name"):
        PostgresStore(PG_BASE, schema="x y")
    assert parse_store_url("postgres://u@h/db?writers=1").options == {"writers": 1}
    for bad in ("0", "-1", "two", ""):
        with pytest.raises(ValueError, match="writers must be a positive whole number"):
            open_store(f"{PG_BASE}?writers={bad}")
    with pytest.raises(ValueError, match=r"writers must be at least 1 and at most pool_max \(3\), not 4"):
        open_store(f"{PG_BASE}?pool_max=3&writers=4")


def test_writers_option_sets_the_commits_a_server_runs_at_once(schema: str) -> None:
    """``writers=N`` is how many commits one process runs at once; the default is two, one where the pool
    has at most two connections."""
    for query, threads in (("", 2), ("&writers=1", 1), ("&writers=3", 3), ("&pool_max=2", 1), ("&pool_max=1", 1)):
        store = open_store(f"{PG_BASE}?schema={schema}{query}")
        try:
            assert store.writer_threads == threads, query  # type: ignore[attr-defined]
        finally:
            store.close()


def test_sums_past_int64_fall_back_to_numeric_exactly(schema: str) -> None:
    """Sums are read as bigint; where one passes int64 (two rollup rows of 2**62 each, summed: 2**63),
    the exact numeric statement answers instead, with rollups and without."""
    from decimal import Decimal

    import pyarrow as pa

    from openusage.ingest.events import EventBatch
    from openusage.store.postgres_store import INT64_SUMS
    from openusage.store.sql import aggregate_sql

    store = PostgresStore(PG_BASE, schema=schema)
    try:
        store.migrate()
        for i in range(2):  # two inserts: two rollup rows, each within int64, their sum not
            table = validate_events([event(i, ts=T0 - T0 % 86400)]).table
            col = table.schema.get_field_index("input_tokens")
            table = table.set_column(col, "input_tokens", pa.array([2**62], pa.int64()))
            store.insert([EventBatch(table, 1)])
        day = T0 - T0 % 86400
        agg = Aggregate("completions", day, day + 86400, 86400, metrics=("input_tokens", "num_model_requests"))
        assert "SUM((input_tokens)::bigint::float8)" in aggregate_sql(agg, INT64_SUMS)[0]
        for rollups in (True, False):
            store.rollups = rollups
            assert store.aggregate(agg).to_pylist() == [
                {"bucket": day, "input_tokens": Decimal(2**63), "num_model_requests": Decimal(2)}]
        small = Aggregate("completions", day, day + 86400, 86400, metrics=("num_model_requests",))
        assert store.aggregate(small).to_pylist() == [{"bucket": day, "num_model_requests": 2}]
    finally:
        store.close()


@pytest.mark.parametrize("values", [(2**52, 2**52 - 1), (2**52, 2**52 + 1), (2**53 + 1,), (2**53 - 1, 0)])
def test_sums_near_2_pow_53_stay_exact(schema: str, values: tuple[int, ...]) -> None:
    """Counter sums are added in float8 while below 2**53 (exact there); at or past it the statement
    fails and the numeric one answers, so a total one past 2**53 is not rounded to it."""
    import pyarrow as pa

    from openusage.ingest.events import EventBatch

    store = PostgresStore(PG_BASE, schema=schema)
    day = T0 - T0 % 86400
    try:
        store.migrate()
        for i, value in enumerate(values):  # an insert each: a rollup row each
            table = validate_events([event(i, ts=day)]).table
            col = table.schema.get_field_index("input_tokens")
            store.insert([EventBatch(table.set_column(col, "input_tokens", pa.array([value], pa.int64())), 1)])
        agg = Aggregate("completions", day, day + 86400, 86400, metrics=("input_tokens",))
        for rollups in (True, False):
            store.rollups = rollups
            assert store.aggregate(agg).to_pylist() == [{"bucket": day, "input_tokens": sum(values)}]
    finally:
        store.close()


def test_answers_read_as_csv_keep_every_text(schema: str) -> None:
    """Answers travel as CSV (COPY): values with commas, quotes, backslashes, spaces, "t" and "f", and NULL
    groups come back exactly, with rollups and without."""
    models = ["a;b", 'c,"d"', "t", "f", "\\N", " e "]
    store = PostgresStore(PG_BASE, schema=schema)
    try:
        store.migrate()
        day = T0 - T0 % 86400
        evs = [event(i, ts=day, model=m, user_id=None if i % 2 else f"u{i}") for i, m in enumerate(models)]
        store.insert([validate_events(evs)])
        agg = Aggregate("completions", day, day + 86400, 86400, group_by=("user_id", "model"),
                        metrics=("input_tokens", "num_model_requests"))
        want = sorted(({"bucket": day, "user_id": None if i % 2 else f"u{i}", "model": m, "input_tokens": i,
                        "num_model_requests": 1} for i, m in enumerate(models)),
                      key=lambda r: (r["user_id"] is not None, r["user_id"] or "", r["model"]))
        for rollups in (True, False):
            store.rollups = rollups
            assert store.aggregate(agg).to_pylist() == want
    finally:
        store.close()


def test_answers_read_as_csv_keep_texts_spelled_like_null(schema: str) -> None:
    """PostgreSQL writes "NULL", "NA", "nan" and the like unquoted in CSV: they are names, never NULL
    (only an unquoted empty field is), with rollups and without."""
    names = ["NULL", "null", "NA", "N/A", "#N/A", "nan", "NaN", "-nan", "\\N"]
    store = PostgresStore(PG_BASE, schema=schema)
    try:
        store.migrate()
        day = T0 - T0 % 86400
        store.insert([validate_events([event(i, ts=day, model=m, user_id=m) for i, m in enumerate(names)])])
        agg = Aggregate("completions", day, day + 86400, 86400, group_by=("user_id", "model"),
                        metrics=("input_tokens",))
        want = sorted(({"bucket": day, "user_id": m, "model": m, "input_tokens": i} for i, m in enumerate(names)),
                      key=lambda r: r["model"].encode())
        for rollups in (True, False):
            store.rollups = rollups
            assert store.aggregate(agg).to_pylist() == want
    finally:
        store.close()
