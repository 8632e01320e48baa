"""PostgreSQL: one database shared by several ``openusage serve`` processes.

Design (see ``docs/scale.md``):

* ``events`` is range-partitioned on ``ts_us`` by calendar month; a month's partition is created
  on demand, before the insert that needs it, outside that insert's transaction.
* A partitioned table's primary key must include the partition key, and a client may resend an
  id with a different timestamp, so ids are deduplicated in ``event_ids`` (primary key ``id``).
  Each insert, in one transaction: COPY the batch to a temporary table, insert its ids into
  ``event_ids`` with ``ON CONFLICT DO NOTHING RETURNING id`` (in id order, so two writers lock in
  the same order), then store only the events whose id was new, and add those same rows into the
  day rollup and the summaries.  Two workers receiving one id at once: the second waits on the
  first's row lock in the unique index and then skips it, so the event is counted once.
* ``rollup_1d`` (every dimension but ``user_id``), ``users_1d`` (project and user) and the summaries
  (:data:`.sql.SUMMARY_DIMS`) are day, minute and hour rollups; a query reads the first of them keeping
  every dimension it uses (:data:`PG_SETS`), raw events for a part of a day.  A day query by user and
  another dimension reads raw events together with ``history_1d`` (every dimension, per day), which holds
  the events retention pruned (:meth:`PostgresStore.prune` moves them there in the transaction that
  deletes them) and those of the closed days :meth:`PostgresStore.fold_days` folded, whose raw events
  the query leaves out (see :data:`HISTORY_READ`).  Each holds one compacted row
  per period and group: an insert adds its partial aggregates into them (``ON CONFLICT ... DO UPDATE``,
  see :func:`insert_sql`); readers sum whatever rows there are, so loose rows an older version appended
  per insert are summed too until compaction folds them.  Counter sums are ``numeric``, so no accepted
  events can overflow them.
* Ids are unique per project: ``event_ids`` is keyed by ``(project_key, id)``, ``project_key``
  being the event's ``project_id`` or '' without one.
* Tables dropped under a running process (a schema or database dropped and recreated) are
  recreated once, on the first statement that misses them.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool

from ..ingest.events import INT_METRICS, SCHEMA, SCHEMA_BEFORE_ORIGIN, EventBatch
from ..spec import DIMENSIONS, METRICS, PRICING_ONLY_DIMENSIONS
from .base import Aggregate, StoreUpgradeError, redact
from .common import Connection, DbApiConnection, SqlStoreBase
from .result import from_rows, result_schema
from .sql import (
    DIMS_BEFORE_ORIGIN,
    DIMS_THROUGH_ORIGIN,
    MINUTE_US,
    POSTGRESQL,
    PRICED_SUMMARY_DIMS,
    PRICED_TYPES,
    ROLLUP_TABLE,
    ROLLUPS,
    SUMMARIES,
    SUMMARY_DIMS,
    SUMMARY_DIMS_BEFORE_ORIGIN,
    SUMMARY_DIMS_UNPRICED,
    SUMMED,
    PostgresDialect,
    RollupSet,
    aggregate_sql,
    pick_rollups,
    priced_from_sql,
    priced_summary_rebuild,
    rollup_fields,
    rollup_select_sql,
)

_P = ParamSpec("_P")
_R = TypeVar("_R")

_TYPES = {pa.string(): "TEXT", pa.int64(): "BIGINT", pa.bool_(): "BOOLEAN", pa.float64(): "DOUBLE PRECISION"}
_COLUMNS = ", ".join(f.name for f in SCHEMA)
_CSV = pacsv.WriteOptions(include_header=False, quoting_style="needed")
_CSV_ANSWER = pacsv.ParseOptions(newlines_in_values=True)
"""PostgreSQL's CSV: an unquoted empty field is NULL, a quoted one ''; a quoted value may hold a newline
(ingestion refuses control characters, but a store may hold rows written by other means).  Only the
unquoted empty field is NULL: Arrow's default NULL spellings ("NULL", "NA", "nan", ...) are names a
model or user may have, which PostgreSQL writes unquoted."""
log = logging.getLogger("openusage.store")


def _column_type(f: pa.Field) -> str:
    if pa.types.is_decimal(f.type):
        return f"NUMERIC({f.type.precision}, {f.type.scale})"
    if f.type == pa.string():
        return 'TEXT COLLATE "C"'  # results sort by code point, as the contract says
    return _TYPES[f.type]


def _events_columns(schema: pa.Schema = SCHEMA) -> list[str]:
    cols = [f"{f.name} {_column_type(f)}" for f in schema]
    cols[0] = 'id TEXT COLLATE "C" NOT NULL'
    cols[1] = "type TEXT NOT NULL"
    cols[2] = "ts_us BIGINT NOT NULL"
    return cols


def _rollup_columns(wide: bool = True, dims: tuple[str, ...] | None = None, schema: pa.Schema = SCHEMA) -> list[str]:
    """A rollup's columns; counter sums are ``numeric`` (``wide=False``: the 0.1.0 BIGINT shape).

    ``dims``: the dimensions it keeps (a summary's), by default every one; ``schema``: the events' columns
    (the migrations before ``origin`` make :data:`SCHEMA_BEFORE_ORIGIN`)."""
    cols = ["type TEXT NOT NULL", "ts_us BIGINT NOT NULL"]
    cols += [f"{f.name} {'NUMERIC' if wide and f.name in SUMMED else _column_type(f)}"
             for f in rollup_fields(schema, dims)]
    return [*cols, "n BIGINT NOT NULL"]


OLD, OLD_SUMMARY = SCHEMA_BEFORE_ORIGIN, SUMMARY_DIMS_BEFORE_ORIGIN
"""What the migrations before ``origin`` (version 10) create: they must not change with the schema."""
PG_ROLLUPS: tuple[tuple[str, int], ...] = (("rollup_1d", 86400),)
"""The day rollup PostgreSQL keeps beside the summaries: by :data:`ROLLUP_DIMS` (see version 15)."""
ROLLUP_DIMS: tuple[str, ...] = tuple(d for d in DIMENSIONS if d != "user_id")
"""The day rollup's dimensions: every one but ``user_id``.  Users are the one dimension whose values
multiply with the others into about a group per event (2,000 users x 200 keys x 20 projects x 50 models):
a day rollup keyed by them too held a row per event (~310 bytes each), the most of the store's disk.
:data:`USERS` answers queries by project and user; those by user and another dimension read raw events
and :data:`HISTORY`."""
USER_DIMS: tuple[str, ...] = ("project_id", "user_id")
USERS: tuple[tuple[str, int], ...] = (("users_1d", 86400),)
"""Per day, project and user: what answers usage and costs grouped or filtered by user (and project)."""
PG_SETS: tuple[RollupSet, ...] = ((SUMMARY_DIMS, SUMMARIES), (USER_DIMS, USERS), (ROLLUP_DIMS, PG_ROLLUPS))
"""Where a query is read from, smallest tables first: the first set keeping every dimension it groups or
filters by (:func:`.sql.pick_rollups`); by user and another dimension than project: :data:`PG_QUERY_SETS`."""
HISTORY = "history_1d"
HISTORY_DIMS: tuple[str, ...] = tuple(DIMENSIONS)
"""Per day and every dimension, the events retention pruned (and only those): pruning folds the raw
events it deletes into it in the same transaction, so each event is in ``events`` or here, never both."""
HISTORY_COLUMNS = ", ".join(["type", "ts_us", *HISTORY_DIMS, *INT_METRICS, "amount", "quantity", "quantity_unit"])
FOLDED = "folded_days"
"""The days (``day``: a UTC day's start in microseconds) whose events :meth:`PostgresStore.fold_days` folded
into :data:`HISTORY` (``folded``), or looked at and left raw because they would not aggregate."""
UNFOLDED = "/*unfolded days*/"
"""Where :data:`HISTORY_READ` takes the condition picking the raw events of days not folded (see
:meth:`PostgresStore._unfolded`): no statement runs with the marker left in."""
HISTORY_READ = (f"(SELECT {HISTORY_COLUMNS} FROM {HISTORY} UNION ALL SELECT {HISTORY_COLUMNS} FROM events "
                f"WHERE {UNFOLDED}) AS history")
"""Every event ever stored, per day and every dimension: from :data:`HISTORY` those of the days retention
pruned or :meth:`PostgresStore.fold_days` folded, and the rest raw.  The statement reads both in one
snapshot, which sees a prune's or a fold's move whole or not at all; a ``ts_us`` here is an event's time or
its day's start, which serve day buckets alike."""
WRITERS = 2
"""Commits one server process runs at once by default.  With one, the 10-minute soak stored 6,311-7,098 of
its 7,200 events/s (each client waiting for the commit running, then its own); with two, 7,163-7,196 in
every minute, and one server's HTTP ingest 62,500-64,718 events/s against 43,675-48,022.  Several servers
on one database add up: four servers took 78,614-79,100 events/s with one each and 62,681-67,268 with two
on this 2-core machine (docs/performance.md, 2026-12-02 afternoon), so ``writers=1`` suits many workers."""
FOLD_AFTER_S = 2 * 3600
"""A day is folded once it ended this long ago (late events for it are merged into :data:`HISTORY` too)."""
FOLD_MIN_EVENTS_PER_GROUP = 4
"""A day is folded only when its events are at least this many times its groups by every dimension: below
that its history rows would be about as many as its events (thousands of users and keys), so reading
them would cost as much and they would take the disk of a second copy of the day."""
FOLD_MAX_S = 5.0
"""Seconds a maintenance round spends folding days, at most (a day is folded whole, then it stops)."""
FOLD_EVERY_S = 300.0
"""How often maintenance looks for days to fold (a scan of ``summary_1d``'s days): at most this often."""
PG_QUERY_SETS: tuple[RollupSet, ...] = (*PG_SETS, (HISTORY_DIMS, ((HISTORY_READ, 86400),)))
"""What queries read: :data:`PG_SETS`, then for a day query by user and another dimension :data:`HISTORY_READ`
(raw events for the rest of the range)."""
PG_LEVELS: list[tuple[str, int, tuple[str, ...]]] = [(t, w, dims) for dims, levels in PG_SETS for t, w in levels]
"""Every rollup table: its name, period in seconds and dimensions."""
GROUP_HASH_FUNCTION = (
    "CREATE OR REPLACE FUNCTION rollup_group_hash(VARIADIC parts text[]) RETURNS bytea LANGUAGE sql IMMUTABLE "
    "STRICT PARALLEL SAFE RETURN pg_catalog.sha256(pg_catalog.convert_to("
    "pg_catalog.array_to_string(parts, pg_catalog.chr(31)), 'UTF8'))")
"""The hash a rollup row's group is unique by (see :func:`group_hash`)."""


def group_hash(dims: tuple[str, ...]) -> str:
    """The expression a compacted row's group is unique by: a SHA-256 of its dimensions, each null as ''
    and a value as 'v' and its text, so null and '' differ.  An index of the columns themselves cannot
    hold a group whose names pass 2704 bytes together (a btree entry's limit), and would refuse its insert."""
    parts = []
    for dim in dims:
        if DIMENSIONS[dim].kind == "bool":
            parts.append(f"CASE WHEN {dim} IS NULL THEN '' WHEN {dim} THEN 'vt' ELSE 'vf' END")
        else:
            parts.append(f"CASE WHEN {dim} IS NULL THEN '' ELSE 'v' || {dim} END")
    return f"rollup_group_hash({', '.join(parts)})"


COMPACTED = [("summary_1m", SUMMARY_DIMS), ("summary_1h", SUMMARY_DIMS),
             *((t, ROLLUP_DIMS) for t, _ in PG_ROLLUPS), *((t, USER_DIMS) for t, _ in USERS),
             ("summary_1d", SUMMARY_DIMS)]
"""Every table compaction folds, with its dimensions, in the order inserts lock their rows: the
groups fewest writers share first (minutes), those most share last (days)."""
assert {t for t, _ in COMPACTED} == {t for _, levels in PG_SETS for t, _ in levels}

BRIN_PAGES = 32
EVENTS_STORAGE = f"""How version 16 stores events in fewer bytes (the soak's 20 projects, 50 models, 2,000 users and 200
keys: ~300 bytes per event with its index, ~128 more in ``event_ids``):

* counters are ``numeric``: an event carries about 17 of them (ingestion derives the cached, audio and
  image splits, mostly 0), 8 bytes each and aligned as ``bigint``; a ``numeric`` 0 takes 3 bytes and a
  count below 10,000 5, unaligned.  Sums read them as they read the rollups' ``numeric`` sums.
* raw events are found by a BRIN index of ``ts_us`` ({BRIN_PAGES} pages a range) instead of a btree of
  ``(type, ts_us)`` (~50 bytes per event): events arrive in about time order, so a time range reads
  the pages of that range; the type is checked on the rows, which a btree saved little of anyway (its
  rows of one type are spread over the same pages).
* ``event_ids`` keeps no ``ts_us``: nothing read it."""


V14_COMPACTED = [("summary_1m", SUMMARY_DIMS_UNPRICED), ("summary_1h", SUMMARY_DIMS_UNPRICED),
                 ("rollup_1d", tuple(DIMENSIONS)), ("summary_1d", SUMMARY_DIMS_UNPRICED)]
"""The tables version 14 keyed by a group hash, with their dimensions then (it must not change)."""


def summaries_priced() -> list[str]:
    """Version 17: image quality and container size added to the summaries (as keys of their compacted
    rows' group hash), so costs pages read the summaries for every type, and the rows of the types storing
    them rebuilt with them (:func:`.sql.priced_summary_rebuild`): the day summary from the day rollup (which
    counts pruned events too), the minute and hour summaries from the events kept."""
    priced = f"type IN ({', '.join(repr(t) for t in PRICED_TYPES)})"
    stmts = [f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS quality TEXT COLLATE "C", '
             f'ADD COLUMN IF NOT EXISTS memory_limit TEXT COLLATE "C"' for table, _ in SUMMARIES]
    stmts += [f"DROP INDEX IF EXISTS {table}_groups" for table, _ in SUMMARIES]
    stmts += ["DROP TABLE IF EXISTS priced_gaps", "CREATE TEMP TABLE priced_gaps (hi BIGINT)"]
    for table, width in SUMMARIES:
        source = (f"(SELECT * FROM rollup_1d WHERE {priced}) AS r", "SUM(n)") if width == 86400 else \
            (f"(SELECT * FROM events WHERE {priced}) AS e", "count(*)")
        stmts += priced_summary_rebuild(POSTGRESQL, table, width, [source])
    stmts += [f"CREATE UNIQUE INDEX {table}_groups ON {table} (type, ts_us, ({group_hash(PRICED_SUMMARY_DIMS)})) "
              "WHERE compacted" for table, _ in SUMMARIES]
    return [*stmts, priced_from_sql(POSTGRESQL), "DROP TABLE priced_gaps"]

V15_ROLLUP_DIMS: tuple[str, ...] = (
    "project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source", "size", "source",
    "vector_store_id", "context_level", "line_item", "origin", "quality", "memory_limit")
"""The day rollup's dimensions as version 15 made it (every one then); it must not change."""


V18_COLUMNS: tuple[str, ...] = (
    "id", "type", "ts_us", "project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source",
    "size", "source", "vector_store_id", "context_level", "line_item", "characters", "num_model_requests", "seconds",
    "num_sessions", "input_tokens", "output_tokens", "input_cached_tokens", "input_audio_tokens",
    "output_audio_tokens", "input_text_tokens", "input_image_tokens", "input_uncached_tokens",
    "input_cached_text_tokens", "input_cached_audio_tokens", "input_cached_image_tokens", "input_cache_write_tokens",
    "input_cache_write_30m_tokens", "input_cache_write_12h_tokens", "output_text_tokens", "output_image_tokens",
    "images", "usage_bytes", "num_requests", "amount", "quantity", "quantity_unit", "origin", "quality",
    "memory_limit")
"""The events' columns when version 18 was made; with the lists below, what its statements are built from
(they must not change with later code)."""
V18_SCHEMA = pa.schema([SCHEMA.field(name) for name in V18_COLUMNS])
V18_DIMS: tuple[str, ...] = V15_ROLLUP_DIMS
V18_ROLLUP_DIMS: tuple[str, ...] = tuple(d for d in V18_DIMS if d != "user_id")
V18_COUNTERS: tuple[str, ...] = V18_COLUMNS[V18_COLUMNS.index("characters"):V18_COLUMNS.index("amount")]
V18_GAUGES = ("usage_bytes",)
DAY_US = 86_400_000_000


def _day(ts: str) -> str:
    """The start of the UTC day holding ``ts`` (microseconds, nonnegative)."""
    return f"({ts} / {DAY_US}) * {DAY_US}"


def _v18_fold(source: str, dims: tuple[str, ...], count: str) -> str:
    """Partial aggregates per day and ``dims`` of ``source`` (events or day rollup rows) as version 18 sums."""
    day = _day("ts_us")
    cols = ["type", f"{day} AS ts_us", *dims]
    cols += [f"max({m}) AS {m}" if m in V18_GAUGES else f"SUM({m}) AS {m}" for m in V18_COUNTERS]
    cols += ["SUM(amount) AS amount", "SUM(quantity) AS quantity", "min(quantity_unit) AS quantity_unit",
             f"{count} AS n"]
    return f"SELECT {', '.join(cols)} FROM {source} GROUP BY {', '.join(['type', day, *dims])}"


def _v18_history() -> str:
    """Fill ``history_1d`` with what retention pruned before version 18: per day, the day rollup by every
    dimension less the raw events still stored (a group and day with none left is not written).  Only the
    days whose rollup counts more events than ``events`` holds are read (after a count of the raw events
    per day).  A gauge keeps the rollup's maximum
    (the day's, pruned or not); the float ``quantity`` is a difference of sums, exact to its rounding."""
    hashed = group_hash(V18_DIMS)
    names = ["type", "ts_us", *V18_DIMS, *V18_COUNTERS, "amount", "quantity", "quantity_unit", "n", "compacted"]
    on = "r.type = o.type AND r.ts_us = o.ts_us"
    values = [f"o.{c}" for c in ("type", "ts_us", *V18_DIMS)]
    values += [f"o.{m}" if m in V18_GAUGES else f"o.{m} - coalesce(r.{m}, 0)" for m in V18_COUNTERS]
    values += ["o.amount - coalesce(r.amount, 0)", "o.quantity - coalesce(r.quantity, 0)", "o.quantity_unit",
               "o.n - coalesce(r.n, 0)", "true"]
    def of_pruned_days(table: str) -> str:
        return (f"(SELECT x.* FROM {table} x JOIN pruned p ON p.type = x.type "
                f"AND p.ts_us = (x.ts_us / {DAY_US}) * {DAY_US}) AS x")

    day = _day("ts_us")
    return (f"WITH day_n AS (SELECT type, {day} AS ts_us, SUM(n) AS n FROM rollup_1d_v16 GROUP BY 1, 2), "
            f"raw_days AS (SELECT type, {day} AS ts_us, count(*) AS n FROM events GROUP BY 1, 2), "
            f"pruned AS (SELECT o.type, o.ts_us FROM day_n o LEFT JOIN raw_days r ON {on} "
            "WHERE o.n > coalesce(r.n, 0)), "
            f"old AS (SELECT f.*, {hashed} AS h FROM "
            f"({_v18_fold(of_pruned_days('rollup_1d_v16'), V18_DIMS, 'SUM(n)')}) AS f), "
            f"raw AS (SELECT f.*, {hashed} AS h FROM "
            f"({_v18_fold(of_pruned_days('events'), V18_DIMS, 'count(*)')}) AS f) "
            f"INSERT INTO history_1d ({', '.join(names)}) SELECT {', '.join(values)} FROM old o "
            f"LEFT JOIN raw r ON {on} AND r.h = o.h WHERE o.n > coalesce(r.n, 0)")


def _v18() -> list[str]:
    """Version 18: the day rollup without ``user_id`` (folded from the one by every dimension, which counts
    pruned events too), and ``history_1d`` by every dimension holding only what retention pruned."""
    narrow = V18_ROLLUP_DIMS
    names = ["type", "ts_us", *narrow, *V18_COUNTERS, "amount", "quantity", "quantity_unit", "n", "compacted"]
    return [
        "DROP TABLE IF EXISTS history_1d",  # a store re-upgraded from an older version is filled once
        "ALTER TABLE rollup_1d RENAME TO rollup_1d_v16",
        "DROP INDEX IF EXISTS rollup_1d_type_ts, rollup_1d_loose, rollup_1d_groups",
        f"CREATE TABLE history_1d ({', '.join(_rollup_columns(dims=V18_DIMS, schema=V18_SCHEMA))}, "
        "compacted BOOLEAN NOT NULL DEFAULT true)",
        "CREATE INDEX history_1d_type_ts ON history_1d (type, ts_us)",
        f"CREATE UNIQUE INDEX history_1d_groups ON history_1d (type, ts_us, ({group_hash(V18_DIMS)})) WHERE compacted",
        _v18_history(),
        f"CREATE TABLE rollup_1d ({', '.join(_rollup_columns(dims=narrow, schema=V18_SCHEMA))}, "
        "compacted BOOLEAN NOT NULL DEFAULT false)",
        "CREATE INDEX rollup_1d_type_ts ON rollup_1d (type, ts_us)",
        "CREATE INDEX rollup_1d_loose ON rollup_1d (type, ts_us) WHERE NOT compacted",
        f"CREATE UNIQUE INDEX rollup_1d_groups ON rollup_1d (type, ts_us, ({group_hash(narrow)})) WHERE compacted",
        f"INSERT INTO rollup_1d ({', '.join(names)}) SELECT *, true FROM "
        f"({_v18_fold('rollup_1d_v16', narrow, 'SUM(n)')}) AS folded",
        "DROP TABLE rollup_1d_v16",
    ]


MIGRATIONS: list[list[str]] = [
    [  # version 1: events partitioned by month, ids for deduplication, keys
        "CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, name TEXT, scope TEXT NOT NULL,"
        " projects TEXT, salt TEXT NOT NULL, hash TEXT NOT NULL, created_at BIGINT NOT NULL,"
        " revoked_at BIGINT, last_used_at BIGINT)",
        "CREATE TABLE IF NOT EXISTS event_ids (id TEXT COLLATE \"C\" PRIMARY KEY, ts_us BIGINT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS events ({', '.join(_events_columns(OLD))}) PARTITION BY RANGE (ts_us)",
        "CREATE INDEX IF NOT EXISTS events_type_ts ON events (type, ts_us)",
    ],
    [  # version 2: per-minute rollups, backfilled from the events already stored
        f"CREATE TABLE IF NOT EXISTS {ROLLUP_TABLE} ({', '.join(_rollup_columns(wide=False, schema=OLD))})",
        f"CREATE INDEX IF NOT EXISTS rollup_1m_type_ts ON {ROLLUP_TABLE} (type, ts_us)",
        f"INSERT INTO {ROLLUP_TABLE} {rollup_select_sql(POSTGRESQL, 'events', dims=DIMS_BEFORE_ORIGIN)}",
    ],
    [  # version 3: per-hour and per-day rollups, so long ranges read a row per group and hour or day
        stmt for table, width in ROLLUPS if table != ROLLUP_TABLE for stmt in (
            f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(_rollup_columns(wide=False, schema=OLD))})",
            f"CREATE INDEX IF NOT EXISTS {table}_type_ts ON {table} (type, ts_us)",
            f"INSERT INTO {table} {rollup_select_sql(POSTGRESQL, 'events', width, DIMS_BEFORE_ORIGIN)}",
        )
    ],
    [  # version 4: rollup sums in numeric (two events at the per-event bound overflow BIGINT)
        f"ALTER TABLE {table} " + ", ".join(f"ALTER COLUMN {m} TYPE NUMERIC" for m in SUMMED)
        for table, _ in ROLLUPS
    ],
    [  # version 5: ids unique per project (events without one under ''), as CloudEvents per source
        "ALTER TABLE event_ids ADD COLUMN IF NOT EXISTS project_key TEXT COLLATE \"C\" NOT NULL DEFAULT ''",
        "UPDATE event_ids e SET project_key = ev.project_id FROM events ev "
        "WHERE ev.id = e.id AND ev.project_id IS NOT NULL",
        "ALTER TABLE event_ids DROP CONSTRAINT event_ids_pkey",
        "ALTER TABLE event_ids ADD PRIMARY KEY (project_key, id)",
    ],
    [  # version 6: rollup rows are compacted (see PostgresStore.compact); new rows are not yet
        stmt for table, _ in ROLLUPS for stmt in (
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS compacted BOOLEAN NOT NULL DEFAULT false",
            f"CREATE INDEX IF NOT EXISTS {table}_loose ON {table} (type, ts_us) WHERE NOT compacted",
        )
    ],
    [  # version 7: summaries, rollups without the free-form ids (see sql.SUMMARIES), filled from the rollups
        stmt for (table, width), (source, _) in zip(SUMMARIES, ROLLUPS, strict=True) for stmt in (
            f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(_rollup_columns(dims=OLD_SUMMARY, schema=OLD))}, "
            "compacted BOOLEAN NOT NULL DEFAULT false)",
            f"CREATE INDEX IF NOT EXISTS {table}_type_ts ON {table} (type, ts_us)",
            f"CREATE INDEX IF NOT EXISTS {table}_loose ON {table} (type, ts_us) WHERE NOT compacted",
            f"DELETE FROM {table}",  # a store re-upgraded from an older version is filled once
            f"INSERT INTO {table} {rollup_select_sql(POSTGRESQL, source, width, OLD_SUMMARY, 'SUM(n)')}",
        )
    ],
    [  # version 8: compacted rows unique per group, so compaction adds loose rows into them
        f"CREATE UNIQUE INDEX IF NOT EXISTS {table}_groups ON {table} (type, ts_us, {', '.join(dims)}) "
        "NULLS NOT DISTINCT WHERE compacted"
        for table, dims in [*((t, DIMS_BEFORE_ORIGIN) for t, _ in ROLLUPS),
                            *((t, SUMMARY_DIMS_BEFORE_ORIGIN) for t, _ in SUMMARIES)]
    ],
    # version 9: rollups by every dimension per day only; per minute and hour the summaries serve (with
    # thousands of users and keys a minute or hour rollup by every dimension holds a row per event)
    ["DROP TABLE IF EXISTS rollup_1m", "DROP TABLE IF EXISTS rollup_1h"],
    [  # version 10: where each event entered (see spec.ORIGINS); everything stored before came through ingestion
        'ALTER TABLE events ADD COLUMN IF NOT EXISTS origin TEXT COLLATE "C" DEFAULT \'ingest\'',
        *(stmt for table, dims in [*((t, DIMS_THROUGH_ORIGIN) for t, _ in PG_ROLLUPS),
                                   *((t, SUMMARY_DIMS_UNPRICED) for t, _ in SUMMARIES)] for stmt in (
            f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS origin TEXT COLLATE "C" DEFAULT \'ingest\'',
            f"DROP INDEX IF EXISTS {table}_groups",
            f"CREATE UNIQUE INDEX {table}_groups ON {table} (type, ts_us, {', '.join(dims)}) "
            "NULLS NOT DISTINCT WHERE compacted",
        )),
    ],
    [  # version 11: dimensions stored for pricing only (spec.PRICING_ONLY_DIMENSIONS: image quality, container
        # size), in the events and the day rollup (summaries leave them out); events stored before have none
        *(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {dim} TEXT COLLATE "C"'
          for table in ("events", *(t for t, _ in PG_ROLLUPS)) for dim in PRICING_ONLY_DIMENSIONS),
        *(stmt for table, _ in PG_ROLLUPS for stmt in (
            f"DROP INDEX IF EXISTS {table}_groups",
            f"CREATE UNIQUE INDEX {table}_groups ON {table} (type, ts_us, {', '.join(DIMENSIONS)}) "
            "NULLS NOT DISTINCT WHERE compacted",
        )),
    ],
    [  # version 12: the price rows costs pages join, per price set (see openusage.pricing.price_table)
        'CREATE TABLE IF NOT EXISTS price_sets (set_id TEXT COLLATE "C" PRIMARY KEY, created_at BIGINT NOT NULL)',
        'CREATE TABLE IF NOT EXISTS price_rows (set_id TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, '
        "lo BIGINT NOT NULL, hi BIGINT NOT NULL, line_id BIGINT NOT NULL, q INTEGER NOT NULL, "
        "PRIMARY KEY (set_id, key, lo, line_id))",
    ],
    [  # version 13: price rows unique by a hash of their key: a key of several parts near the 512-character
        # limit passes the 2704 bytes a btree entry may hold, and its insert failed
        "CREATE OR REPLACE FUNCTION price_key_hash(key text) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT "
        "PARALLEL SAFE RETURN pg_catalog.sha256(pg_catalog.convert_to(key, 'UTF8'))",
        "CREATE UNIQUE INDEX IF NOT EXISTS price_rows_unique ON price_rows (set_id, price_key_hash(key), lo, line_id)",
        "ALTER TABLE price_rows DROP CONSTRAINT IF EXISTS price_rows_pkey",
    ],
    [  # version 14: compacted rows unique by a hash of their group: a group of several names near the
        # 512-character limit passes the 2704 bytes a btree entry may hold, and its insert failed
        GROUP_HASH_FUNCTION,
        *(stmt for table, dims in V14_COMPACTED for stmt in (
            f"DROP INDEX IF EXISTS {table}_groups",
            f"CREATE UNIQUE INDEX {table}_groups ON {table} (type, ts_us, ({group_hash(dims)})) WHERE compacted",
        )),
    ],
    [  # version 15: the day rollup (by V15_ROLLUP_DIMS: every dimension), and a day rollup by project and user, both
        # folded from the rollup by every dimension (which counts pruned events too), which goes
        "DROP TABLE IF EXISTS users_1d",  # a store re-upgraded from an older version is filled once
        "ALTER TABLE rollup_1d RENAME TO rollup_1d_v14",
        "DROP INDEX IF EXISTS rollup_1d_type_ts, rollup_1d_loose, rollup_1d_groups",
        *(stmt for table, dims in (("rollup_1d", V15_ROLLUP_DIMS), ("users_1d", USER_DIMS)) for stmt in (
            f"CREATE TABLE {table} ({', '.join(_rollup_columns(dims=dims))}, compacted BOOLEAN NOT NULL DEFAULT false)",
            f"CREATE INDEX {table}_type_ts ON {table} (type, ts_us)",
            f"CREATE INDEX {table}_loose ON {table} (type, ts_us) WHERE NOT compacted",
            f"CREATE UNIQUE INDEX {table}_groups ON {table} (type, ts_us, ({group_hash(dims)})) WHERE compacted",
            f"INSERT INTO {table} ({', '.join(['type', 'ts_us', *dims, *INT_METRICS])}, amount, quantity, "
            "quantity_unit, n, compacted) SELECT *, true FROM "
            f"({rollup_select_sql(POSTGRESQL, 'rollup_1d_v14', 86400, dims, 'SUM(n)')}) AS folded",
        )),
        "DROP TABLE rollup_1d_v14",
    ],
    [  # version 16: narrower events (see EVENTS_STORAGE)
        "ALTER TABLE event_ids DROP COLUMN IF EXISTS ts_us",
        "ALTER TABLE events " + ", ".join(f"ALTER COLUMN {m} TYPE NUMERIC" for m in INT_METRICS),
        "DROP INDEX IF EXISTS events_type_ts",
        f"CREATE INDEX IF NOT EXISTS events_ts ON events USING brin (ts_us) WITH (pages_per_range = {BRIN_PAGES})",
    ],
    summaries_priced(),  # version 17: the summaries keyed by image quality and container size too
    _v18(),  # version 18: the day rollup without user_id, and history_1d (see _v18)
    [  # version 19: the days folded into history_1d (see PostgresStore.fold_days)
        f"CREATE TABLE IF NOT EXISTS {FOLDED} (day BIGINT PRIMARY KEY, folded BOOLEAN NOT NULL)",
    ],
]
ANALYZE_AFTER_ROWS = 50_000
"""Per table: after compaction has folded this many rows, the table is analyzed at once (the planner
otherwise plans its reads with the statistics of a table half its size, or none, until autovacuum
comes round: an index scan and an on-disk sort where a sequential scan and a hash serve)."""
SESSION = "-c jit=off -c work_mem=64MB"
"""Every connection's settings: this store's statements are short aggregations over tens of thousands
of rows, which JIT compilation slows down, and whose sorts and hashes spill to disk under the default
4 MB of memory each."""
MAINTAIN_LOCK_TIMEOUT = 0.2
"""Seconds the raw events' index maintenance waits for a partition's lock before skipping a round."""
VACUUM_DEAD_ROWS = 1_000
VACUUM_DEAD_SHARE = 0.2
"""A rollup is vacuumed by compaction once its dead row versions pass this many plus this share of its
live rows (autovacuum's defaults are 50 and 0.2)."""
VACUUM_MAX_S = 60.0
"""Seconds compaction's vacuum of one rollup may take before it is cancelled (a rollup of the soak's
day, 150,000 rows, takes well under one); a later round starts it again."""
COMPACT_EVERY_S = 10.0
COMPACT_ROWS = 200_000
"""Per round and table: how many loose rows are folded."""


