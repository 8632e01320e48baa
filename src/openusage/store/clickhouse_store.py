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
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import pyarrow as pa
from clickhouse_connect.driver.binding import finalize_query

from ..ingest.events import INT_METRICS, SCHEMA, SCHEMA_BEFORE_ORIGIN, SCHEMA_BEFORE_PRICING_DIMS, EventBatch
from ..spec import DIMENSIONS, METRICS, PRICING_ONLY_DIMENSIONS
from .base import Aggregate, StoreUpgradeError, redact
from .common import ROW_SCHEMAS, Connection, SqlStoreBase
from .result import conform
from .sql import (
    CLICKHOUSE,
    MINUTE_US,
    PRICED_SUMMARY_DIMS,
    ROLLUPS,
    SUMMARIES,
    SUMMARY_DIMS,
    SUMMARY_DIMS_UNPRICED,
    aggregate_sql,
    rollup_fields,
    rollup_select_sql,
)

MONTH = "toYYYYMM(toDateTime(intDiv(ts_us, 1000000)))"
_LOOKUP_CHARS = 200_000  # ids per existence query stay under ClickHouse's max_query_size


def _ch_type(column: pa.Field) -> str:
    kind = column.type
    if pa.types.is_decimal(kind):
        return f"Nullable(Decimal({kind.precision}, {kind.scale}))"
    if kind == pa.string():
        return "LowCardinality(Nullable(String))" if column.name in DIMENSIONS else "Nullable(String)"
    return {pa.int64(): "Nullable(Int64)", pa.bool_(): "Nullable(Bool)", pa.float64(): "Nullable(Float64)"}[kind]


def _rollup_type(f: pa.Field) -> str:
    if f.name in DIMENSIONS:
        return _ch_type(f)
    fn = "min" if f.name == "quantity_unit" else "max" if METRICS.get(f.name) and METRICS[f.name].agg == "gauge" \
        else "sum"
    if fn == "sum" and f.name in INT_METRICS:  # counters: 128 bits, so no accepted events overflow a sum
        return "SimpleAggregateFunction(sum, Nullable(Int128))"
    return f"SimpleAggregateFunction({fn}, {_ch_type(f)})"


EVENTS_KEY = "type, ts_us, id, ifNull(project_id, '')"
"""The events' sort key, which FINAL deduplicates on (ids are unique per project): the copies it folds."""


def ddl(cluster: str | None = None, suffix: str = "") -> list[str]:
    """Every CREATE statement, in order; with ``cluster``, the replicated and sharded variant.

    With ``suffix``, only the events and rollup tables, named ``events<suffix>`` and so on (the
    upgrade builds the new tables beside the old ones, then swaps them).
    """
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
    ru_cols += [f"{f.name} {_rollup_type(f)}" for f in rollup_fields()]
    ru_cols.append("n SimpleAggregateFunction(sum, UInt64)")
    keys = ", ".join(["type", "ts_us", *DIMENSIONS])
    stmts = [] if suffix else [
        f"CREATE TABLE IF NOT EXISTS openusage_meta{on} (name String, value String, version UInt64) "
        f"ENGINE = {engine('ReplacingMergeTree', 'openusage_meta', 'version', 'all')} ORDER BY name",
        f"CREATE TABLE IF NOT EXISTS api_keys{on} (key_id String, name String, scope String, "
        "projects Nullable(String), salt String, hash String, created_at Int64, revoked_at Nullable(Int64), "
        "last_used_at Nullable(Int64), version UInt64) "
        f"ENGINE = {engine('ReplacingMergeTree', 'api_keys', 'version', 'all')} ORDER BY key_id",
    ]
    stmts.append(
        f"CREATE TABLE IF NOT EXISTS events{local}{suffix}{on} ({', '.join(ev_cols)}, "
        "INDEX id_bloom id TYPE bloom_filter GRANULARITY 1) "
        f"ENGINE = {engine('ReplacingMergeTree', 'events' + local)} PARTITION BY {MONTH} "
        f"ORDER BY ({EVENTS_KEY}) SETTINGS non_replicated_deduplication_window = 1000")
    for table, width in ROLLUPS:
        stmts.append(
            f"CREATE TABLE IF NOT EXISTS {table}{local}{suffix}{on} ({', '.join(ru_cols)}) "
            f"ENGINE = {engine('AggregatingMergeTree', table + local)} PARTITION BY {MONTH} "
            f"ORDER BY ({keys}) SETTINGS allow_nullable_key = 1")
        if not suffix:
            stmts.append(mv_ddl(table, width, cluster))
    if cluster and not suffix:
        stmts += [
            f"CREATE TABLE IF NOT EXISTS events{on} AS events_local "
            "ENGINE = Distributed(" + cluster + ", currentDatabase(), events_local, cityHash64(id))",
        ]
        stmts += [f"CREATE TABLE IF NOT EXISTS {table}{on} AS {table}_local "
                  f"ENGINE = Distributed({cluster}, currentDatabase(), {table}_local, rand())" for table, _ in ROLLUPS]
    return stmts


