"""ClickHouse specifics on chdb (the engine in-process), and the cluster DDL as generated SQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from openusage.ingest.events import validate_events
from openusage.store import open_store, store_options
from openusage.store.base import Aggregate
from openusage.store.clickhouse_store import ClickHouseStore, ddl, dedup_token
from openusage.store.url import parse_store_url

T0 = 1_700_000_000


@pytest.fixture
def ch(tmp_path: Path) -> Iterator[ClickHouseStore]:
    store = open_store(f"chdb:///{tmp_path / 'ch'}")
    assert isinstance(store, ClickHouseStore)
    yield store
    store.close()


def events(n: int, base: float = T0, prefix: str = "e") -> list[dict]:
    return [{"id": f"{prefix}{i}", "type": "completions", "timestamp": base + i * 10, "model": "gpt-4o",
             "input_tokens": 1 + i, "project_id": "p"} for i in range(n)]


def test_unmerged_duplicates_do_not_change_raw_answers(ch: ClickHouseStore) -> None:
    """Rows that slipped in twice (two writers at one instant) are folded by FINAL on read."""
    batch = validate_events(events(30)).to_arrow()
    ch.insert([validate_events(events(30))])
    ch.db.insert("events", batch, {"insert_deduplicate": 0})  # bypass the id check, as a racing writer would
    assert ch.rows("SELECT count() FROM events")[0][0] in (30, 60)  # before or after a background merge
    assert ch.count_events() == 30
    ch.rollups = False
    agg = Aggregate("completions", T0 - 20, T0 + 3600, 3600, metrics=("input_tokens",))
    assert ch.aggregate(agg).column("input_tokens").to_pylist() == [sum(range(1, 31))]


def test_ids_known_in_any_month_are_skipped(ch: ClickHouseStore) -> None:
    assert ch.insert([validate_events(events(5))]) == [5]
    moved = events(8, base=T0 + 86400 * 70)  # same ids e0..e4 two months later, plus three new ones
    assert ch.insert([validate_events(moved)]) == [3]
    assert ch.existing_ids(["e0", "e7", "zz"]) == {("p", "e0"), ("p", "e7")}
    assert ch.count_events() == 8


def test_existence_lookup_is_chunked(ch: ClickHouseStore) -> None:
    ids = [f"{'x' * 200}{i}" for i in range(2500)]  # ~500 kB of ids: several queries
    batch = [{"id": i, "type": "moderations", "timestamp": T0} for i in ids]
    assert ch.insert([validate_events(batch)]) == [2500]
    assert ch.existing_ids([*ids[::7], "absent"]) == {("", i) for i in ids[::7]}


def test_rollup_view_keeps_gauge_max_and_counts(ch: ClickHouseStore) -> None:
    vs = [{"id": f"v{i}", "type": "vector_stores", "timestamp": T0 + i, "usage_bytes": b, "project_id": "p"}
          for i, b in enumerate([5, 50, 7])]
    ch.insert([validate_events(vs[:2]), validate_events(vs[2:])])
    rows = ch.rows("SELECT ts_us, max(usage_bytes), sum(n) FROM rollup_1m WHERE type = 'vector_stores' "
                   "GROUP BY ts_us")
    assert rows == [((T0 // 60) * 60 * 1_000_000, 50, 3)]


def test_dedup_token_is_stable_and_order_sensitive() -> None:
    a = dedup_token(pa.array(["a", "b"]))
    assert a == dedup_token(pa.array(["a", "b"]))
    assert a != dedup_token(pa.array(["b", "a"]))
    assert a != dedup_token(pa.array(["ab"]))
    assert a != dedup_token(pa.array(["a", "b"]), pa.array(["p", None]))  # the same ids in another project


def test_single_node_ddl() -> None:
    stmts = ddl()
    events_ddl = next(s for s in stmts if s.startswith("CREATE TABLE IF NOT EXISTS events "))
    assert "ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(toDateTime(intDiv(ts_us, 1000000)))" in events_ddl
    assert "ORDER BY (type, ts_us, id, ifNull(project_id, ''))" in events_ddl  # ids unique per project
    assert "INDEX id_bloom id TYPE bloom_filter GRANULARITY 1" in events_ddl
    assert not any("ON CLUSTER" in s or "Distributed" in s or "Replicated" in s for s in stmts)
    views = [s for s in stmts if "MATERIALIZED VIEW" in s]
    assert [v.split(" AS SELECT")[0] for v in views] == [
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_1{u}_mv TO rollup_1{u}" for u in "dhm"]
    assert "intDiv(ts_us, 3600000000) * 3600000000 AS ts_us" in views[1]


def test_cluster_ddl() -> None:
    stmts = ddl("prod")
    assert all(" ON CLUSTER prod " in s for s in stmts)
    local = next(s for s in stmts if s.startswith("CREATE TABLE IF NOT EXISTS events_local "))
    assert ("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/events_local', "
            "'{replica}')") in local
    rollup = next(s for s in stmts if s.startswith("CREATE TABLE IF NOT EXISTS rollup_1m_local "))
    assert "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/rollup_1m_local'" in rollup
    keys = next(s for s in stmts if s.startswith("CREATE TABLE IF NOT EXISTS api_keys "))
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/api_keys', '{replica}', version)" in keys
    assert "TO rollup_1m_local AS SELECT" in [s for s in stmts if "MATERIALIZED VIEW" in s][-1]
    assert ("CREATE TABLE IF NOT EXISTS events ON CLUSTER prod AS events_local "
            "ENGINE = Distributed(prod, currentDatabase(), events_local, cityHash64(id))") in stmts
    for table in ("rollup_1d", "rollup_1h", "rollup_1m"):
        assert (f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER prod AS {table}_local "
                f"ENGINE = Distributed(prod, currentDatabase(), {table}_local, rand())") in stmts


def test_url_options() -> None:
    assert store_options("clickhouse://u:p@h:8123/db?cluster=prod&rollups=off") == (
        "clickhouse://u:p@h:8123/db", {"cluster": "prod", "rollups": False})
    with pytest.raises(ValueError, match="cluster must be an identifier"):
        store_options("clickhouse://h/db?cluster=a-b")
    with pytest.raises(ValueError, match="rollups must be on or off"):
        store_options("chdb:///x?rollups=maybe")
    with pytest.raises(ValueError, match="retention_days must be a positive whole number"):
        store_options("chdb:///x?retention_days=-1")
    with pytest.raises(ValueError, match="option 'schema' does not apply to chdb"):
        open_store("chdb:///tmp/x?schema=s")
    assert parse_store_url("clickhouse://u:p@h/db?secure=1").options == {"secure": True}
    with pytest.raises(ValueError, match=r"unknown option 'sslmode' in 'clickhouse://u:\*\*\*@h/db\?sslmode=1'; "
                       "clickhouse stores take cluster, retention_days, rollups, secure"):
        open_store("clickhouse://u:p@h/db?sslmode=1")
    with pytest.raises(ValueError, match=r"unknown option 'x' in 'chdb:///tmp/y\?x=1'"):
        open_store("chdb:///tmp/y?x=1")
    with pytest.raises(ValueError, match=r"unknown option 'x' in 'duckdb:///tmp/y\?x=1'"):
        open_store("duckdb:///tmp/y?x=1")
    with pytest.raises(ValueError, match="unsupported store URL"):
        open_store("mysql://h/db")


def test_printed_urls_hide_passwords() -> None:
    from openusage.store.base import redact

    assert redact("clickhouse://u:secret@h:8123/db?cluster=c") == "clickhouse://u:***@h:8123/db?cluster=c"
    assert redact("postgresql://postgres@127.0.0.1:5432/test") == "postgresql://postgres@127.0.0.1:5432/test"