def _merge(dims: tuple[str, ...]) -> tuple[list[str], list[str], str]:
    """A rollup's key columns, every column a compacted row is written with, and the ``ON CONFLICT``
    clause adding a group's partial aggregates into its compacted row (the unique index of compacted
    rows finds it)."""
    keys = ["type", "ts_us", *dims]

    def add(column: str) -> str:  # a sum that ignores NULL, as SUM does
        return (f"{column} = CASE WHEN r.{column} IS NULL THEN EXCLUDED.{column} "
                f"WHEN EXCLUDED.{column} IS NULL THEN r.{column} ELSE r.{column} + EXCLUDED.{column} END")

    updates = [add(m) if METRICS[m].agg == "sum" else f"{m} = GREATEST(r.{m}, EXCLUDED.{m})" for m in INT_METRICS]
    updates += [add("amount"), add("quantity"), "quantity_unit = LEAST(r.quantity_unit, EXCLUDED.quantity_unit)",
                "n = r.n + EXCLUDED.n"]
    target = f"type, ts_us, ({group_hash(dims)})"
    names = [*keys, *INT_METRICS, "amount", "quantity", "quantity_unit", "n", "compacted"]
    return keys, names, f"ON CONFLICT ({target}) WHERE compacted DO UPDATE SET {', '.join(updates)}"