def mv_ddl(table: str, width: int, cluster: str | None = None, dims: tuple[str, ...] | None = None) -> str:
    """The materialized view folding every insert into ``events`` into one rollup (or, with ``dims``,
    a summary keyed by those dimensions only)."""
    on = f" ON CLUSTER {cluster}" if cluster else ""
    local = "_local" if cluster else ""
    return (f"CREATE MATERIALIZED VIEW IF NOT EXISTS {table}_mv{on} TO {table}{local} AS "
            + rollup_select_sql(CLICKHOUSE, f"events{local}", width, dims))


def summary_ddl(cluster: str | None = None, views: bool = True, dims: tuple[str, ...] = SUMMARY_DIMS) -> list[str]:
    """The summaries (:data:`~openusage.store.sql.SUMMARIES`): rollups keyed by every dimension but
    the free-form ids (users, keys, vector stores) and those kept for pricing only, fed by their own
    materialized views on ``events``.

    A rollup by every dimension holds about a row per event and minute once users and keys are many
    (a minute or hour query then reads about as many rows as raw events); a summary holds at most a
    row per project, model and the like per period, so a query that neither groups nor filters by a
    free-form id costs the rows it returns, whatever the events stored.  ``views=False``: the tables
    only (the upgrade fills them before it attaches the views); ``dims``: their keys (an upgrade's, frozen).
    """
    on = f" ON CLUSTER {cluster}" if cluster else ""
    local = "_local" if cluster else ""
    cols = ["type LowCardinality(String)", "ts_us Int64"]
    cols += [f"{f.name} {_rollup_type(f)}" for f in rollup_fields(dims=dims)]
    cols.append("n SimpleAggregateFunction(sum, UInt64)")
    keys = ", ".join(["type", "ts_us", *dims])
    stmts = []
    for table, width in SUMMARIES:
        engine = (f"ReplicatedAggregatingMergeTree('/clickhouse/tables/{{shard}}/{{database}}/{table}_local', "
                  "'{replica}')" if cluster else "AggregatingMergeTree()")
        stmts.append(f"CREATE TABLE IF NOT EXISTS {table}{local}{on} ({', '.join(cols)}) ENGINE = {engine} "
                     f"PARTITION BY {MONTH} ORDER BY ({keys}) SETTINGS allow_nullable_key = 1")
        if views:
            stmts.append(mv_ddl(table, width, cluster, dims))
        if cluster:
            stmts.append(f"CREATE TABLE IF NOT EXISTS {table}{on} AS {table}_local "
                         f"ENGINE = Distributed({cluster}, currentDatabase(), {table}_local, rand())")
    return stmts


def summaries_upgrade(dims: tuple[str, ...]) -> list[str]:
    """Versions 6 and 7: the summaries keyed by ``dims``, filled from the day, hour and minute rollups (by
    every dimension; they count every event once, as the summaries must), then their views attached.
    Each step may run again: the tables are made anew, so an interrupted run leaves nothing counted twice."""
    stmts = [stmt for table, _ in SUMMARIES
             for stmt in (f"DROP VIEW IF EXISTS {table}_mv", f"DROP TABLE IF EXISTS {table}")]
    stmts += summary_ddl(views=False, dims=dims)
    stmts += [f"INSERT INTO {table} ({correction_columns(dims)}) "
              f"{rollup_select_sql(CLICKHOUSE, source, width, dims, 'sum(n)')}"
              for (table, width), (source, _) in zip(SUMMARIES, ROLLUPS, strict=True)]
    stmts += [mv_ddl(table, width, dims=dims) for table, width in SUMMARIES]
    return stmts


