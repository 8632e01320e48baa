"""The embedded store: one DuckDB file.

DuckDB allows one writing process; inside it, writes go through the single writer thread of
:class:`openusage.store.writer.Writer` and reads use per-thread cursors.  A commit writes DuckDB's
write-ahead log before it returns, so an acknowledged event survives a crash.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ..ingest.events import SCHEMA, SCHEMA_BEFORE_ORIGIN, EventBatch
from ..spec import DIMENSIONS, PRICING_ONLY_DIMENSIONS
from .base import Aggregate, CommitTooLargeError
from .common import Connection, DbApiConnection, SqlStoreBase
from .result import conform
from .sql import (
    DIMS_BEFORE_ORIGIN,
    DUCKDB,
    MINUTE_US,
    PRICED_SUMMARY_DIMS,
    PRICED_TYPES,
    ROLLUP_TABLE,
    ROLLUPS,
    SUMMARIES,
    SUMMARY_DIMS,
    SUMMARY_DIMS_BEFORE_ORIGIN,
    SUMMED,
    aggregate_sql,
    priced_from_sql,
    priced_summary_rebuild,
    rollup_fields,
    rollup_select_sql,
    uses_only_summary_dims,
)
from .url import machine_memory

log = logging.getLogger("openusage.store")

# A query's answer is read from the executed statement's pending result, not through a relation
# (``con.sql``), which binds the statement once more to learn its columns before running it: on the
# costs statement (8 KB of SQL) that is 71 ms against 51 ms a page on a small store.  Answers are
# pages (bounded), so the one extra Arrow copy this path makes, which DuckDB warns about, is cheap.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)


def _answer(cur: duckdb.DuckDBPyConnection, sql: str, args: list[Any]) -> pa.Table:
    """The rows of one read-only statement, as Arrow (see above why not ``cur.sql``)."""
    cur.execute(sql, args)
    return cur.to_arrow_table()


_ARROW_TO_SQL = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN",
    pa.float64(): "DOUBLE",
}


def _column_type(kind: pa.DataType) -> str:
    if pa.types.is_decimal(kind):
        return f"DECIMAL({kind.precision}, {kind.scale})"
    return _ARROW_TO_SQL[kind]


PROJECT_KEY = "project_key"
"""A column after the events' own: ``project_id`` or '' (ids are unique per project)."""


def events_ddl(table: str = "events", per_project: bool = True, schema: pa.Schema = SCHEMA) -> str:
    """The events table; ``per_project=False`` is the 0.1.0 shape (ids unique across projects); ``schema``
    the columns of the events (the migrations before ``origin`` make :data:`SCHEMA_BEFORE_ORIGIN`)."""
    cols = [f"{f.name} {_column_type(f.type)}" for f in schema]
    cols[1] = "type VARCHAR NOT NULL"
    cols[2] = "ts_us BIGINT NOT NULL"
    if not per_project:
        cols[0] = "id VARCHAR PRIMARY KEY"
        return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})"
    cols[0] = "id VARCHAR NOT NULL"
    cols += [f"{PROJECT_KEY} VARCHAR NOT NULL", f"PRIMARY KEY ({PROJECT_KEY}, id)"]
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})"


def rollup_ddl(table: str = ROLLUP_TABLE, wide: bool = True, dims: tuple[str, ...] | None = None,
               schema: pa.Schema = SCHEMA) -> str:
    """Partial aggregates: the events' columns (``ts_us`` = period start; ``dims`` only, if given) and a count."""
    cols = ["type VARCHAR NOT NULL", "ts_us BIGINT NOT NULL"]
    cols += [f"{f.name} {'HUGEINT' if wide and f.name in SUMMED else _column_type(f.type)}"
             for f in rollup_fields(schema, dims)]
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join([*cols, 'n BIGINT NOT NULL'])})"


def summaries_priced() -> list[str]:
    """Version 12: image quality and container size added to the summaries, and the rows of the types
    storing them rebuilt with them (:func:`.sql.priced_summary_rebuild`): from the rollups of the same
    period where inserts fold into those (they count pruned events too), else from the events the
    summaries hold (every event but the unfolded tail, see :data:`FOLD_SEQ`).  Without the rollups the
    minute rows not folded into the hour and day summaries yet are folded first, so every level holds
    the same events and a rebuilt minute row is folded."""
    state = "coalesce((SELECT max(value) FROM openusage_meta WHERE name = 'rollups'), 'current')"
    priced = f"type IN ({', '.join(repr(t) for t in PRICED_TYPES)})"
    minutes = f"(SELECT * FROM {SUMMARIES[-1][0]} WHERE NOT compacted AND {state} = 'summaries') AS loose"
    stmts = [f"ALTER TABLE {table} ADD COLUMN {dim} VARCHAR"
             for table, _ in SUMMARIES for dim in ("quality", "memory_limit")]
    stmts += [f"INSERT INTO {table} BY NAME {rollup_select_sql(DUCKDB, minutes, width, PRICED_SUMMARY_DIMS, 'SUM(n)')}"
              for table, width in SUMMARIES[:-1]]
    stmts += [f"UPDATE {SUMMARIES[-1][0]} SET compacted = true WHERE NOT compacted AND {state} = 'summaries'",
              "DROP TABLE IF EXISTS priced_gaps", "CREATE TEMP TABLE priced_gaps (hi BIGINT)"]
    for (table, width), (rollup, _) in zip(SUMMARIES, ROLLUPS, strict=True):
        sources = [(f"(SELECT * FROM {rollup} WHERE {priced} AND {state} = 'current') AS r", "SUM(n)"),
                   (f"(SELECT * FROM events WHERE {priced} AND {state} <> 'current' AND (commit_seq IS NULL "
                    "OR commit_seq <= (SELECT max(seq) FROM summary_fold))) AS e", "count(*)")]
        stmts += priced_summary_rebuild(DUCKDB, table, width, sources)
    return [*stmts, priced_from_sql(DUCKDB), "DROP TABLE priced_gaps"]