def compact_sql(table: str, rows: int = COMPACT_ROWS, dims: tuple[str, ...] = tuple(DIMENSIONS)) -> str:
    """Fold up to ``rows`` loose rows into the table's compacted rows: one per type, period and group.

    Inserts merge into compacted rows themselves (:func:`insert_sql`); loose rows are those earlier
    releases appended per insert, or a rollup a migration backfilled.  One statement:
    the loose rows it deletes are summed into their group's compacted row (inserted if the group has
    none: ``ON CONFLICT`` on the unique index of compacted rows).  Readers see the table before or
    after.  Answers the loose rows taken and the compacted rows it created.
    """
    keys, names, merge = _merge(dims)
    values = [*keys]
    values += [f"SUM({m})" if METRICS[m].agg == "sum" else f"max({m})" for m in INT_METRICS]
    values += ["SUM(amount)", "SUM(quantity)", "min(quantity_unit)", "SUM(n)", "true"]
    return (f"WITH moved AS (DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} "
            f"WHERE NOT compacted LIMIT {int(rows)})) RETURNING *), "
            f"kept AS (INSERT INTO {table} AS r ({', '.join(names)}) SELECT {', '.join(values)} FROM moved "
            f"GROUP BY {', '.join(keys)} {merge} RETURNING (r.xmax = 0) AS created) "
            "SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM kept WHERE created)")