def upgrade_to_v3() -> list[str]:
    """From 0.1.0 (version 1) or version 2 to 3: 128-bit rollup sums, ids unique per project (version 2)
    and ``origin`` (version 3; everything stored before came through ingestion).

    New tables are filled beside the old ones first (a failure there changes nothing), then the
    materialized views are dropped, the tables swapped and the views recreated; the old tables go last.
    The copies read every old column (``SELECT *``), so a table whose columns differ is not copied.
    """
    tables = UPGRADE_TABLES
    stmts = [f"DROP TABLE IF EXISTS {t}_v2" for t in tables]
    stmts += ddl(suffix="_v2")
    old = [f.name for f in SCHEMA_BEFORE_ORIGIN if f.name not in ("id", "type", "ts_us")]
    rollup_cols = ", ".join(["type", "ts_us", *old, "n", "origin"])
    stmts += [f"INSERT INTO {t}_v2 ({', '.join(SCHEMA_BEFORE_PRICING_DIMS.names)}) SELECT *, 'ingest' FROM {t}"
              if t == "events"
              else f"INSERT INTO {t}_v2 ({rollup_cols}) SELECT *, 'ingest' FROM {t}" for t in tables]
    stmts += [f"DROP VIEW IF EXISTS {t}_mv" for t, _ in ROLLUPS]
    stmts += ["RENAME TABLE " + ", ".join(f"{t} TO {t}_v1, {t}_v2 TO {t}" for t in tables)]
    stmts += [mv_ddl(t, w) for t, w in ROLLUPS]
    stmts += [f"DROP TABLE {t}_v1" for t in tables]
    return stmts


def upgrade_to_v4() -> list[str]:
    """From version 3 to 4: the dimensions stored for pricing only (spec.PRICING_ONLY_DIMENSIONS: image
    quality, container size) added to the events and, as keys, to the rollups; the views folding inserts
    into the rollups are dropped first and made again last.  Events stored before have none.  Every step
    may run again, and on tables :func:`upgrade_to_v3` has just made in the newest shape it changes nothing."""
    col = "LowCardinality(Nullable(String))"
    stmts = [f"DROP VIEW IF EXISTS {t}_mv" for t, _ in ROLLUPS]
    stmts.append("ALTER TABLE events " + ", ".join(f"ADD COLUMN IF NOT EXISTS {d} {col}"
                                                   for d in PRICING_ONLY_DIMENSIONS))
    keys = ", ".join(["type", "ts_us", *DIMENSIONS])
    stmts += [f"ALTER TABLE {t} " + ", ".join(f"ADD COLUMN IF NOT EXISTS {d} {col}" for d in PRICING_ONLY_DIMENSIONS)
              + f", MODIFY ORDER BY ({keys})" for t, _ in ROLLUPS]
    stmts += [mv_ddl(t, w) for t, w in ROLLUPS]
    return stmts


def correction_sql(source: str, width_s: int, dims: tuple[str, ...] = tuple(DIMENSIONS)) -> str:
    """Rollup rows (keyed by ``dims``: a summary's) taking the events of ``source`` out again: sums and
    counts negated (``n`` wraps around in UInt64, and so does its sum back), gauges and units left to
    the other rows."""
    cols = ["type", f"{CLICKHOUSE.step_expr(width_s)} AS ts_us", *dims]
    cols += [f"-sum(toInt128({m})) AS {m}" if METRICS[m].agg == "sum" else f"CAST(NULL, 'Nullable(Int64)') AS {m}"
             for m in INT_METRICS]
    cols += ["-sum(amount) AS amount", "-sum(quantity) AS quantity",
             "CAST(NULL, 'Nullable(String)') AS quantity_unit", "0 - count() AS n"]
    return f"SELECT {', '.join(cols)} FROM {source} AS extra GROUP BY {', '.join(['type', 'ts_us', *dims])}"


def correction_columns(dims: tuple[str, ...] = tuple(DIMENSIONS)) -> str:
    """The columns :func:`correction_sql` selects, in its order (a rollup table keeps ``origin`` elsewhere)."""
    return ", ".join(["type", "ts_us", *dims, *INT_METRICS, "amount", "quantity", "quantity_unit", "n"])