META_DDL = "CREATE TABLE IF NOT EXISTS openusage_meta (name VARCHAR PRIMARY KEY, value VARCHAR)"
OLD, OLD_SUMMARY = SCHEMA_BEFORE_ORIGIN, SUMMARY_DIMS_BEFORE_ORIGIN
MIGRATIONS: list[list[str]] = [
    # version 1
    [
        META_DDL,
        events_ddl(per_project=False, schema=OLD),
        "CREATE TABLE IF NOT EXISTS api_keys (key_id VARCHAR PRIMARY KEY, name VARCHAR, scope VARCHAR NOT NULL,"
        " projects VARCHAR, salt VARCHAR NOT NULL, hash VARCHAR NOT NULL, created_at BIGINT NOT NULL,"
        " revoked_at BIGINT, last_used_at BIGINT)",
    ],
    # version 2: per-minute rollups, maintained on insert, backfilled from existing events
    [rollup_ddl(wide=False, schema=OLD),
     f"INSERT INTO {ROLLUP_TABLE} {rollup_select_sql(DUCKDB, 'events', dims=DIMS_BEFORE_ORIGIN)}"],
    # version 3: per-hour and per-day rollups, so long ranges read a row per group and hour or day
    [stmt for table, width in ROLLUPS if table != ROLLUP_TABLE
     for stmt in (rollup_ddl(table, wide=False, schema=OLD),
                  f"INSERT INTO {table} {rollup_select_sql(DUCKDB, 'events', width, DIMS_BEFORE_ORIGIN)}")],
    # version 4: rollup sums in 128 bits (two events at the per-event bound overflow 64)
    [f"ALTER TABLE {table} ALTER COLUMN {m} TYPE HUGEINT" for table, _ in ROLLUPS for m in SUMMED],
    # version 5: ids unique per project, as CloudEvents deduplicates per source and id
    [events_ddl("events_v5", schema=OLD), "INSERT INTO events_v5 SELECT *, coalesce(project_id, '') FROM events",
     "DROP TABLE events", "ALTER TABLE events_v5 RENAME TO events"],
    # version 6: summaries, rollups without the free-form ids (see sql.SUMMARIES), filled from the rollups
    [stmt for (table, width), (source, _) in zip(SUMMARIES, ROLLUPS, strict=True)
     for stmt in (rollup_ddl(table, dims=OLD_SUMMARY, schema=OLD), f"DELETE FROM {table}",
                  f"INSERT INTO {table} {rollup_select_sql(DUCKDB, source, width, OLD_SUMMARY, 'SUM(n)')}")],
    # version 7: rollup rows are compacted (see DuckDBStore.compact); rows appended per insert are not yet
    [f"ALTER TABLE {table} ADD COLUMN compacted BOOLEAN DEFAULT false" for table, _ in (*ROLLUPS, *SUMMARIES)],
    # version 8: where each event entered (see spec.ORIGINS); everything stored before came through ingestion
    # (no column default: every insert names it, and backups keep plain column definitions)
    [stmt for table in ("events", *(t for t, _ in ROLLUPS), *(t for t, _ in SUMMARIES))
     for stmt in (f"ALTER TABLE {table} ADD COLUMN origin VARCHAR", f"UPDATE {table} SET origin = 'ingest'")],
    # version 9: dimensions stored for pricing only (spec.PRICING_ONLY_DIMENSIONS: image quality, container
    # size); events stored before have none, priced at the model's default quality and the 1g container
    [f"ALTER TABLE {table} ADD COLUMN {dim} VARCHAR" for table in ("events", *(t for t, _ in ROLLUPS))
     for dim in PRICING_ONLY_DIMENSIONS],
    # version 10: the price rows costs pages join, per price set (see openusage.pricing.price_table)
    ["CREATE TABLE IF NOT EXISTS price_sets (set_id VARCHAR PRIMARY KEY, created_at BIGINT NOT NULL)",
     "CREATE TABLE IF NOT EXISTS price_rows (set_id VARCHAR NOT NULL, key VARCHAR NOT NULL, lo BIGINT NOT NULL,"
     " hi BIGINT NOT NULL, line_id BIGINT NOT NULL, q INTEGER NOT NULL, PRIMARY KEY (set_id, key, lo, line_id))"],
    # version 11: without the rollups, inserts no longer fold into the minute summary; compaction folds the
    # events of several commits at once (see FOLD_SEQ). Events stored before were folded on insert (NULL).
    ["ALTER TABLE events ADD COLUMN commit_seq BIGINT",
     "CREATE TABLE IF NOT EXISTS summary_fold (seq BIGINT NOT NULL)", "INSERT INTO summary_fold VALUES (0)"],
    # version 12: the summaries keyed by the dimensions stored for pricing only too, so costs pages read
    # them for every type (see summaries_priced)
    summaries_priced(),
]
COMPACT_EVERY_S = 10.0
SUMMARIES_COMPACTED = [(t, SUMMARY_DIMS) for t, _ in SUMMARIES]
COMPACTED = [(t, tuple(DIMENSIONS)) for t, _ in ROLLUPS] + SUMMARIES_COMPACTED
"""Every table compaction folds, with its dimensions."""