SCHEMA_VERSION = len(MIGRATIONS)


def first_copies(tables: list[pa.Table]) -> pa.Table:
    """The batches as one table with a ``seq`` column (the batch's index), each (project, id) once:
    in its first batch, as if the batches were stored one after the other."""
    numbered = pa.concat_tables([t.append_column("seq", pa.repeat(pa.scalar(i, pa.int32()), t.num_rows))
                                 for i, t in enumerate(tables) if t.num_rows])
    if len(tables) < 2:
        return numbered  # ids are unique within a batch (validation folds repeats)
    keys = pa.table({"p": pc.fill_null(numbered.column("project_id"), ""), "id": numbered.column("id"),
                     "row": pa.array(range(numbered.num_rows), pa.int64())})
    first = keys.group_by(["p", "id"], use_threads=False).aggregate([("row", "min")]).column("row_min")
    if len(first) == numbered.num_rows:
        return numbered
    return numbered.take(first)


def _rollup_cte(name: str, source: str, width: int, dims: tuple[str, ...], count: str) -> str:
    return f"{name} AS MATERIALIZED ({rollup_select_sql(POSTGRESQL, source, width, dims, count, nonnegative=True)})"


def _merge_cte(table: str, source: str, dims: tuple[str, ...]) -> str:
    """Add the rows of CTE ``source`` (a rollup's partial aggregates) into ``table``'s compacted rows,
    taken in key order so that writers lock a group's row in the same order."""
    keys, names, merge = _merge(dims)
    return (f"ins_{table} AS (INSERT INTO {table} AS r ({', '.join(names)}) SELECT *, true FROM {source} "
            f"ORDER BY {', '.join(keys)} {merge})")