def price_ddl(cluster: str | None = None) -> list[str]:
    """The price sets and rows (see :meth:`~openusage.store.common.SqlStoreBase.add_price_rows`): with
    ``cluster``, one replicated copy of each on every node, as the keys."""
    on = f" ON CLUSTER {cluster}" if cluster else ""

    def engine(table: str) -> str:
        return (f"ReplicatedReplacingMergeTree('/clickhouse/tables/all/{{database}}/{table}', '{{replica}}')"
                if cluster else "ReplacingMergeTree()")

    return [f"CREATE TABLE IF NOT EXISTS price_sets{on} (set_id String, created_at Int64) "
            f"ENGINE = {engine('price_sets')} ORDER BY set_id",
            f"CREATE TABLE IF NOT EXISTS price_rows{on} (set_id String, key String, lo Int64, hi Int64, "
            f"line_id Int64, q Int32) ENGINE = {engine('price_rows')} ORDER BY (set_id, key, lo, line_id)"]


UPGRADE_TABLES = ["events", *(t for t, _ in ROLLUPS)]
"""The tables :func:`upgrade_to_v3` rebuilds (as ``<table>_v2`` until the swap)."""
MIGRATIONS: list[list[str]] = [
    [],  # version 1 (0.1.0): a new store is made in the newest shape at once (see ClickHouseStore.create_statements)
    [],  # version 2: ids unique per project, made by the rebuild of version 3
    upgrade_to_v3(),  # version 3: 128-bit rollup sums and origin; tables rebuilt beside the old ones, then swapped
    upgrade_to_v4(),  # version 4: image quality and container size, stored for pricing only
    price_ddl(),  # version 5: the price rows costs pages join, per price set (see openusage.pricing.price_table)
    summaries_upgrade(SUMMARY_DIMS_UNPRICED),  # version 6: summaries without the free-form ids, so short-period
    # queries read few rows
    summaries_upgrade(PRICED_SUMMARY_DIMS),  # version 7: the summaries keyed by image quality and container size too
]
SCHEMA_VERSION = len(MIGRATIONS)


CORRECTION_COLUMNS = correction_columns()
"""The rollup columns :func:`correction_sql` selects, in its order (a rollup table keeps ``origin`` elsewhere)."""


def dedup_token(ids: pa.Array, projects: pa.Array | None = None) -> str:
    """A stable name for one block of new events: retries of the same block share it (and the same
    ids in other projects make another name)."""
    digest = hashlib.sha256()
    for index, event_id in enumerate(ids.to_pylist()):
        digest.update(event_id.encode())
        digest.update(b"\0")
        project = projects[index].as_py() if projects is not None else None
        if project is not None:
            digest.update(project.encode() + b"\1")
    return digest.hexdigest()


class _ChdbSession(Protocol):
    """What the store uses of ``chdb.session.Session`` (chdb ships no annotations)."""

    def query(self, sql: str, fmt: str = "CSV") -> Any: ...

    def close(self) -> None: ...


class _Chdb:
    """The ClickHouse engine in this process (one session; calls serialized by a lock)."""

    def __init__(self, path: str | None) -> None:
        from chdb import session

        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if not path:  # in memory: a session of its own in a directory removed on close
            self._tmp = tempfile.TemporaryDirectory(prefix="openusage-chdb-")
            path = self._tmp.name
        open_session: Callable[[str], _ChdbSession] = session.Session
        self.session = open_session(path)
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

    def __init__(self, url: str, secure: bool = False) -> None:
        import clickhouse_connect

        parts = urlsplit(url)
        self.client = clickhouse_connect.get_client(
            host=parts.hostname or "localhost", port=parts.port or 8123, username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""), database=parts.path.lstrip("/") or "default",
            secure=secure)
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


class _ClickHouseConnection:
    """The store's statements as a migration's :class:`~openusage.store.common.Connection` (no transactions)."""

    def __init__(self, store: ClickHouseStore) -> None:
        self.store = store

    def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        self.store.db.command(finalize_query(sql, list(args)) if args else sql)

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.store.rows(sql, list(args))

    def put(self, table: str, key: str, row: dict[str, Any]) -> None:
        self.store._put(table, key, row)

    def transaction(self) -> AbstractContextManager[Any]:
        return nullcontext()