def summary_inserts(source: str, levels: tuple[tuple[str, int], ...] = SUMMARIES) -> list[str]:
    """The statements folding the events of ``source`` into the summary tables ``levels``."""
    return [f"INSERT INTO {table} BY NAME {rollup_select_sql(DUCKDB, source, width, SUMMARY_DIMS)}"
            for table, width in levels]


MINUTE_SUMMARY = SUMMARIES[-1]
"""Without the rollups, compaction folds the events of the commits since its last round into this summary
(one statement for many commits: a statement costs a few ms however few its rows), then its new rows
into the coarser summaries (see :func:`summary_levels`)."""
LOOSE_MINUTES = f"SELECT * FROM {MINUTE_SUMMARY[0]} WHERE NOT compacted"
"""The minute summary's rows not yet folded into the coarser summaries (when inserts skip the rollups)."""
FOLD_SEQ = "SELECT seq FROM summary_fold"
"""Without the rollups, each commit numbers its events (``commit_seq``, increasing); the summaries hold
every event whose number is at most this one, and queries add the others (the unfolded tail) from the
events.  Compaction folds the tail and moves the number in one transaction, and a query reads the
number and the tables in one transaction: every event counted exactly once."""
FOLD_EVERY_ROWS = 20_000
"""Unfolded events at most before an insert folds them into the minute summary without waiting for
:data:`COMPACT_EVERY_S`: every summary query aggregates them too (72,000 of them added 10-40 ms to a
soak query, 19,200 at most about 3 ms), so they stay few whatever the ingest rate, while one statement
per 20,000 events costs far less than one per commit."""


SLICE_MEMORY_PER_ROW = 32 * 1024
"""Bytes of ``memory_limit`` per row one maintenance transaction folds (see
:attr:`DuckDBStore.slice_rows`): events into the minute summary, loose rows of a summary or rollup
into compacted ones.  What a transaction writes is held in memory until it commits, so a backfill
folded at once failed at the configured ``memory_limit`` (at 64 MiB, 50,000 loose minute rows already
did) and kept failing every round after.  Measured at 64 MiB with 200,000 groups in one minute:
slices of 3,000 rows fold, of 5,000 do not; this bound gives 2,048 there, 8,192 at 256 MiB."""
MIN_SLICE_ROWS = 1000


def unfolded(seq: int) -> str:
    """The events the summaries do not hold yet (numbered after ``seq``)."""
    return f"(SELECT * FROM events WHERE commit_seq > {int(seq)}) AS tail"


Slice = tuple[int, int, int, int]
"""Part of a table's loose rows one transaction folds: its ``ts_us`` from first to last, and of the groups
in it those whose hash leaves ``part`` modulo ``parts`` (a period too big for one transaction, its groups
split; every row of a group and period stays in the same part)."""