def insert_sql(late: bool = False) -> str:
    """One statement storing the batches COPYed into ``incoming_seq``; answers (seq, new events).

    The rows hold each (project, id) once (:func:`first_copies`); the first writer of one wins across
    workers (``ON CONFLICT DO NOTHING`` on ``event_ids``, in key order so that writers lock alike).
    Only the new events are stored and added into the day rollups and the minute summary; the hour
    summary is folded from those minute rows and the day summary from the hour rows.  Each group's
    partial aggregate is added into its compacted row (merged on insert): an update in place, where a
    row per group and insert would leave a row per event to store and compact with thousands of groups.
    Two writers adding to one group wait on its row lock, the second then adds to the first's sum.
    """
    key = "coalesce(project_id, '')"
    parts = [  # incoming_seq is copied in key order (see _insert_once): its scan reads it so, unsorted
        f"new AS (INSERT INTO event_ids (project_key, id) SELECT {key}, id FROM incoming_seq "
        "ON CONFLICT (project_key, id) DO NOTHING RETURNING project_key, id)",
        "fresh AS (SELECT i.* FROM incoming_seq i JOIN new ON new.project_key = coalesce(i.project_id, '') "
        "AND new.id = i.id)",
    ]
    merges: dict[str, str] = {}
    for table, width in PG_ROLLUPS:
        parts.append(_rollup_cte(f"r{width}", "fresh", width, ROLLUP_DIMS, "count(*)"))
        merges[table] = _merge_cte(table, f"r{width}", ROLLUP_DIMS)
    for table, width in USERS:
        parts.append(_rollup_cte(f"u{width}", "fresh", width, USER_DIMS, "count(*)"))
        merges[table] = _merge_cte(table, f"u{width}", USER_DIMS)
    finer = ""
    for table, width in sorted(SUMMARIES, key=lambda lv: lv[1]):
        parts.append(_rollup_cte(f"s{width}", finer or "fresh", width, SUMMARY_DIMS,
                                 "SUM(n)" if finer else "count(*)"))
        finer = f"s{width}"
        merges[table] = _merge_cte(table, finer, SUMMARY_DIMS)
    if late:  # events of a day folded into the history are added there too (see PostgresStore.fold_days)
        parts.append(f"late AS (SELECT f.* FROM fresh f JOIN {FOLDED} d ON d.folded AND d.day = {_day('f.ts_us')})")
        parts.append(_rollup_cte("h", "late", 86400, HISTORY_DIMS, "count(*)"))
    # PostgreSQL runs the data-modifying CTEs the main query does not read last one first: listed so,
    # the rows most writers share (a day's groups) are locked last, held the shortest until commit
    parts += [merges[table] for table, _ in reversed(COMPACTED)]
    if late:
        parts.append(_merge_cte(HISTORY, "h", HISTORY_DIMS))
    parts.append(f"ins_events AS (INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM fresh)")
    return "WITH " + ", ".join(parts) + " SELECT seq, count(*) FROM fresh GROUP BY seq"


INSERT_SQL = insert_sql()
INSERT_LATE_SQL = insert_sql(late=True)
""":data:`INSERT_SQL` for a batch holding events of a day folded into :data:`HISTORY`."""


def not_folded(source: str) -> str:
    """The rows of ``source`` (events) whose day is not folded into :data:`HISTORY`, as a subquery."""
    return (f"(SELECT g.* FROM {source} g WHERE NOT EXISTS (SELECT 1 FROM {FOLDED} d WHERE d.folded "
            f"AND d.day = {_day('g.ts_us')})) AS kept")


FOREVER_US = 2**62
"""The end of time for :func:`unfolded_ranges` (microseconds)."""


def unfolded_ranges(lo: int, hi: int, folded: list[int]) -> str:
    """The condition on ``ts_us`` picking the days of ``[lo, hi)`` (microseconds, day starts) not in
    ``folded``, as ranges an index scan reads ('false' when every day is folded)."""
    ranges: list[tuple[int, int]] = []
    start = lo
    for day in sorted(folded):
        if day >= hi:
            break
        if day > start:
            ranges.append((start, day))
        start = max(start, day + DAY_US)
    if start < hi:
        ranges.append((start, hi))
    if not ranges:
        return "false"
    return "(" + " OR ".join(f"(ts_us >= {int(a)} AND ts_us < {int(b)})" for a, b in ranges) + ")"


def history_fold_sql(source: str) -> str:
    """Add the events of ``source`` (a table or CTE) into :data:`HISTORY`, per day and every dimension."""
    keys, names, merge = _merge(HISTORY_DIMS)
    select = rollup_select_sql(POSTGRESQL, source, 86400, HISTORY_DIMS, "count(*)", nonnegative=True)
    return (f"INSERT INTO {HISTORY} AS r ({', '.join(names)}) SELECT *, true FROM ({select}) AS f "
            f"ORDER BY {', '.join(keys)} {merge}")


PRUNE_SQL = (f"WITH gone AS (DELETE FROM events WHERE ts_us < %s RETURNING *), "
             f"folded AS ({history_fold_sql(not_folded('gone'))}) "
             "SELECT count(*) FROM gone")
"""Delete the raw events before a cutoff and add exactly the rows deleted into :data:`HISTORY`, but those
of days folded there already."""


FLOAT_EXACT = 2**53
"""Every integer below this is a float8, so a float8 sum of nonnegative integers that stays below it is exact."""


class _Int64Sums(PostgresDialect):
    """Counter sums added in ``float8`` and answered as ``bigint``, exact while the sum stays below 2**53.

    A ``float8`` running sum lives in the aggregate's per-group slot, where ``sum(bigint)`` and
    ``sum(numeric)`` allocate a 128-bit or numeric state per group and counter: with 150,000 groups
    and 17 counters that is the difference between a hash table in memory and one spilled to disk.
    Counters are nonnegative (ingestion refuses others), so every partial sum is at most the total:
    a total below 2**53 means no addition was rounded.  A total at or past it casts ``Infinity`` to
    ``bigint``, which fails (SQLSTATE 22003, as a rollup value past int64 does); the store then runs
    the exact ``numeric`` statement instead (:meth:`PostgresStore.aggregate`), so answers are the same
    either way.  The answer is a ``bigint``, which reaches Python as an int rather than a Decimal."""

    def int_sum(self, expr: str) -> str:
        total = f"SUM(({expr})::bigint::float8)"  # numeric to bigint is direct; numeric to float8 prints digits
        return f"(CASE WHEN {total} >= {FLOAT_EXACT} THEN 'Infinity'::float8 ELSE {total} END)::bigint"


INT64_SUMS: PostgresDialect = _Int64Sums()


def groups_like_rows(agg: Aggregate) -> bool:
    """Whether ``agg`` has about a group per row it reads: it groups by users, keys or vector stores,
    which the summaries leave out, so it reads the day rollup or raw events (150,000 rows and groups
    for 30 days of 5 models, 10 projects, 100 users and 20 keys).  Such a statement aggregates its
    input sorted: the one sort serves the grouping and the ORDER BY, where a hash table would hold
    every group and then be sorted (1.4-1.6x the time: 2.9 s against 2.0 s on 1M events at load 13)."""
    return any(d not in SUMMARY_DIMS for d in agg.group_by)


def event_days(tables: list[pa.Table]) -> list[int]:
    """The UTC days (since 1970) the events of ``tables`` fall on, in order: the month partitions they
    need and the fold locks their insert takes."""
    return sorted({day for t in tables if t.num_rows
                   for day in pc.unique(pc.divide(t.column("ts_us"), DAY_US)).to_pylist()})  # integer division


def key_order(table: pa.Table) -> pa.Table:
    """The rows in (project key, id) order, the order ``event_ids`` takes its new keys in (so that two
    writers lock alike); ``project_id`` null sorts as '', and Arrow compares strings bytewise as
    ``COLLATE "C"`` does."""
    keys = pa.table({"p": pc.fill_null(table.column("project_id"), ""), "id": table.column("id")})
    return table.take(pc.sort_indices(keys, [("p", "ascending"), ("id", "ascending")]))