class ClickHouseStore(SqlStoreBase):
    """Events (with per-minute rollups by materialized view), keys and metadata in ClickHouse."""

    dialect = CLICKHOUSE
    migrations = MIGRATIONS

    def __init__(self, url: str, *, rollups: bool = True, retention_days: int | None = None,
                 cluster: str | None = None, secure: bool = False) -> None:
        """``url``: ``chdb:///path`` or ``clickhouse://user:pw@host:port/db``, without openusage's options
        (:func:`openusage.store.url.parse_store_url` takes them out)."""
        self.url = redact(url)
        self.rollups = rollups
        self.retention_days = retention_days
        self.cluster = cluster
        self.meta_ddl = ddl(cluster)[0]
        self._insert_lock = threading.Lock()
        if url.startswith("chdb://"):
            path = url[len("chdb://"):]
            self.db: _Chdb | _Server = _Chdb(None if path in ("", "/", "/:memory:", ":memory:") else path)
        else:
            self.db = _Server(url.replace("clickhouse://", "http://", 1), secure)

    def arrow(self, sql: str, args: list[Any] | None = None) -> pa.Table:
        """The answer of one query as an Arrow table (values bound client-side, as clickhouse-connect does)."""
        return self.db.arrow(finalize_query(sql, args) if args else sql)

    def rows(self, sql: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
        table = self.arrow(sql, args)
        columns = [column.to_pylist() for column in table.columns]
        return list(zip(*columns, strict=True))

    # -- schema --------------------------------------------------------------------------------
    def describe(self) -> str:
        return "the ClickHouse store"

    @contextmanager
    def _migrating(self) -> Iterator[Connection]:
        """One process at a time (see docs/scale.md); inserts wait."""
        with self._insert_lock:
            yield _ClickHouseConnection(self)

    def create_statements(self) -> list[str]:
        """A new store is made in the newest shape at once (ClickHouse has no transaction to upgrade in)."""
        return [*ddl(self.cluster), *summary_ddl(self.cluster), *price_ddl(self.cluster)]

    def _before_upgrade(self, current: int) -> None:
        if self.cluster and current:
            raise StoreUpgradeError(
                f"the ClickHouse store has schema version {current} and this openusage needs "
                f"{self.schema_version()}; a cluster is not upgraded in place: copy it into a new database with "
                "`openusage migrate --from OLD --to NEW` (nothing was changed)")

    def _abandon_upgrade(self, conn: Connection) -> None:
        """The rebuilt tables go; the old ones, untouched until the swap, stay."""
        for t in UPGRADE_TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {t}_v2")

    def _write(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One writing statement (values bound client-side); ClickHouse answers no rows."""
        self.db.command(finalize_query(sql, list(args)) if args else sql)
        return []

    def _put(self, table: str, key: str, row: dict[str, Any]) -> None:
        """A new version of the row: ReplacingMergeTree keeps the newest per ``key`` (reads use FINAL)."""
        data = pa.Table.from_pylist([row], ROW_SCHEMAS[table])
        data = data.append_column("version", pa.array([time.time_ns()], pa.uint64()))
        self.db.insert(table, data, {"insert_deduplicate": 0})

    # -- events --------------------------------------------------------------------------------
    def existing_ids(self, ids: list[str]) -> set[tuple[str, str]]:
        """Which (project or '', id) pairs with these ids are stored already (looked up in chunks,
        through the id index)."""
        found: set[tuple[str, str]] = set()
        chunk: list[str] = []
        size = 0
        for i in [*dict.fromkeys(ids), None]:
            if i is not None:
                chunk.append(i)
                size += len(i) + 4
            if chunk and (i is None or size > _LOOKUP_CHARS):
                found.update(self.rows("SELECT DISTINCT ifNull(project_id, ''), id FROM events WHERE id IN %s",
                                       [chunk]))
                chunk, size = [], 0
        return found

    def insert(self, batches: list[EventBatch]) -> list[int]:
        """Store the events whose (project, id) is new; each batch's count of them.

        The lookup and the insert are two statements: a lock makes them one step for every writer
        in this process (chdb has only one), so two threads given the same new id store it once.
        """
        counts: list[int] = []
        with self._insert_lock:
            seen: set[tuple[str, str]] = set()
            for batch in batches:
                table = batch.to_arrow()
                if not table.num_rows:
                    counts.append(0)
                    continue
                keys = list(zip((project or "" for project in table.column("project_id").to_pylist()),
                                table.column("id").to_pylist(), strict=True))
                known = self.existing_ids([event_id for _, event_id in keys]) | seen
                if known.intersection(keys):
                    table = table.filter(pa.array([key not in known for key in keys], pa.bool_()))
                    keys = [key for key in keys if key not in known]
                if table.num_rows:
                    token = dedup_token(table.column("id"), table.column("project_id"))
                    self.db.insert("events", table, {"insert_deduplication_token": token,
                                                 "deduplicate_blocks_in_dependent_materialized_views": 1})
                    seen.update(keys)
                counts.append(table.num_rows)
        self._maybe_prune()
        return counts

    def aggregate(self, agg: Aggregate) -> pa.Table:
        sql, args = (aggregate_sql(agg, CLICKHOUSE, rollups=ROLLUPS, summaries=SUMMARIES) if self.rollups
                     else aggregate_sql(agg, CLICKHOUSE))
        return conform(agg, self.arrow(sql, args))

    def execute(self, sql: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run read-only SQL (benchmarks compare the API with the raw engine)."""
        return self.rows(sql, args)

    def _events(self, sql: str, args: list[Any]) -> pa.Table:
        table = self.arrow(sql, args)
        return pa.Table.from_arrays([table.column(f.name).cast(f.type) for f in SCHEMA], schema=SCHEMA)

    # -- repair --------------------------------------------------------------------------------
    def duplicate_repair(self) -> ClickHouseStore:
        """This store: its id check and its insert are two statements, so concurrent writers in
        several processes may both store one new id (see :meth:`duplicates`)."""
        return self

    def duplicates(self) -> tuple[int, int]:
        """Events stored more than once (writers in several processes given the same new id at the
        same instant): how many, and how many extra copies the rollups counted."""
        table = "events_local" if self.cluster else "events"
        rows = self.rows(f"SELECT count(), sum(c - 1) FROM (SELECT count() AS c FROM {table} "
                         f"GROUP BY {EVENTS_KEY} HAVING c > 1)")
        return int(rows[0][0]), int(rows[0][1] or 0)

    def repair(self) -> tuple[int, int]:
        """Take the extra copies of duplicated events out of the rollups, then fold them in ``events``.

        Each extra copy is subtracted from every rollup (negated sums; gauges and units are maxima
        and minima, which a copy cannot change), so ingestion may continue meanwhile; then the
        affected months of ``events`` are merged, which removes the copies (and the evidence, so a
        second run finds nothing).  Returns what :meth:`duplicates` found.
        """
        found, extra = self.duplicates()
        if not extra:
            return 0, 0
        local = "_local" if self.cluster else ""
        on = f" ON CLUSTER {self.cluster}" if self.cluster else ""
        dups = f"SELECT {EVENTS_KEY} FROM events{local} GROUP BY {EVENTS_KEY} HAVING count() > 1"
        copies = (f"SELECT * FROM events{local} WHERE ({EVENTS_KEY}) IN ({dups}) "
                  f"LIMIT 1, 1000000000 BY {EVENTS_KEY}")  # every copy but one
        months = [m for (m,) in self.rows(f"SELECT DISTINCT {MONTH} FROM ({copies})")]
        for table, width in ROLLUPS:
            self.db.command(f"INSERT INTO {table} ({CORRECTION_COLUMNS}) {correction_sql(f'({copies})', width)}")
        for table, width in SUMMARIES:
            self.db.command(f"INSERT INTO {table} ({correction_columns(SUMMARY_DIMS)}) "
                            f"{correction_sql(f'({copies})', width, SUMMARY_DIMS)}")
        for month in months:
            self.db.command(f"OPTIMIZE TABLE events{local}{on} PARTITION {int(month)} FINAL")
        left = self.duplicates()
        if left[1]:
            raise RuntimeError(f"{left[1]} duplicate copies are still in events after the merge: run the repair "
                               "again once the merge has finished")
        return found, extra

    # -- retention -----------------------------------------------------------------------------
    def prune(self, before_s: int) -> None:  # a mutation counts nothing
        """Delete raw events before ``before_s`` (rounded down to a minute); the rollup stays."""
        cutoff = (before_s * 1_000_000 // MINUTE_US) * MINUTE_US
        on = f" ON CLUSTER {self.cluster}" if self.cluster else ""
        table = "events_local" if self.cluster else "events"
        self.db.command(finalize_query(f"ALTER TABLE {table}{on} DELETE WHERE ts_us < %s", [cutoff]))

    # -- keys ----------------------------------------------------------------------------------
    def revoke_key(self, key_id: str, at: int) -> bool:
        rec = self.get_key(key_id)
        if rec is None or rec.revoked_at is not None:
            return False
        rec.revoked_at = at
        self.put_key(rec)
        return True

    def close(self) -> None:
        self.db.close()


__all__ = ["ClickHouseStore", "ddl", "dedup_token", "summary_ddl"]