def slices(counts: list[tuple[int, int]], bound: int) -> list[tuple[int, int, int]]:
    """``counts`` (key, rows), in key order, packed into (first key, last key, parts) ranges of at most
    ``bound`` rows each; a key holding more rows than the bound is a range of its own, to be split in
    ``parts`` hash partitions (1 for the others)."""
    out: list[tuple[int, int, int]] = []
    first = last = None
    rows = 0
    for key, n in counts:
        if first is not None and rows + n > bound:
            out.append((first, last, 1))  # type: ignore[arg-type]
            first, rows = None, 0
        if n > bound:
            out.append((key, key, -(-n // bound)))
            continue
        if first is None:
            first = key
        last, rows = key, rows + n
    if first is not None:
        out.append((first, last, 1))  # type: ignore[arg-type]
    return out


def group_hash(dims: tuple[str, ...]) -> str:
    """A row's group and period as one hash (nulls included), to pick or split a table's groups."""
    return f"hash({', '.join(('type', 'ts_us', *dims))})"


def loose_rows(dims: tuple[str, ...], within: Slice | None = None) -> str:
    """The condition on a table's loose rows (of the slice ``within``, when given)."""
    if within is None:
        return "NOT compacted"
    lo, hi, parts, part = within
    cond = f"NOT compacted AND ts_us BETWEEN {int(lo)} AND {int(hi)}"
    return cond if parts == 1 else f"{cond} AND {group_hash(dims)} % {int(parts)} = {int(part)}"


def summary_levels(seq: int, tail: bool = True, loose: bool = True) -> tuple[tuple[str, int], ...]:
    """What queries read as each summary when inserts skip the rollups: the summary, the minute rows
    compaction has not folded into an hour or day summary yet (``loose``: there may be some), and the
    events not folded into the minute summary yet (numbered after ``seq``; ``tail``: there may be some),
    so every event is counted exactly once.  A part known empty is left out: the planner's work on the
    union (several milliseconds, most of a small page's time) is then not done."""
    levels = []
    for table, width in SUMMARIES:
        parts = [f"SELECT * FROM {table}"]
        if loose and table != MINUTE_SUMMARY[0]:
            parts.append(LOOSE_MINUTES)
        if tail:
            parts.append(rollup_select_sql(DUCKDB, unfolded(seq), width, SUMMARY_DIMS))
        levels.append((table if len(parts) == 1 else f"({' UNION ALL BY NAME '.join(parts)}) AS {table}", width))
    return tuple(levels)


def _compacted_rows(table: str, dims: tuple[str, ...], within: Slice | None = None) -> str:
    """The rows one compaction round (or its slice ``within``) folds in ``table``: its loose rows and, in a
    summary, every row of the groups and periods they fall in.

    A rollup by every dimension holds about a row per event with thousands of users, so a round
    folds only what was appended since the last one (a group keeps a row per round that saw it). A
    summary holds at most a row per project, model and the like per period, so rewriting the groups
    a round touches in each period keeps one row per group and period: otherwise an hour or day
    summary would gain a row per group every round (8,640 rounds a day at 10 s).
    """
    loose = loose_rows(dims, within)
    if dims != SUMMARY_DIMS:
        return loose
    key = group_hash(dims)
    near = "" if within is None else f"ts_us BETWEEN {int(within[0])} AND {int(within[1])} AND "
    return f"{near}{key} IN (SELECT {key} FROM {table} WHERE {loose})"


def rollup_inserts(source: str) -> list[str]:
    """The statements folding the events of ``source`` into every rollup and summary table."""
    return [*(f"INSERT INTO {table} BY NAME {rollup_select_sql(DUCKDB, source, width)}" for table, width in ROLLUPS),
            *summary_inserts(source)]
SCHEMA_VERSION = len(MIGRATIONS)
INSERT_NEW = "INSERT INTO events BY NAME SELECT *, coalesce(project_id, '') AS project_key FROM tbl RETURNING NULL"
"""The insert of events expected new (a duplicate fails it whole), from the Arrow table ``tbl`` (with a
``commit_seq`` column when the insert does not fold them: see :data:`FOLD_SEQ`); see
:meth:`DuckDBStore._insert_all_new` for its ``RETURNING``."""


def numbered(tbl: pa.Table, seq: int | None, slice_rows: int, offset: int = 0) -> pa.Table:
    """``tbl`` with its commit's numbers as ``commit_seq`` (the events' column; None: folded by the insert):
    ``seq`` for the commit's first ``slice_rows`` events, one more for each slice after (``offset``: the
    commit's events before ``tbl``), so compaction can fold a huge commit a slice at a time."""
    if seq is None:
        return tbl
    if offset + len(tbl) <= slice_rows:
        return tbl.append_column("commit_seq", pa.repeat(pa.scalar(seq, pa.int64()), len(tbl)))
    numbers = seq + (np.arange(offset, offset + len(tbl), dtype=np.int64) // slice_rows)
    return tbl.append_column("commit_seq", pa.array(numbers, pa.int64()))


def numbers_needed(rows: int, slice_rows: int) -> int:
    """How many commit numbers a commit of ``rows`` events takes (see :func:`numbered`)."""
    return max(1, -(-rows // slice_rows))


COMMIT_MEMORY_SHARE = 2
"""A commit's events may take at most this many times ``memory_limit`` as Arrow columns (about 325 bytes
an event with few fields set): DuckDB holds a commit's rows and their id index in memory as it makes
them durable, and when that fails at the commit itself it invalidates the database (every later
statement refused until a restart).  Measured: 700,000 small events (227 MB) under 64 MiB did that;
153 MB under 64 MiB and 520 MB under 256 MiB went in.  A larger commit is refused before it starts
(:class:`.base.CommitTooLargeError`): nothing stored, the store unharmed."""
COMPACT_BUDGET_S = 1.0
"""Seconds of slices a compaction round an insert triggers may begin (the insert's answer waits for it);
what is left is folded by the rounds at the next inserts."""


@dataclass
class Compaction:
    """What a compaction round did: the rows it folded away, and whether it folded everything."""

    folded: int = 0
    done: bool = True

    def stop(self, deadline: float | None) -> bool:
        """Whether to stop before the next slice (past ``deadline``), marking the round not done."""
        if deadline is not None and time.monotonic() > deadline:
            self.done = False
        return not self.done


CHECKPOINT_THRESHOLD = 256 * 10**6
"""Bytes of write-ahead log at which DuckDB checkpoints, at most (see :func:`checkpoint_threshold`)."""


def checkpoint_threshold(memory_limit: int) -> int:
    """Bytes of write-ahead log before a checkpoint: :data:`CHECKPOINT_THRESHOLD`, or a quarter of the
    memory bound when that is less.  The data written since the last checkpoint stays in memory until
    it (``IN_MEMORY_TABLE`` in ``duckdb_memory()``), beside the id index and the commit in progress:
    at the default 376 MiB with 256 MB between checkpoints, the commit of a million events failed to
    flush and DuckDB invalidated the database (every later statement refused until a restart)."""
    return min(CHECKPOINT_THRESHOLD, max(16 * 10**6, memory_limit // 4))
DEFAULT_MEMORY_SHARE = 64
"""Without ``?memory_limit=``, DuckDB may hold this fraction (1/N) of the machine's memory, within
:data:`DEFAULT_MEMORY_BOUNDS`.  DuckDB's own default (80 %) lets its buffer cache keep every block a
query read, so a server's memory grows with the file (~60 MB per million events in the soak); the OS
page cache keeps the file's blocks anyway, so a small cache costs queries little."""
DEFAULT_MEMORY_BOUNDS = (256 * 2**20, 1024 * 2**20)


def default_memory_limit() -> int:
    """The DuckDB store's memory bound when its URL gives none: a share of this machine's memory."""
    low, high = DEFAULT_MEMORY_BOUNDS
    return max(low, min(high, machine_memory() // DEFAULT_MEMORY_SHARE))


class Rollups(enum.Enum):
    """The embedded store's rollups by every dimension.  Off, ingestion skips folding into them (a third
    of its cost with high-cardinality events) and queries read raw events, or the summaries when they
    neither group nor filter by a user, key or vector store; turning them on again rebuilds them from
    the events (see docs/scale.md).  The summaries (far fewer rows) are kept in every state."""

    OFF = "off"
    """Inserts skip them (the file records ``summaries``); queries read the summaries or raw events."""
    KEPT = "kept"
    """Inserts fold into them; queries read raw events only (to compare the two)."""
    ON = "on"
    """Inserts fold into them and queries read them."""


class DuckDBStore(SqlStoreBase):
    """Events, keys and metadata in one DuckDB database file (or ``:memory:``)."""

    dialect = DUCKDB
    migrations = MIGRATIONS
    meta_ddl = META_DDL
    upgrade_errors = (duckdb.Error,)

    def __init__(self, path: str | os.PathLike[str], read_only: bool = False, *, rollups: bool | None = None,
                 retention_days: int | None = None, memory_limit: int | None = None) -> None:
        self.path = str(path)
        self.memory_limit = default_memory_limit() if memory_limit is None else memory_limit
        """Bytes DuckDB may hold (its buffer cache and the working memory of queries and inserts; beyond it
        queries spill to ``<file>.tmp``): the ``memory_limit`` option, or :func:`default_memory_limit`."""
        self._requested = rollups
        """The ``rollups`` option: ``None`` keeps what the file says; a new file starts without them."""
        self.rollup_state = Rollups.ON if rollups else Rollups.OFF
        """What inserts and queries do with the rollups (settled by :meth:`migrate` from the file)."""
        self.summaries_current = False
        """Whether queries may read the summaries: settled by :meth:`migrate` (a store opened without it,
        read-only say, may hold summaries that inserts skipped, so it reads raw events)."""
        self.retention_days = retention_days
        self.url = f"duckdb:///{self.path}" if self.path != ":memory:" else "duckdb:///:memory:"
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only,
                                       config={"memory_limit": f"{self.memory_limit}B"})
        except duckdb.IOException as exc:
            if "created with a newer version of DuckDB" not in str(exc):
                raise
            raise RuntimeError(
                f"{self.path} was written by a newer DuckDB than the one installed ({duckdb.__version__}): "
                "back it up with the openusage that wrote it (`openusage backup`) and restore the backup "
                "here (`openusage restore`); backups are Parquet, readable by any DuckDB") from None
        if not read_only:
            # Each checkpoint rewrites the id index, whose size grows with the table: at DuckDB's
            # 16 MB default, ingestion into millions of events spends most of its time there.
            # Commits still sync the write-ahead log; a restart replays at most this much of it.
            self._con.execute(f"SET checkpoint_threshold = '{checkpoint_threshold(self.memory_limit)}B'")
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._compacted_at = time.monotonic()
        self._seq: int | None = None
        """The last ``commit_seq`` given to events (read from the file at the first insert)."""
        self._unfolded = 0
        """Events inserted since the last fold into the minute summary (without the rollups)."""
        self._loose_minutes = True
        """Whether the minute summary may hold rows not folded into the hour and day summaries: set before
        a fold commits any, cleared by a whole compaction round (both under the write lock)."""
        self.slice_rows = max(MIN_SLICE_ROWS, self.memory_limit // SLICE_MEMORY_PER_ROW)
        """Rows one maintenance transaction folds at most (see :data:`SLICE_MEMORY_PER_ROW`)."""

    @property
    def maintain_rollups(self) -> bool:
        """Whether inserts fold into the rollups (and compaction folds those rows)."""
        return self.rollup_state is not Rollups.OFF

    @property
    def rollups(self) -> bool:
        """Whether answers come from the rollups, as every store's ``rollups`` says."""
        return self.rollup_state is Rollups.ON

    @rollups.setter
    def rollups(self, read: bool) -> None:
        """Read the rollups or the raw events (tests compare them); rollups that inserts skip stay unread."""
        if self.rollup_state is not Rollups.OFF:
            self.rollup_state = Rollups.ON if read else Rollups.KEPT

    # -- connections ---------------------------------------------------------------------------
    def _reader(self) -> duckdb.DuckDBPyConnection:
        # Read results whole (fetchall): DuckDB 2 refuses new work on a cursor with an unfinished result.
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cur = cur
        return cur

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Statements on the writing connection committed together, or rolled back on any error."""
        con = self._con
        con.execute("BEGIN")
        try:
            yield
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _write(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._write_lock:
            return self._con.execute(sql, list(args)).fetchall()

    # -- schema --------------------------------------------------------------------------------
    def describe(self) -> str:
        return f"the store at {self.path}"

    @contextmanager
    def _migrating(self) -> Iterator[Connection]:
        with self._write_lock:
            yield DbApiConnection(self._con, DUCKDB, self._transaction)

    def _migrated(self, conn: Connection, previous: int) -> None:
        self._sync_rollup_state(conn, new_file=previous == 0)

    def _sync_rollup_state(self, conn: Connection, new_file: bool) -> None:
        """Record whether inserts fold into the rollups; rebuild what was skipped before.

        The file's ``rollups`` entry says what is current: ``current`` (rollups and summaries),
        ``summaries`` (the summaries only) or ``stale`` (neither: files whose inserts skipped both).
        """
        row = conn.rows("SELECT value FROM openusage_meta WHERE name = 'rollups'")
        # Files made before this setting existed kept their rollups current on every insert.
        state = row[0][0] if row else ("new" if new_file else "current")
        if self._requested is None:
            self.rollup_state = Rollups.ON if state == "current" else Rollups.OFF
        if self.retention_days is not None and not self.maintain_rollups:
            raise ValueError("retention_days needs rollups=on: pruned events are only counted in the rollups")
        with conn.transaction():
            if self.maintain_rollups and state != "current":
                self._rebuild(conn, (*ROLLUPS, *SUMMARIES), rollup_inserts("events"))
            elif not self.maintain_rollups and state != "summaries":
                if state == "stale":
                    self._rebuild(conn, SUMMARIES, summary_inserts("events"))
                # every minute row is in the coarser summaries already (inserts or the rebuild put it there)
                conn.execute(f"UPDATE {MINUTE_SUMMARY[0]} SET compacted = true WHERE NOT compacted")
            if state != ("current" if self.maintain_rollups else "summaries"):
                # rebuilt from every event, or folded on every insert so far: the summaries hold them all
                conn.execute("UPDATE summary_fold SET seq = (SELECT coalesce(max(commit_seq), 0) FROM events)")
            conn.put("openusage_meta", "name", {"name": "rollups",
                                                "value": "current" if self.maintain_rollups else "summaries"})
        self.summaries_current = True

    @staticmethod
    def _rebuild(conn: Connection, tables: tuple[tuple[str, int], ...], inserts: list[str]) -> None:
        """Empty ``tables`` and fill them from the events again."""
        for table, _ in tables:
            conn.execute(f"DELETE FROM {table}")
        for stmt in inserts:
            conn.execute(stmt)

    # -- events --------------------------------------------------------------------------------
    def insert(self, batches: list[EventBatch]) -> list[int]:
        """All batches in one transaction; each batch's count of events new to the store.

        The common case (no id seen before) is one plain INSERT of all batches together, several
        times faster than one ``ON CONFLICT`` insert per batch.  A duplicate id makes it fail as a
        whole; then the batches are inserted one by one, skipping known ids, to count them exactly.
        """
        rows = sum(len(b) for b in batches)
        if sum(b.to_arrow().nbytes for b in batches) > COMMIT_MEMORY_SHARE * self.memory_limit:
            raise CommitTooLargeError(rows, self.memory_limit)  # refused before DuckDB can fail at the commit
        with self._write_lock:
            seq = self._next_seq(rows)
            try:
                if rows and self._insert_all_new(batches, seq):
                    counts = [len(b) for b in batches]
                else:
                    counts = self._insert_each(batches, seq)
            except duckdb.OutOfMemoryException:  # rolled back; a plain Out of Memory Error says not what to do
                raise CommitTooLargeError(rows, self.memory_limit) from None
            if seq is not None:  # not folded by the insert itself
                self._unfolded += sum(counts)
        self._maintain()
        return counts

    def _maintain(self) -> None:
        """Prune and compact when due, after an insert has committed: a failure there (out of memory,
        say) is logged, never raised, since the events are stored and their answer must say so; the
        events stay counted (queries add those not folded yet) and the next round tries again."""
        try:
            self._maybe_prune()
            self._maybe_compact()
        except duckdb.Error as exc:
            log.warning("compaction of %s failed, retried at the next round (%s: %s)", self.path,
                        type(exc).__name__, str(exc).splitlines()[0][:200])

    def _next_seq(self, rows: int) -> int | None:
        """The first number of this commit's events (it takes :func:`numbers_needed` of them), or None
        when the insert folds them itself (rollups)."""
        if self.maintain_rollups:
            return None
        first = self._last_seq() + 1
        self._seq = first + numbers_needed(rows, self.slice_rows) - 1
        return first

    def _last_seq(self) -> int:
        """The last number given to a commit's events (read from the file once; the caller holds the lock)."""
        if self._seq is None:
            self._seq = int(self._con.execute("SELECT coalesce(max(commit_seq), 0) FROM events").fetchall()[0][0])
        return self._seq

    # -- compaction ----------------------------------------------------------------------------
    def _maybe_compact(self) -> None:
        if time.monotonic() - self._compacted_at >= COMPACT_EVERY_S:
            self._compacted_at = time.monotonic()
            if not self.compact_round(COMPACT_BUDGET_S).done:  # the rest at the next insert
                self._compacted_at -= COMPACT_EVERY_S
        elif self._unfolded >= FOLD_EVERY_ROWS:  # only the events into the minute summary
            with self._write_lock:
                self._fold_events(time.monotonic() + COMPACT_BUDGET_S)

    def _fold_events(self, deadline: float | None = None) -> bool:
        """Fold the events not folded yet into the minute summary, moving the number saying which those
        are (see :data:`FOLD_SEQ`) with each slice of at most :attr:`slice_rows` events: one transaction
        per slice, so readers see each slice folded or not, never half.  Past ``deadline`` no slice is
        begun; returns whether every event is folded.  The caller holds the write lock."""
        con = self._con
        folded, last = int(con.execute(FOLD_SEQ).fetchall()[0][0]), self._last_seq()
        if last <= folded:
            self._unfolded = 0
            return True
        counts = con.execute("SELECT commit_seq, count(*) FROM events WHERE commit_seq > ? "
                             "GROUP BY commit_seq ORDER BY commit_seq", [folded]).fetchall()
        if counts:
            self._loose_minutes = True  # before the fold commits its minute rows: readers include them
        for _, upto, _ in slices([(int(k), int(n)) for k, n in counts], self.slice_rows):
            if deadline is not None and time.monotonic() > deadline:
                return False
            source = f"(SELECT * FROM events WHERE commit_seq > {folded} AND commit_seq <= {upto}) AS tail"
            with self._transaction():
                con.execute(f"INSERT INTO {MINUTE_SUMMARY[0]} BY NAME "
                            f"{rollup_select_sql(DUCKDB, source, 60, SUMMARY_DIMS)}")
                con.execute("UPDATE summary_fold SET seq = ?", [upto])
            folded = upto
        if folded < last:  # numbers of commits rolled back (or of no event): nothing to fold
            with self._transaction():
                con.execute("UPDATE summary_fold SET seq = ?", [last])
        self._unfolded = 0
        return True

    def compact(self) -> int:
        """One whole compaction round (see :meth:`compact_round`); returns the rows folded away."""
        return self.compact_round().folded

    def compact_round(self, budget_s: float | None = None) -> Compaction:
        """Fold the rollup rows appended since the last compaction into one row per group and period.

        Each insert appends a row per group and period it holds, and readers sum them; without this a
        rollup grows with the number of inserts.  Only the loose rows are read and rewritten, so a
        round costs what was appended since the last one, not the size of the period (rewriting
        whole periods made a busy day's rollup the writer's main work); a group may so keep a
        compacted row per round that saw it.  A summary's touched groups are rewritten whole in each
        period (see :func:`_compacted_rows`).  Without the rollups, inserts fill the minute summary
        only and this round first folds the events of the commits since the last round into the minute
        summary (see :data:`FOLD_SEQ`), then its loose rows into the hour and day summaries.

        The work is done in transactions of at most :attr:`slice_rows` loose rows each (a range of
        periods, or a share of one period's groups), under the write lock: each leaves every event
        counted once, so readers see the rows before or after each slice, and memory stays within
        the store's bound however much arrived since the last round.  With ``budget_s``, no slice is
        begun after that many seconds (an insert waits for the round it triggers), and the result
        says the round is not done; the rows left stay counted and the next round folds them.
        """
        deadline = None if budget_s is None else time.monotonic() + budget_s
        result = Compaction()
        with self._write_lock:
            if not self.maintain_rollups:  # the new events into the minute summary, its new rows further
                if not self._fold_events(deadline):
                    result.done = False
                    return result
                minute = MINUTE_SUMMARY[0]
                for within in self._loose_slices(minute, SUMMARY_DIMS):
                    if result.stop(deadline):
                        return result
                    with self._transaction():
                        minutes = f"(SELECT * FROM {minute} WHERE {loose_rows(SUMMARY_DIMS, within)}) AS loose"
                        for table, width in SUMMARIES[:-1]:
                            select = rollup_select_sql(DUCKDB, minutes, width, SUMMARY_DIMS, "SUM(n)")
                            self._con.execute(f"INSERT INTO {table} BY NAME {select}")
                        result.folded += self._compact_rows(minute, SUMMARY_DIMS, within)
                        for table, width in SUMMARIES[:-1]:  # the rows the slice just added, in their periods
                            step = width * 1_000_000
                            result.folded += self._compact_rows(table, SUMMARY_DIMS,
                                                                (within[0] // step * step, within[1], 1, 0))
            for table, dims in COMPACTED if self.maintain_rollups else SUMMARIES_COMPACTED:
                for within in self._loose_slices(table, dims):  # what is left (the rollups: every insert's rows)
                    if result.stop(deadline):
                        return result
                    with self._transaction():
                        result.folded += self._compact_rows(table, dims, within)
            self._loose_minutes = False  # every minute row folded further, and no fold since (the lock)
        return result

    def _loose_slices(self, table: str, dims: tuple[str, ...]) -> list[Slice]:
        """``table``'s loose rows in slices of at most about :attr:`slice_rows` rows (see :func:`slices`)."""
        counts = self._con.execute(f"SELECT ts_us, count(*) FROM {table} WHERE NOT compacted "
                                   "GROUP BY ts_us ORDER BY ts_us").fetchall()
        packed = slices([(int(t), int(n)) for t, n in counts], self.slice_rows)
        return [(lo, hi, parts, part) for lo, hi, parts in packed for part in range(parts)]

    def _compact_rows(self, table: str, dims: tuple[str, ...], within: Slice | None = None) -> int:
        """Rewrite the rows of ``table`` a round (or its slice ``within``) folds (:func:`_compacted_rows`)
        as one compacted row per group and period, in the caller's transaction; returns the rows folded
        away."""
        con = self._con
        rows = _compacted_rows(table, dims, within)
        loose = f"(SELECT * FROM {table} WHERE {rows}) AS loose"
        con.execute("CREATE OR REPLACE TEMP TABLE compact_rows AS SELECT *, true AS compacted FROM "
                    f"({rollup_select_sql(DUCKDB, loose, 60, dims, 'SUM(n)')})")
        removed = con.execute(f"DELETE FROM {table} WHERE {rows}").fetchall()
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM compact_rows")
        kept = con.execute("SELECT count(*) FROM compact_rows").fetchall()
        con.execute("DROP TABLE compact_rows")
        return int(removed[0][0]) - int(kept[0][0])

    def _insert_all_new(self, batches: list[EventBatch], seq: int | None) -> bool:
        """Insert every event in one statement and commit; False (nothing stored) on a duplicate id.

        ``RETURNING`` makes DuckDB append the rows on one thread, straight into the table: without it, with
        more than one thread, it plans a parallel "batch insert" that stages every row once more before the
        append (about a quarter more instructions per event, measured with callgrind; see
        docs/performance.md).  The returned column is a constant, never read.
        """
        con = self._con
        tbl = numbered(pa.concat_tables([b.to_arrow() for b in batches if len(b)]), seq, self.slice_rows)  # noqa: F841 - replacement scan
        try:
            with self._transaction():
                con.execute(INSERT_NEW)
                for stmt in self._folds("tbl"):
                    con.execute(stmt)
        except duckdb.ConstraintException:
            return False
        return True

    def _insert_each(self, batches: list[EventBatch], seq: int | None) -> list[int]:
        counts: list[int] = []
        con = self._con
        offset = 0  # the commit's events before this batch (numbered in slices: see numbered)
        with self._transaction():
            for batch in batches:
                if not len(batch):
                    counts.append(0)
                    continue
                tbl = numbered(batch.to_arrow(), seq, self.slice_rows, offset)  # noqa: F841 - read by DuckDB's replacement scan
                offset += len(batch)
                fresh = con.sql(  # the new rows only; the rollup insert reads them by name
                    "INSERT INTO events BY NAME SELECT *, coalesce(project_id, '') AS project_key FROM tbl "
                    "ON CONFLICT DO NOTHING RETURNING *").to_arrow_table()
                counts.append(fresh.num_rows)
                for stmt in self._folds("fresh") if fresh.num_rows else ():
                    con.execute(stmt)
        return counts

    def _folds(self, source: str) -> list[str]:
        """The statements folding new events (the table ``source``) into what inserts maintain: every rollup
        and summary, or nothing without the rollups (compaction folds many commits at once)."""
        return rollup_inserts(source) if self.maintain_rollups else []

    def aggregate(self, agg: Aggregate) -> pa.Table:
        if self.rollup_state is Rollups.ON:
            sql, args = aggregate_sql(agg, DUCKDB, rollups=ROLLUPS, summaries=SUMMARIES)
        elif self.summaries_fold_later and uses_only_summary_dims(agg):
            return conform(agg, self._from_summaries(agg))  # far fewer rows than the events
        else:
            sql, args = aggregate_sql(agg, DUCKDB)
        return conform(agg, _answer(self._reader(), sql, args))

    @property
    def summaries_fold_later(self) -> bool:
        """Whether queries may read the summaries that compaction fills later (without the rollups):
        they then add the events not folded yet (:meth:`read_summaries`)."""
        return self.rollup_state is Rollups.OFF and self.summaries_current

    def _from_summaries(self, agg: Aggregate) -> pa.Table:
        """``agg`` from the summaries and the events not folded into them yet (:meth:`read_summaries`)."""
        return self.read_summaries(lambda levels: aggregate_sql(agg, DUCKDB, rollups=levels))

    def read_summaries(self, build: Callable[[tuple[tuple[str, int], ...]], tuple[str, list[Any]]]) -> pa.Table:
        """The answer of the statement ``build`` makes from the summaries' relations (each summary with
        the rows not folded into it yet: :func:`summary_levels`), read in one transaction with the number
        saying which events those are (see :data:`FOLD_SEQ`): every event counted exactly once."""
        if self._seq is None:  # the file's last number and whether it holds loose minute rows, read once
            with self._write_lock:
                self._last_seq()
                if self._loose_minutes:
                    rows = self._con.execute(f"SELECT count(*) FROM ({LOOSE_MINUTES} LIMIT 1)").fetchall()
                    self._loose_minutes = bool(rows[0][0])
        cur = self._reader()
        cur.execute("BEGIN")
        try:
            folded = int(cur.execute(FOLD_SEQ).fetchall()[0][0])
            # Numbers are given (under the write lock) before their commit, so a commit this transaction
            # sees gave its number before the number is read here: none past ``folded``, no such events.
            last = self._seq
            sql, args = build(summary_levels(folded, tail=last is None or last > folded, loose=self._loose_minutes))
            table = _answer(cur, sql, args)
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")
        return table

    def execute(self, sql: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run read-only SQL (benchmarks and tests compare the API with the raw engine)."""
        return self._reader().execute(sql, args or []).fetchall()

    def _events(self, sql: str, args: list[Any]) -> pa.Table:
        return self._reader().sql(sql, params=args).to_arrow_table().cast(SCHEMA)

    def prune(self, before_s: int) -> int:
        """Delete raw events before ``before_s`` (rounded down to a minute); the rollup keeps them counted."""
        cutoff = (before_s * 1_000_000 // MINUTE_US) * MINUTE_US
        with self._write_lock:
            rows = self._con.execute("DELETE FROM events WHERE ts_us < ?", [cutoff]).fetchall()
        return int(rows[0][0]) if rows else 0

    def close(self) -> None:
        with self._write_lock:
            self._con.close()