def _with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string."""
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def month_bounds(ts_us: int) -> tuple[int, int, str]:
    """The calendar month holding ``ts_us``: [start, end) in microseconds and a partition suffix."""
    d = datetime.fromtimestamp(ts_us // 1_000_000, UTC)
    start = datetime(d.year, d.month, 1, tzinfo=UTC)
    end = datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()) * 1_000_000, int(end.timestamp()) * 1_000_000, f"{d.year:04d}{d.month:02d}"


class PostgresStore(SqlStoreBase):
    """Events, rollups, keys and metadata in one PostgreSQL schema, shared by many processes."""

    dialect = POSTGRESQL
    migrations = MIGRATIONS
    meta_ddl = "CREATE TABLE IF NOT EXISTS openusage_meta (name TEXT PRIMARY KEY, value TEXT)"
    upgrade_errors = (psycopg.DatabaseError,)
    rollup_tables = PG_ROLLUPS
    """The day rollup (:data:`ROLLUP_DIMS`); the costs scan reads :meth:`rollups_for` its dimensions."""
    analyze_after_rows = ANALYZE_AFTER_ROWS
    vacuum_max_s = VACUUM_MAX_S
    """Seconds a vacuum of a rollup may run before it is cancelled (see :data:`VACUUM_MAX_S`)."""
    """Rows of a table compaction folds before it analyzes the table (see :data:`ANALYZE_AFTER_ROWS`)."""

    def __init__(self, url: str, *, schema: str = "public", rollups: bool = True,
                 retention_days: int | None = None, pool_max: int = 8, writers: int | None = None) -> None:
        if not schema.isidentifier():
            raise ValueError(f"not a schema name: {schema!r}")
        if writers is None:  # the default, leaving a connection to the readers where the pool has two
            writers = max(1, min(WRITERS, pool_max - 1))
        if not 1 <= writers <= pool_max:
            raise ValueError(f"writers must be at least 1 and at most pool_max ({pool_max}), not {writers}")
        self.writer_threads = writers
        """Commits a server runs at once (:class:`.writer.Writer`, the ``writers`` option): concurrent inserts
        are safe here (ids are deduplicated under the unique index's row locks, rollup rows are locked in key
        order), so the next commit need not wait for the one running (see :data:`WRITERS`)."""
        # The schema is part of which store this is: two schemas of one database are two stores (their
        # own keys, their own rate-limit namespace in a shared Redis), and ``open_store(store.url)``
        # opens this one again.
        self.url = redact(url if schema == "public" else _with_query(url, schema=schema))
        self.schema = schema
        self.rollups = rollups
        self.retention_days = retention_days
        self._partitions: set[str] = set()
        self._recreate_lock = threading.Lock()
        self._compacted_at = time.monotonic()
        self._analyze_due: set[str] = set()
        """Rollups compaction folded enough rows of to analyze (see :meth:`_analyze_rollups`)."""
        self._maintenance: threading.Thread | None = None
        self._maintenance_lock = threading.Lock()
        self._days_checked_at = -FOLD_EVERY_S
        """When :meth:`maintain` last looked for days to fold (monotonic seconds)."""
        self._fold_lock = f"openusage-fold:{schema}"
        """The advisory lock space of :meth:`fold_days` (one lock per day)."""
        self._folded: dict[str, int] = {}
        """Per table: events this process's inserts added into it and rows its compaction folded, since
        it last analyzed the table (inserts merge into existing rows: the table's row count alone
        would not say the statistics are stale)."""
        # A short wait for a connection: with the database down, each request fails fast with a 503
        # instead of holding a worker thread for psycopg's default 30 s.
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_max, open=True, timeout=5,
                                    kwargs={"options": f"-c search_path={schema} {SESSION}", "connect_timeout": 5},
                                    configure=self._configure)
        self._pool.wait(timeout=30)

    def rollups_for(self, dims: set[str]) -> tuple[tuple[str, int], ...]:
        """The rollup levels keeping every one of ``dims`` (none: raw events), as aggregations pick them."""
        return pick_rollups(dims, PG_QUERY_SETS) if self.rollups else ()

    def _configure(self, conn: psycopg.Connection) -> None:
        conn.autocommit = True  # transactions are explicit: conn.transaction()

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        with self._pool.connection() as conn:
            yield conn

    # -- schema --------------------------------------------------------------------------------
    def _recovering(self, fn: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run ``fn``; if its tables are gone (schema or database dropped and recreated under this
        process), recreate them once and run it again instead of failing every request from then on."""
        try:
            return fn(*args, **kwargs)
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
            with self._recreate_lock:
                log.warning("the tables of schema %s are missing (dropped under a running server?): "
                            "recreating them", self.schema)
                self._partitions.clear()
                try:
                    self.migrate()
                except (psycopg.Error, StoreUpgradeError) as exc:  # an outage to report (503), not a bug
                    raise psycopg.OperationalError(f"the tables of schema {self.schema} are missing and "
                                                   f"cannot be recreated: {exc}") from exc
            return fn(*args, **kwargs)

    def describe(self) -> str:
        return f"the store in schema {self.schema}"

    @contextmanager
    def _migrating(self) -> Iterator[Connection]:
        """One connection in one transaction, under an advisory lock (workers may start together); each
        upgrade runs in a savepoint of it."""
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('openusage-migrate:' || %s))", [self.schema])
            conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(self.schema)))
            yield DbApiConnection(conn, POSTGRESQL, conn.transaction)

    def _write(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(sql, list(args))
            return cur.fetchall() if cur.description else []

    def _ensure_partitions(self, days: list[int]) -> None:
        """Create the monthly partitions events of these days (:func:`event_days`) need, each in its own
        short transaction."""
        months: dict[str, tuple[int, int]] = {}
        for day in days:
            lo, hi, suffix = month_bounds(day * DAY_US)
            if suffix not in self._partitions:
                months[suffix] = (lo, hi)
        for suffix, (lo, hi) in sorted(months.items()):
            name = pgsql.Identifier(f"events_p{suffix}")
            stmt = pgsql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ({}) TO ({})").format(
                name, pgsql.Literal(lo), pgsql.Literal(hi))
            for attempt in range(5):
                try:
                    with self._conn() as conn, conn.transaction():
                        conn.execute(stmt)
                    break
                except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
                    if attempt == 4:  # another worker created it at the same moment: it exists now
                        raise
                    time.sleep(0.05)
            self._partitions.add(suffix)

    # -- events --------------------------------------------------------------------------------
    def insert(self, batches: list[EventBatch]) -> list[int]:
        """All batches in one transaction; each batch's count of ids new to the database."""
        return self._recovering(self._insert, [b.to_arrow() for b in batches])

    def _insert(self, tables: list[pa.Table]) -> list[int]:
        days = event_days(tables)
        self._ensure_partitions(days)
        relisted = False
        for attempt in range(5):
            try:
                counts = self._insert_once(tables, days)
                break
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                if attempt == 4:
                    raise
                time.sleep(0.01 * (attempt + 1))
            except psycopg.errors.CheckViolation:
                # "no partition of relation events found for row": another worker's retention dropped
                # a month this one still lists (a late event for it). Forget the list, create what the
                # rows need and go again, once (events have no CHECK of their own to violate).
                if relisted:
                    raise
                relisted = True
                self._partitions.clear()
                self._ensure_partitions(days)
        for table, _ in COMPACTED:
            self._folded[table] = self._folded.get(table, 0) + sum(counts)
        self._maybe_prune()
        self._maybe_compact()
        return counts

    def _insert_once(self, tables: list[pa.Table], days: list[int]) -> list[int]:
        """COPY every batch (numbered) into a temporary table, then store it with one statement; ``days``
        are the batches' (:func:`event_days`)."""
        counts = [0] * len(tables)
        if not any(t.num_rows for t in tables):
            return counts
        buf = io.BytesIO()
        pacsv.write_csv(key_order(first_copies(tables)), buf, _CSV)
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS incoming_seq (LIKE events, seq INT NOT NULL) "
                        "ON COMMIT DELETE ROWS")
            # The temporary table has no statistics: without these the planner sorts both sides of
            # the join with the new ids (merge join), or loops over one of them (nested loop).
            cur.execute("SELECT set_config('enable_mergejoin', 'off', true), "
                        "set_config('enable_nestloop', 'off', true)")
            with cur.copy(f"COPY incoming_seq ({_COLUMNS}, seq) FROM STDIN (FORMAT csv)") as copy:
                copy.write(buf.getbuffer())
            # a fold of one of these days waits for this commit, or this statement sees it (and adds
            # the day's events into the history too): see fold_days
            cur.execute("SELECT count(pg_advisory_xact_lock_shared(hashtext(%s), d)) FROM unnest(%s::int[]) AS d",
                        [self._fold_lock, days])
            cur.execute(f"SELECT EXISTS (SELECT 1 FROM {FOLDED} WHERE folded AND day = ANY(%s))",
                        [[d * DAY_US for d in days]])
            row = cur.fetchone()
            cur.execute(INSERT_LATE_SQL if row and row[0] else INSERT_SQL)
            for seq, added in cur.fetchall():
                counts[seq] = int(added)
        return counts

    def aggregate(self, agg: Aggregate) -> pa.Table:
        sets = PG_QUERY_SETS if self.rollups else ()
        sql, args = aggregate_sql(agg, INT64_SUMS, sets=sets)
        try:
            return self._recovering(self._arrow, agg, sql, args)
        except psycopg.errors.NumericValueOutOfRange:  # a sum at or past 2**53: sum in numeric
            sql, args = aggregate_sql(agg, POSTGRESQL, sets=sets)
            names, rows = self._recovering(self._query, sql, args)
            return from_rows(agg, names, rows)

    def _arrow(self, agg: Aggregate, sql: str, args: list[Any]) -> pa.Table:
        """The answer of :data:`INT64_SUMS`' statement as CSV through ``COPY``, parsed by Arrow.

        Its columns are :func:`result_schema`'s, in that order, every counter a ``bigint``.  A cursor
        would make a Python object of every value (150,000 groups with 17 counters: 2.5 million),
        which takes longer than the query itself; Arrow parses the text in C++."""
        buf = io.BytesIO()
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            sql = self._unfolded(cur, sql)
            if groups_like_rows(agg):
                cur.execute("SET LOCAL enable_hashagg = off")
            with cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", args) as copy:
                for data in copy:
                    buf.write(data)
        schema = result_schema(agg)
        if not buf.tell():
            return schema.empty_table()
        convert = pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True, null_values=[""],
                                       quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"])
        names = pacsv.ReadOptions(column_names=schema.names)
        return pacsv.read_csv(pa.BufferReader(buf.getvalue()), read_options=names, parse_options=_CSV_ANSWER,
                              convert_options=convert)

    def _query(self, sql: str, args: list[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._conn() as conn, conn.cursor() as cur:
            if UNFOLDED not in sql:  # one statement, no transaction around it (autocommit)
                cur.execute(sql, args)
                return [c.name for c in cur.description or []], cur.fetchall()
            with conn.transaction():
                cur.execute(self._unfolded(cur, sql), args)
                return [c.name for c in cur.description or []], cur.fetchall()

    @staticmethod
    def _unfolded(cur: psycopg.Cursor[Any], sql: str) -> str:
        """``sql`` reading only the raw events of the days not folded into :data:`HISTORY` where it reads
        :data:`HISTORY_READ`, those days read in this transaction, which must be new: it reads them and
        the statement in one snapshot (repeatable read), so a day folded in between is read from the
        history or raw, never both."""
        if UNFOLDED not in sql:
            return sql
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute(f"SELECT day FROM {FOLDED} WHERE folded ORDER BY day")
        return sql.replace(UNFOLDED, unfolded_ranges(0, FOREVER_US, [int(d) for d, in cur.fetchall()]))

    def statement(self, agg: Aggregate) -> tuple[str, list[Any]]:
        """The SQL and arguments :meth:`aggregate` runs for ``agg`` now (benchmarks run it alone)."""
        sql, args = aggregate_sql(agg, INT64_SUMS, sets=PG_QUERY_SETS if self.rollups else ())
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            return self._unfolded(cur, sql), args

    def execute(self, sql: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run read-only SQL (benchmarks compare the API with the raw engine)."""
        return self._recovering(self._query, sql, args or [])[1]

    def _events(self, sql: str, args: list[Any]) -> pa.Table:
        rows = self.execute(sql, args)
        return pa.Table.from_pylist([dict(zip(SCHEMA.names, r, strict=True)) for r in rows], schema=SCHEMA)

    # -- retention -----------------------------------------------------------------------------
    def _maybe_compact(self) -> None:
        """Fold loose rows at most every :data:`COMPACT_EVERY_S`; the maintenance that round calls for
        (index summaries, statistics, vacuum) runs on a thread of its own, off the inserting thread."""
        if time.monotonic() - self._compacted_at < COMPACT_EVERY_S:
            return
        self._compacted_at = time.monotonic()
        try:
            _, won = self._fold(rounds=1)
        except psycopg.Error as exc:  # compaction is housekeeping: the insert itself has committed
            log.warning("rollup compaction failed (it will be retried): %s", exc)
            return
        if won:
            self._maintain_later()

    def compact(self, rounds: int | None = None) -> int:
        """Fold each rollup's loose rows into one row per group and period, then (if this worker folded)
        :meth:`maintain` the tables.

        Readers sum whatever rows there are, so this only makes reads cheaper; it is safe while
        other workers insert, read or compact (see :func:`compact_sql`).  One worker at a time folds
        (the others skip).  ``rounds=None`` goes on until no loose rows are left; returns how
        many rows were folded away.
        """
        folded, won = self._fold(rounds)
        if won:
            self.maintain()
        return folded

    def _fold(self, rounds: int | None) -> tuple[int, bool]:
        """Compaction's transactions: rows folded away, and whether this worker held the compaction lock.
        Nothing else runs in them, so they hold no lock past their folds (see :meth:`maintain`)."""
        folded = 0
        won = False
        while rounds is None or rounds > 0:
            busy = False
            with self._conn() as conn, conn.transaction():
                row = conn.execute("SELECT pg_try_advisory_xact_lock(hashtext('openusage-compact:' || %s))",
                                   [self.schema]).fetchone()
                if not row or not row[0]:
                    return folded, won
                won = True
                for table, dims in COMPACTED:
                    moved, kept = conn.execute(compact_sql(table, dims=dims)).fetchone() or (0, 0)
                    busy = busy or moved > 0
                    folded += moved - kept
                    self._folded[table] = self._folded.get(table, 0) + moved
                    if self._folded[table] >= self.analyze_after_rows:
                        self._analyze_due.add(table)
                        self._folded[table] = 0
            if not busy:
                break
            if rounds is not None:
                rounds -= 1
        return folded, won

    def maintain(self) -> None:
        """Summarize the raw events' new index ranges, analyze what changed, vacuum the rollups: each
        statement its own short transaction (a lock taken inside compaction's transaction would last
        until it commits, and a retention ``DROP TABLE`` of a partition would wait behind it)."""
        self._maintain_events()
        if time.monotonic() - self._days_checked_at >= FOLD_EVERY_S:  # a day closes once a day
            self._days_checked_at = time.monotonic()
            self.fold_days()
        self._analyze_rollups()
        self._vacuum()

    def fold_days(self, max_s: float | None = FOLD_MAX_S, now: float | None = None) -> int:
        """Fold the raw events of each day that ended :data:`FOLD_AFTER_S` ago into :data:`HISTORY`, once,
        oldest first, for :attr:`max_s` seconds at most (None: every such day); answers the days folded.

        Day queries by user and another dimension than the project read :data:`HISTORY_READ`: without
        this, the raw events of every day in their range (2.5 s at 1M events, 32 s at 10M for 150,000
        groups over 30 days); with it, a folded day's rows by every dimension.  The raw events stay
        (minute and hour queries read them, retention prunes them), so the read leaves them out for a
        folded day (:meth:`_unfolded`).  A day whose events are fewer than
        :data:`FOLD_MIN_EVENTS_PER_GROUP` times its groups is left raw and recorded as such.

        Each day is one transaction holding its day's advisory lock exclusively: an insert holds the lock
        of each day it stores events of (shared) before its statement, so either the fold waits for its
        commit and counts its events, or its statement runs after the fold's commit and adds its events
        for that day into the history too (the ``late`` rows of :func:`insert_sql`).  Folds and retention
        (which folds the days it prunes unless folded) take turns on the prune lock: a fold skips its round
        while retention holds it, retention waits for the day being folded (seconds: 2 s for a day of
        333,000 events here); only days retention keeps another day are folded."""
        if not self.rollups:
            return 0
        now = time.time() if now is None else now
        bound = int((now - FOLD_AFTER_S) * 1_000_000)
        lowest = 0 if self.retention_days is None else int((now - (self.retention_days - 1) * 86400) * 1_000_000)
        deadline = None if max_s is None else time.monotonic() + max_s
        done = 0
        with self._conn() as conn:
            days = conn.execute(f"SELECT DISTINCT ts_us FROM summary_1d WHERE ts_us + {DAY_US} <= %s "
                                f"AND ts_us >= %s AND ts_us NOT IN (SELECT day FROM {FOLDED}) ORDER BY ts_us",
                                [bound, lowest]).fetchall()
            for (day,) in days:
                if deadline is not None and time.monotonic() > deadline:
                    break
                with conn.transaction():
                    row = conn.execute("SELECT pg_try_advisory_xact_lock(hashtext('openusage-prune:' || %s))",
                                       [self.schema]).fetchone()
                    if not row or not row[0]:
                        break  # retention runs: the next round goes on
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s), %s)", [self._fold_lock, day // DAY_US])
                    if conn.execute(f"SELECT 1 FROM {FOLDED} WHERE day = %s", [day]).fetchone():
                        continue  # another worker folded it
                    done += self._fold_day(conn, int(day))
        return done

    def _fold_day(self, conn: psycopg.Connection, day: int) -> int:
        """Fold ``day``'s raw events into :data:`HISTORY` if they aggregate, in the caller's transaction."""
        source = f"(SELECT * FROM events WHERE ts_us >= {day} AND ts_us < {day + DAY_US}) AS day_events"
        row = conn.execute(f"SELECT count(*) FROM {source}").fetchone()
        events = int(row[0]) if row else 0
        folds = False
        groups = 0
        if events:
            with conn.transaction():  # a savepoint: taken back (psycopg.Rollback) if the day does not aggregate
                row = conn.execute(f"WITH f AS ({history_fold_sql(source)} RETURNING 1) "
                                   "SELECT count(*) FROM f").fetchone()
                groups = int(row[0]) if row else 0
                folds = events >= FOLD_MIN_EVENTS_PER_GROUP * groups
                if not folds:
                    raise psycopg.Rollback()
        conn.execute(f"INSERT INTO {FOLDED} (day, folded) VALUES (%s, %s)", [day, folds])
        if folds:
            self._analyze_due.add(HISTORY)
            log.info("folded the %d events of %s into %d rows of %s", events,
                     datetime.fromtimestamp(day // 1_000_000, UTC).date(), groups, HISTORY)
        return int(folds)

    def _maintain_later(self) -> None:
        """Run :meth:`maintain` on a thread of this store's, unless one still runs."""
        with self._maintenance_lock:
            if self._maintenance is not None and self._maintenance.is_alive():
                return
            self._maintenance = threading.Thread(target=self._maintain_quietly, name="openusage-pg-maintenance",
                                                 daemon=True)
            self._maintenance.start()

    def _maintain_quietly(self) -> None:
        try:
            self.maintain()
        except psycopg.Error as exc:  # housekeeping: the next round retries
            log.warning("rollup maintenance failed (it will be retried): %s", exc)

    def _analyze_rollups(self) -> None:
        """Analyze the rollups compaction folded :attr:`analyze_after_rows` rows of (see
        :data:`ANALYZE_AFTER_ROWS`); one held by a vacuum is left for the next round."""
        due = sorted(self._analyze_due)
        if not due:
            return
        with self._conn() as conn, self._lock_timeout(conn, MAINTAIN_LOCK_TIMEOUT):
            for table in due:
                try:
                    conn.execute(pgsql.SQL("ANALYZE {}").format(pgsql.Identifier(table)))
                    self._analyze_due.discard(table)
                except psycopg.errors.LockNotAvailable:
                    log.debug("analyze of %s skipped this round: it is locked", table)

    @staticmethod
    @contextmanager
    def _lock_timeout(conn: psycopg.Connection, seconds: float, statement_s: float | None = None) -> Iterator[None]:
        """Bound this (autocommit) session's waits for a lock, and with ``statement_s`` each statement's time."""
        conn.execute(f"SET lock_timeout = '{int(seconds * 1000)}ms'")
        if statement_s is not None:
            conn.execute(f"SET statement_timeout = '{int(statement_s * 1000)}ms'")
        try:
            yield
        finally:
            conn.execute("RESET lock_timeout")
            conn.execute("RESET statement_timeout")

    def _vacuum(self) -> None:
        """Vacuum the rollups whose dead row versions passed :data:`VACUUM_DEAD_ROWS` plus
        :data:`VACUUM_DEAD_SHARE` of their live rows, as autovacuum would: inserts merge into their rows,
        so every insert leaves a dead version of each group it adds to.  Autovacuum may be off, or busy
        with other databases for hours (its 3 workers): this evening's soak store, with autovacuum off,
        held 366,000 dead versions beside 120,000 rows in ``users_1d`` and 87 times ``summary_1d``'s
        3,000 rows.  Outside any transaction (VACUUM cannot run in one) and, from inserts, on the
        maintenance thread; a table another vacuum holds is skipped after :data:`MAINTAIN_LOCK_TIMEOUT`, and
        a vacuum is cancelled after :attr:`vacuum_max_s` (the next round starts it again)."""
        tables = [t for t, _ in COMPACTED]
        with self._conn() as conn:
            due = conn.execute("SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                               "AND relname = ANY(%s) AND n_dead_tup > %s + %s * n_live_tup",
                               [tables, VACUUM_DEAD_ROWS, VACUUM_DEAD_SHARE]).fetchall()
            if not due:
                return
            with self._lock_timeout(conn, MAINTAIN_LOCK_TIMEOUT, self.vacuum_max_s):
                for (table,) in due:
                    try:
                        conn.execute(pgsql.SQL("VACUUM {}").format(pgsql.Identifier(table)))
                    except psycopg.errors.LockNotAvailable:
                        log.debug("vacuum of %s skipped this round: another vacuum holds it", table)
                    except psycopg.errors.QueryCanceled:
                        log.info("vacuum of %s stopped after %.0f s (it resumes next round)", table,
                                 self.vacuum_max_s)

    def _maintain_events(self) -> None:
        """Keep raw events' BRIN index (see :data:`EVENTS_STORAGE`) usable: summarize the page ranges
        inserts added since the last round (an unsummarized range matches every query, so without this
        each raw read scanned every page added since autovacuum last came round: 170 ms p50 for the soak's
        minute answers at 1.6M events instead of ~15), and analyze a partition no one has yet once it
        holds :attr:`analyze_after_rows` events (without statistics the planner takes the index for
        useless and scans the whole partition).  Each statement is its own transaction, waiting at most
        :data:`MAINTAIN_LOCK_TIMEOUT` for its lock: a vacuum of the partition holds the same lock (maybe
        for minutes), and this is an optimization the next round retries; the other partitions go on."""
        with self._conn() as conn, self._lock_timeout(conn, MAINTAIN_LOCK_TIMEOUT):
            parts = conn.execute(
                "SELECT x.indexrelid::regclass::text, s.relid::regclass::text, s.last_analyze IS NULL AND "
                "s.last_autoanalyze IS NULL AND s.n_live_tup >= %s FROM pg_inherits i JOIN pg_stat_user_tables s "
                "ON s.relid = i.inhrelid JOIN pg_index x ON x.indrelid = i.inhrelid JOIN pg_inherits xi ON "
                "xi.inhrelid = x.indexrelid AND xi.inhparent = 'events_ts'::regclass "
                "WHERE i.inhparent = 'events'::regclass", [self.analyze_after_rows]).fetchall()
            for index, partition, unanalyzed in parts:
                try:
                    conn.execute("SELECT brin_summarize_new_values(%s::regclass)", [index])
                    if unanalyzed:
                        conn.execute(f"ANALYZE {partition}")  # a regclass's text: quoted as needed
                except psycopg.errors.LockNotAvailable:
                    log.debug("raw events' index maintenance skipped %s this round: it is locked", partition)
                except (psycopg.errors.UndefinedTable, psycopg.errors.InternalError_) as exc:
                    # retention dropped the partition since it was listed ("could not open relation")
                    log.debug("raw events' index maintenance skipped %s: %s", partition, exc)

    def prune(self, before_s: int) -> int:
        """Drop raw events before ``before_s`` (rounded down to a minute), moving them into :data:`HISTORY`
        in the same transaction: a crash leaves them raw or in the history, never neither nor both.  The
        rollups and ids stay.  Workers prune one at a time (the others wait); a month partition wholly
        before the cutoff is folded and dropped (:meth:`_fold_and_drop`; when its locks are busy, its rows
        are deleted and folded one by one, as a partial month's are).  Answers how many raw events were
        deleted one by one."""
        cutoff = (before_s * 1_000_000 // MINUTE_US) * MINUTE_US
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('openusage-prune:' || %s))", [self.schema])
            parts = conn.execute(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass").fetchall()
            doomed = [name for name, bound in parts if int(bound.rsplit("(", 1)[1].rstrip(")").strip("'")) <= cutoff]
            for name in doomed:
                if self._fold_and_drop(conn, name):
                    self._partitions.discard(name.removeprefix("events_p"))
            row = conn.execute(PRUNE_SQL, [cutoff]).fetchone()
            return int(row[0]) if row else 0

    def _fold_and_drop(self, conn: psycopg.Connection, name: str) -> bool:
        """Fold the month partition ``name`` into the history and drop it, in a savepoint of the prune's
        transaction: both or neither.  The fold runs under the partition's own SHARE lock, which holds off
        only late writes to that month, so inserts and queries of other months go on however long the fold
        takes; ``events``' exclusive lock, which the drop needs, is then held only for the drop, waited for
        at most :data:`MAINTAIN_LOCK_TIMEOUT`.  When a lock is not had in time the savepoint is rolled back
        (the fold with it) and the partition's rows are left to the prune's row-by-row delete."""
        table = pgsql.Identifier(name)
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{int(MAINTAIN_LOCK_TIMEOUT * 1000)}ms'")
                conn.execute(pgsql.SQL("LOCK TABLE {} IN SHARE MODE").format(table))
                conn.execute("SET LOCAL lock_timeout = DEFAULT")
                conn.execute(history_fold_sql(not_folded(table.as_string(conn))))
                conn.execute(f"SET LOCAL lock_timeout = '{int(MAINTAIN_LOCK_TIMEOUT * 1000)}ms'")
                conn.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
                conn.execute("SET LOCAL lock_timeout = DEFAULT")
                conn.execute(pgsql.SQL("DROP TABLE {}").format(table))
            return True
        except psycopg.errors.LockNotAvailable:
            log.info("retention deletes the rows of %s this round: it or the events table is busy", name)
            return False

    # -- metadata ------------------------------------------------------------------------------
    def get_meta(self, name: str) -> str | None:
        try:
            return super().get_meta(name)
        except (psycopg.errors.DataError, psycopg.errors.UndefinedColumn) as exc:  # not our table: an outage
            raise psycopg.OperationalError(f"schema {self.schema} holds a metadata table that is not "
                                           f"openusage's: {exc}") from exc

    def drop_schema(self) -> None:
        """Remove this store's schema and everything in it (tests use a schema each)."""
        with self._conn() as conn, conn.transaction():
            conn.execute(pgsql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(pgsql.Identifier(self.schema)))

    def close(self) -> None:
        maintenance = self._maintenance
        if maintenance is not None:  # a vacuum is cancelled after vacuum_max_s
            maintenance.join(self.vacuum_max_s + 10)
        self._pool.close()


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore", "month_bounds"]
