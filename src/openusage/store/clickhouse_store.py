"""ClickHouse: ``chdb`` (the engine in-process) or a server/cluster through ``clickhouse-connect``.

Both run the same SQL (values bound by clickhouse-connect's client-side binder).  Design (see
``docs/scale.md``):

* ``events``: ``ReplacingMergeTree``, partitioned by month (``toYYYYMM``), ordered by
  ``(type, ts_us, id)`` so a time range reads a contiguous slice, with a bloom-filter index on
  ``id``.  Before a batch is stored, the ids already present are looked up (the index makes this a
  few granules per id) and dropped, so a resent event is counted once and never reaches the
  rollup.  Each insert also carries an ``insert_deduplication_token`` (a hash of its ids), so a
  retried block is dropped by a replicated cluster even if the first attempt's answer was lost.
* Readers use ``FINAL`` on raw events, so rows a concurrent writer slipped in twice (two writers,
  same id, same instant) still count once on the raw path.
* ``rollup_1m``: an ``AggregatingMergeTree`` of per-minute ``SimpleAggregateFunction`` columns
  fed by a materialized view on ``events``; readers re-aggregate, so unmerged parts are harmless.
* With ``cluster=NAME`` the DDL gets ``ON CLUSTER``, ``Replicated*`` engines on ``*_local``
  tables and ``Distributed`` tables sharded by ``cityHash64(id)`` (an id always lands on one shard,
  where ``FINAL`` can fold its copies).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.binding import finalize_query

from ..ingest.events import SCHEMA, EventBatch
from ..spec import DIMENSIONS, METRICS
from .base import Aggregate, ApiKeyRecord, redact
from .result import conform
from .sql import CLICKHOUSE, MINUTE_US, ROLLUPS, aggregate_sql, rollup_select_sql

MONTH = "toYYYYMM(toDateTime(intDiv(ts_us, 1000000)))"
_LOOKUP_CHARS = 200_000  # ids per existence query stay under ClickHouse's max_query_size
SCHEMA_VERSION = 1


def _ch_type(f: pa.Field) -> str:
    t = f.type
    if pa.types.is_decimal(t):
        return f"Nullable(Decimal({t.precision}, {t.scale}))"
    if t == pa.string():
        return "LowCardinality(Nullable(String))" if f.name in DIMENSIONS else "Nullable(String)"
    return {pa.int64(): "Nullable(Int64)", pa.bool_(): "Nullable(Bool)", pa.float64(): "Nullable(Float64)"}[t]


def _rollup_type(f: pa.Field) -> str:
    if f.name in DIMENSIONS:
        return _ch_type(f)
    fn = "min" if f.name == "quantity_unit" else "max" if METRICS.get(f.name) and METRICS[f.name].agg == "gauge" \
        else "sum"
    return f"SimpleAggregateFunction({fn}, {_ch_type(f)})"


def ddl(cluster: str | None = None) -> list[str]:
    """Every CREATE statement, in order; with ``cluster``, the replicated and sharded variant."""
    on = f" ON CLUSTER {cluster}" if cluster else ""
    local = "_local" if cluster else ""

    def engine(kind: str, table: str, args: str = "", shard: str = "{shard}") -> str:
        if not cluster:
            return f"{kind}({args})"
        path = f"'/clickhouse/tables/{shard}/{{database}}/{table}', '{{replica}}'"
        return f"Replicated{kind}({path}{', ' + args if args else ''})"

    ev_cols = [f"{f.name} {_ch_type(f)}" for f in SCHEMA]
    ev_cols[0:3] = ["id String", "type LowCardinality(String)", "ts_us Int64"]
    ru_cols = ["type LowCardinality(String)", "ts_us Int64"]
    ru_cols += [f"{f.name} {_rollup_type(f)}" for f in SCHEMA if f.name not in ("id", "type", "ts_us")]
    ru_cols.append("n SimpleAggregateFunction(sum, UInt64)")
    keys = ", ".join(["type", "ts_us", *DIMENSIONS])
    stmts = [
        f"CREATE TABLE IF NOT EXISTS openusage_meta{on} (name String, value String, version UInt64) "
        f"ENGINE = {engine('ReplacingMergeTree', 'openusage_meta', 'version', 'all')} ORDER BY name",
        f"CREATE TABLE IF NOT EXISTS api_keys{on} (key_id String, name String, scope String, "
        "projects Nullable(String), salt String, hash String, created_at Int64, revoked_at Nullable(Int64), "
        "last_used_at Nullable(Int64), version UInt64) "
        f"ENGINE = {engine('ReplacingMergeTree', 'api_keys', 'version', 'all')} ORDER BY key_id",
        f"CREATE TABLE IF NOT EXISTS events{local}{on} ({', '.join(ev_cols)}, "
        "INDEX id_bloom id TYPE bloom_filter GRANULARITY 1) "
        f"ENGINE = {engine('ReplacingMergeTree', 'events' + local)} PARTITION BY {MONTH} "
        "ORDER BY (type, ts_us, id) SETTINGS non_replicated_deduplication_window = 1000",
    ]
    for table, width in ROLLUPS:
        stmts += [
            f"CREATE TABLE IF NOT EXISTS {table}{local}{on} ({', '.join(ru_cols)}) "
            f"ENGINE = {engine('AggregatingMergeTree', table + local)} PARTITION BY {MONTH} "
            f"ORDER BY ({keys}) SETTINGS allow_nullable_key = 1",
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {table}_mv{on} TO {table}{local} AS "
            + rollup_select_sql(CLICKHOUSE, f"events{local}", width),
        ]
    if cluster:
        stmts += [
            f"CREATE TABLE IF NOT EXISTS events{on} AS events_local "
            "ENGINE = Distributed(" + cluster + ", currentDatabase(), events_local, cityHash64(id))",
        ]
        stmts += [f"CREATE TABLE IF NOT EXISTS {table}{on} AS {table}_local "
                  f"ENGINE = Distributed({cluster}, currentDatabase(), {table}_local, rand())" for table, _ in ROLLUPS]
    return stmts


def dedup_token(ids: pa.Array) -> str:
    """A stable name for one block of new events: retries of the same block share it."""
    h = hashlib.sha256()
    for i in ids.to_pylist():
        h.update(i.encode())
        h.update(b"\0")
    return h.hexdigest()


class _Chdb:
    """The ClickHouse engine in this process (one session; calls serialized by a lock)."""

    def __init__(self, path: str | None) -> None:
        from chdb import session

        self._tmp = None if path else tempfile.TemporaryDirectory(prefix="openusage-chdb-")
        self.session = session.Session(path or self._tmp.name)  # type: ignore[union-attr]
        self.lock = threading.Lock()

    def command(self, sql: str) -> None:
        with self.lock:
            self.session.query(sql)

    def arrow(self, sql: str) -> pa.Table:
        with self.lock:
            return self.session.query(sql, "ArrowTable")

    def insert(self, table: str, data: pa.Table, settings: dict[str, Any]) -> None:
        opts = ", ".join(f"{k} = {finalize_query('%s', [v])}" for k, v in settings.items())
        with self.lock:
            self.session.query(f"INSERT INTO {table} SETTINGS {opts} SELECT * FROM Python(data)")

    def close(self) -> None:
        with self.lock:
            self.session.close()
        if self._tmp is not None:
            self._tmp.cleanup()


class _Server:
    """A ClickHouse server or cluster over HTTP (clickhouse-connect)."""

    def __init__(self, url: str) -> None:
        import clickhouse_connect

        parts = urlsplit(url)
        q = dict(parse_qsl(parts.query))
        self.client = clickhouse_connect.get_client(
            host=parts.hostname or "localhost", port=parts.port or 8123, username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""), database=parts.path.lstrip("/") or "default",
            secure=q.get("secure") in ("1", "true"))
        self.lock = threading.Lock()  # clickhouse-connect clients are not shared across threads

    def command(self, sql: str) -> None:
        with self.lock:
            self.client.command(sql)

    def arrow(self, sql: str) -> pa.Table:
        with self.lock:
            return self.client.query_arrow(sql)

    def insert(self, table: str, data: pa.Table, settings: dict[str, Any]) -> None:
        with self.lock:
            self.client.insert_arrow(table, data, settings={**settings, "insert_distributed_sync": 1})

    def close(self) -> None:
        self.client.close()


class ClickHouseStore:
    """Events (with per-minute rollups by materialized view), keys and metadata in ClickHouse."""

    dialect = CLICKHOUSE

    def __init__(self, url: str, *, rollups: bool = True, retention_days: int | None = None,
                 cluster: str | None = None) -> None:
        self.url = redact(url)
        self.rollups = rollups
        self.retention_days = retention_days
        self.cluster = cluster
        self._pruned_at = 0.0
        if url.startswith("chdb://"):
            path = url[len("chdb://"):]
            self.db: _Chdb | _Server = _Chdb(None if path in ("", "/", "/:memory:", ":memory:") else path)
        else:
            self.db = _Server(url.replace("clickhouse://", "http://", 1))

    def q(self, sql: str, args: list[Any] | None = None) -> pa.Table:
        return self.db.arrow(finalize_query(sql, args) if args else sql)

    def rows(self, sql: str, args: list[Any] | None = None) -> list[tuple]:
        t = self.q(sql, args)
        cols = [c.to_pylist() for c in t.columns]
        return list(zip(*cols, strict=True))

    # -- schema --------------------------------------------------------------------------------
    def migrate(self) -> int:
        for stmt in ddl(self.cluster):
            self.db.command(stmt)
        current = self.get_meta("schema_version")
        if current is not None and int(current) > SCHEMA_VERSION:
            raise RuntimeError(f"the store has schema version {current}, newer than this openusage "
                               f"({SCHEMA_VERSION}); upgrade openusage")
        if current is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        return SCHEMA_VERSION

    # -- events --------------------------------------------------------------------------------
    def existing_ids(self, ids: list[str]) -> set[str]:
        """Which of these ids are stored already (looked up in chunks, through the id index)."""
        found: set[str] = set()
        chunk: list[str] = []
        size = 0
        for i in [*ids, None]:
            if i is not None:
                chunk.append(i)
                size += len(i) + 4
            if chunk and (i is None or size > _LOOKUP_CHARS):
                t = self.q("SELECT DISTINCT id FROM events WHERE id IN %s", [chunk])
                found.update(t.column(0).to_pylist())
                chunk, size = [], 0
        return found

    def insert(self, batches: list[EventBatch]) -> list[int]:
        """Store the events whose ids are new; each batch's count of them."""
        counts: list[int] = []
        seen: set[str] = set()
        for batch in batches:
            t = batch.to_arrow()
            if not t.num_rows:
                counts.append(0)
                continue
            ids = t.column("id").to_pylist()
            known = self.existing_ids(ids) | (seen & set(ids))
            if known:
                t = t.filter(pc.invert(pc.is_in(t.column("id"), pa.array(list(known), pa.string()))))
            if t.num_rows:
                self.db.insert("events", t, {"insert_deduplication_token": dedup_token(t.column("id")),
                                             "deduplicate_blocks_in_dependent_materialized_views": 1})
                seen.update(t.column("id").to_pylist())
            counts.append(t.num_rows)
        self._maybe_prune()
        return counts

    def aggregate(self, agg: Aggregate) -> pa.Table:
        sql, args = aggregate_sql(agg, CLICKHOUSE, table="events FINAL",
                                  rollups=ROLLUPS if self.rollups else ())
        return conform(agg, self.q(sql, args))

    def count_events(self) -> int:
        return int(self.rows("SELECT count() FROM events FINAL")[0][0])

    def execute(self, sql: str, args: list | None = None) -> list[tuple]:
        """Run read-only SQL (benchmarks compare the API with the raw engine)."""
        return self.rows(sql, args)

    def scan(self, after: tuple[int, str] | None, limit: int) -> pa.Table:
        """Events in (ts_us, id) order after a position: the migrate command's chunks."""
        where, args = ("WHERE (ts_us, id) > (%s, %s) ", list(after)) if after else ("", [])
        t = self.q(f"SELECT * FROM events FINAL {where}ORDER BY ts_us, id LIMIT %s", [*args, limit])
        return pa.Table.from_arrays([t.column(f.name).cast(f.type) for f in SCHEMA], schema=SCHEMA)

    # -- retention -----------------------------------------------------------------------------
    def _maybe_prune(self) -> None:
        if self.retention_days is None or time.monotonic() - self._pruned_at < 3600:
            return
        self._pruned_at = time.monotonic()
        self.prune(int(time.time()) - self.retention_days * 86400)

    def prune(self, before_s: int) -> None:
        """Delete raw events before ``before_s`` (rounded down to a minute); the rollup stays."""
        cutoff = (before_s * 1_000_000 // MINUTE_US) * MINUTE_US
        on = f" ON CLUSTER {self.cluster}" if self.cluster else ""
        table = "events_local" if self.cluster else "events"
        self.db.command(finalize_query(f"ALTER TABLE {table}{on} DELETE WHERE ts_us < %s", [cutoff]))

    # -- keys ----------------------------------------------------------------------------------
    def put_key(self, r: ApiKeyRecord) -> None:
        row = pa.table({
            "key_id": [r.key_id], "name": [r.name], "scope": [r.scope],
            "projects": pa.array([json.dumps(r.projects) if r.projects is not None else None], pa.string()),
            "salt": [r.salt], "hash": [r.hash], "created_at": pa.array([r.created_at], pa.int64()),
            "revoked_at": pa.array([r.revoked_at], pa.int64()), "last_used_at": pa.array([r.last_used_at], pa.int64()),
            "version": pa.array([time.time_ns()], pa.uint64()),
        })
        self.db.insert("api_keys", row, {"insert_deduplicate": 0})

    @staticmethod
    def _key(row: tuple) -> ApiKeyRecord:
        return ApiKeyRecord(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None, *row[4:9])

    _KEY_COLS = "key_id, name, scope, projects, salt, hash, created_at, revoked_at, last_used_at"

    def get_key(self, key_id: str) -> ApiKeyRecord | None:
        rows = self.rows(f"SELECT {self._KEY_COLS} FROM api_keys FINAL WHERE key_id = %s", [key_id])
        return self._key(rows[0]) if rows else None

    def list_keys(self) -> list[ApiKeyRecord]:
        rows = self.rows(f"SELECT {self._KEY_COLS} FROM api_keys FINAL ORDER BY created_at, key_id")
        return [self._key(r) for r in rows]

    def revoke_key(self, key_id: str, at: int) -> bool:
        rec = self.get_key(key_id)
        if rec is None or rec.revoked_at is not None:
            return False
        rec.revoked_at = at
        self.put_key(rec)
        return True

    # -- metadata ------------------------------------------------------------------------------
    def get_meta(self, name: str) -> str | None:
        rows = self.rows("SELECT argMax(value, version) FROM openusage_meta WHERE name = %s GROUP BY name", [name])
        return rows[0][0] if rows else None

    def meta_items(self) -> dict[str, str]:
        return dict(self.rows("SELECT name, argMax(value, version) FROM openusage_meta GROUP BY name ORDER BY name"))

    def set_meta(self, name: str, value: str) -> None:
        row = pa.table({"name": [name], "value": [value], "version": pa.array([time.time_ns()], pa.uint64())})
        self.db.insert("openusage_meta", row, {"insert_deduplicate": 0})

    def close(self) -> None:
        self.db.close()


__all__ = ["ClickHouseStore", "ddl", "dedup_token"]
