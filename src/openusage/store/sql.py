"""Aggregation SQL, built from an :class:`Aggregate` by a pure function per dialect.

Identifiers come only from the endpoint table (an allow-list); every value is a bound parameter.
Tests pin the exact SQL and arguments.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..ingest.events import INT_METRICS, SCHEMA
from ..spec import DIMENSIONS, METRICS
from .base import Aggregate


class Dialect:
    """What the SQL builders need from one engine's SQL; one subclass per engine.

    ``name`` names the engine in logs; ``placeholder`` is the driver's parameter marker; ``raw_events``
    the expression reading the events table as the engine should (ClickHouse folds repeated ids).
    """

    name = "sql"
    placeholder = "?"
    null_first_order = "NULLS FIRST"
    """The ORDER BY suffix putting a group's null first."""
    unique_keys = True
    """Whether the engine enforces primary and unique keys (``ON CONFLICT``); else a table may hold a row
    twice until its parts merge, and readers of it take its rows ``DISTINCT``."""

    @property
    def if_absent(self) -> str:
        """The suffix of an ``INSERT`` skipping rows already present by key (none where keys are not kept)."""
        return " ON CONFLICT DO NOTHING" if self.unique_keys else ""

    def current_rows(self, table: str) -> str:
        """``table`` as read by queries: an engine that keeps replaced rows until a merge folds them here."""
        return table

    @property
    def raw_events(self) -> str:
        """The events table as aggregations read it."""
        return self.current_rows("events")

    def upsert_sql(self, table: str, columns: tuple[str, ...], key: str) -> str:
        """One row into ``table``, replacing the row with the same ``key`` (a primary key)."""
        raise NotImplementedError(f"{self.name} has no upsert statement")

    def div_expr(self, expr: str, divisor: int) -> str:
        """``expr`` divided by a positive integer constant (integer division)."""
        raise NotImplementedError

    def bucket_expr(self, width_s: int) -> str:
        """Aligned bucket start in seconds from ``ts_us``; ``width_s`` is an allow-listed integer."""
        return f"{self.div_expr('ts_us', int(width_s) * 1_000_000)} * {int(width_s)}"

    def step_expr(self, width_s: int, nonnegative: bool = False) -> str:
        """The start of ``ts_us``'s period of ``width_s`` seconds, in microseconds (a rollup row's ``ts_us``).

        ``nonnegative``: every ``ts_us`` is at least 0, so an engine may divide more cheaply."""
        w = int(width_s) * 1_000_000
        return f"{self.div_expr('ts_us', w)} * {w}"

    def group_key(self, alias: str, expr: str) -> str:
        """How GROUP BY names a computed SELECT column: its expression, by default."""
        return expr

    def values(self, n: int) -> str:
        """``n`` placeholders, comma-separated."""
        return ", ".join([self.placeholder] * n)

    def in_list(self, column: str, n: int) -> str:
        return f"{column} IN ({self.values(n)})"

    def int_sum(self, expr: str) -> str:
        """A sum of integer counters that cannot overflow: 38 exact digits.

        Each event may carry up to ``MAX_INT``, so two of them already overflow a 64-bit sum.
        DuckDB sums into ``HUGEINT`` and PostgreSQL into ``numeric``; ClickHouse would wrap
        around in 64 bits, so it sums in ``Int128`` and answers a 38-digit decimal (Arrow has
        no 128-bit integer).  :func:`openusage.store.result.conform` narrows to int64 when it fits.
        """
        return f"SUM({expr})"

    def rollup_sum(self, expr: str) -> str:
        """A rollup's partial sum, in the rollup column's wide type (HUGEINT, numeric, Int128)."""
        return f"SUM({expr})"

    def any_value(self, expr: str) -> str:
        return f"min({expr})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class DuckDBDialect(Dialect):
    name = "duckdb"
    placeholder = "?"

    def upsert_sql(self, table: str, columns: tuple[str, ...], key: str) -> str:
        return f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({self.values(len(columns))})"

    def div_expr(self, expr: str, divisor: int) -> str:
        return f"({expr} // {int(divisor)})"


class PostgresDialect(Dialect):
    name = "postgresql"
    placeholder = "%s"

    def upsert_sql(self, table: str, columns: tuple[str, ...], key: str) -> str:
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key)
        return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({self.values(len(columns))}) "
                f"ON CONFLICT ({key}) DO UPDATE SET {updates}")

    def div_expr(self, expr: str, divisor: int) -> str:
        return f"div({expr}, {int(divisor)})"

    def bucket_expr(self, width_s: int) -> str:
        # bigint division truncates as div() does, without converting every row to numeric: a bigint
        # bucket also groups and sorts several times faster
        return f"(ts_us / {int(width_s) * 1_000_000}) * {int(width_s)}"

    def step_expr(self, width_s: int, nonnegative: bool = False) -> str:
        if not nonnegative:
            return super().step_expr(width_s)
        w = int(width_s) * 1_000_000  # integer division, several times faster per row than numeric div()
        return f"(ts_us / {w}) * {w}"


class ClickHouseDialect(Dialect):
    name = "clickhouse"
    placeholder = "%s"
    null_first_order = "ASC NULLS FIRST"
    unique_keys = False

    def current_rows(self, table: str) -> str:
        # ReplacingMergeTree tables: FINAL folds rows of one key (an id two writers stored at once, a
        # key or metadata entry written again) into the newest
        return f"{table} FINAL"

    def div_expr(self, expr: str, divisor: int) -> str:
        return f"intDiv({expr}, {int(divisor)})"

    def group_key(self, alias: str, expr: str) -> str:
        # ClickHouse resolves a GROUP BY name to the SELECT alias (and rejects the expression itself).
        return alias

    def int_sum(self, expr: str) -> str:
        return f"toDecimal128(sum(toInt128({expr})), 0)"

    def rollup_sum(self, expr: str) -> str:
        return f"sum(toInt128({expr}))"


DUCKDB: Dialect = DuckDBDialect()
POSTGRESQL: Dialect = PostgresDialect()
CLICKHOUSE: Dialect = ClickHouseDialect()


def _check_ident(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not an identifier: {name!r}")
    return name


def where_clause(agg: Aggregate, dialect: Dialect) -> tuple[str, list[Any]]:
    mark = dialect.placeholder
    conds = [f"type = {mark}", f"ts_us >= {mark}", f"ts_us < {mark}"]
    args: list[Any] = [agg.event_type, agg.start_s * 1_000_000, agg.end_s * 1_000_000]
    for dim, values in sorted(agg.filters.items()):
        if dim not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dim!r}")
        if isinstance(values, bool):
            conds.append(f"{dim} = {mark}")
            args.append(values)
        elif not values:
            conds.append("1 = 0")
        else:
            conds.append(dialect.in_list(dim, len(values)))
            args.extend(values)
    return " AND ".join(conds), args


RollupSet = tuple[tuple[str, ...], tuple[tuple[str, int], ...]]
"""Rollup tables keyed by the same dimensions: ``(dimensions, ((table, width), ...))``, coarsest first."""


def query_dims(group_by: tuple[str, ...] | list[str], filters: Any) -> set[str]:
    """The dimensions a query groups or filters by: a rollup set serves it only if it keeps them all."""
    return {*group_by, *filters}


def pick_rollups(dims: set[str], sets: tuple[RollupSet, ...]) -> tuple[tuple[str, int], ...]:
    """The levels of the first set (the smallest tables first) keeping every one of ``dims``; none (raw
    events) when no set does."""
    return next((levels for kept, levels in sets if dims <= set(kept)), ())


def aggregate_sql(agg: Aggregate, dialect: Dialect = DUCKDB, table: str | None = None,
                  rollups: tuple[tuple[str, int], ...] = (),
                  summaries: tuple[tuple[str, int], ...] = (),
                  sets: tuple[RollupSet, ...] = ()) -> tuple[str, list[Any]]:
    """SQL and arguments for one aggregation, ordered by bucket then the grouped fields.

    With ``rollups`` (``(table, width)`` pairs, e.g. :data:`ROLLUPS`), each part of the range is
    read from the coarsest rollup that fits it and only the unaligned edges from ``table``; the
    same outer query runs over any of them, since rollups have the events' column names (``ts_us``
    is the start of the rollup's minute, hour or day there).  With ``summaries`` too (e.g.
    :data:`SUMMARIES`), a query that neither groups nor filters by a dimension they leave out
    reads those instead: far fewer rows when users and keys are many.  With ``sets`` instead (rollups
    keyed by fewer dimensions than the events, smallest first), the first set keeping every dimension
    the query uses serves it (:func:`pick_rollups`), raw events when none does.
    """
    if sets:
        gauges = {"project_id"} if agg.gauges else set()  # storage held is summed per project
        rollups = pick_rollups(query_dims(agg.group_by, agg.filters) | gauges, sets)
    elif summaries and rollups and uses_only_summary_dims(agg):
        rollups = summaries
    sql, args = _aggregate_sql(agg, dialect, dialect.raw_events if table is None else table, rollups)
    return (sql + f" LIMIT {int(agg.max_rows)}", args) if agg.max_rows is not None else (sql, args)


def _aggregate_sql(agg: Aggregate, dialect: Dialect, table: str,
                   rollups: tuple[tuple[str, int], ...]) -> tuple[str, list[Any]]:
    source, source_args = rollup_source(agg, dialect, table, rollups) if rollups else (table, [])
    groups = [_check_ident(g) for g in agg.group_by]
    for g in groups:
        if g not in DIMENSIONS:
            raise ValueError(f"unknown dimension {g!r}")
    where, args = where_clause(agg, dialect)
    bucket = dialect.bucket_expr(agg.width_s)
    order = ", ".join(["bucket", *(f"{g} {dialect.null_first_order}" for g in groups)])
    group_cols = ", ".join(["bucket", *groups])
    metrics = [_check_ident(m) for m in agg.metrics]
    if agg.gauges:
        # Storage held: per project the largest sample in the bucket, then summed over projects.
        inner_groups = groups if "project_id" in groups else [*groups, "project_id"]
        inner_sel = ", ".join([f"{bucket} AS bucket", *inner_groups,
                               *(f"max({_check_ident(m)}) AS {m}" for m in agg.gauges)])
        inner = (f"SELECT {inner_sel} FROM {source} WHERE {where} "
                 f"GROUP BY {', '.join(['bucket', *inner_groups])}")
        sel = ", ".join(["bucket", *groups, *(f"{dialect.int_sum(m)} AS {m}" for m in agg.gauges)])
        return f"SELECT {sel} FROM ({inner}) AS g GROUP BY {group_cols} ORDER BY {order}", source_args + args
    cols = [f"{bucket} AS bucket", *groups]
    cols += [f"{dialect.int_sum(m)} AS {m}" for m in metrics]
    cols += [f"SUM({_check_ident(m)}) AS {m}" for m in agg.decimals]
    if agg.with_quantity:
        cols += ["SUM(quantity) AS quantity", f"{dialect.any_value('quantity_unit')} AS quantity_unit"]
    sql = f"SELECT {', '.join(cols)} FROM {source} WHERE {where} GROUP BY {group_cols} ORDER BY {order}"
    return sql, source_args + args


def scan_where(dialect: Dialect, after: tuple[int, str] | None, upto: tuple[int, str] | None) -> tuple[str, list[Any]]:
    """The WHERE clause of one chunk of events: (ts_us, id) after ``after`` and up to ``upto``.

    A chunk ends with every event of its last (ts_us, id) (ids are unique per project, so several
    events may share one), so that the next chunk, starting after that key, skips none of them.
    """
    mark = dialect.placeholder
    conds, args = [], []
    if after:
        conds.append(f"(ts_us, id) > ({mark}, {mark})")
        args += list(after)
    if upto:
        conds.append(f"(ts_us, id) <= ({mark}, {mark})")
        args += list(upto)
    return (f"WHERE {' AND '.join(conds)} " if conds else ""), args


SCAN_ORDER = "ORDER BY ts_us, id, project_id ASC NULLS FIRST"


# -- rollups -----------------------------------------------------------------------------------
MINUTE_US = 60_000_000
ROLLUP_TABLE = "rollup_1m"
ROLLUPS: tuple[tuple[str, int], ...] = (("rollup_1d", 86400), ("rollup_1h", 3600), ("rollup_1m", 60))
"""Per-day, per-hour and per-minute rollup tables, coarsest first."""
SUMMARY_DIMS: tuple[str, ...] = tuple(d for d in DIMENSIONS if d not in ("user_id", "api_key_id", "vector_store_id"))
"""The dimensions a summary keeps: all but the free-form ids, whose many values make a rollup keyed by
them nearly as large as the events (one row per event with thousands of users and keys).  Those stored
for pricing only (image quality, container size) take a few values each, so costs pages read the
summaries for every type, as usage pages do."""
DIMS_THROUGH_ORIGIN: tuple[str, ...] = tuple(DIMENSIONS)[:list(DIMENSIONS).index("origin") + 1]
"""The keys of rollups made by the store migrations before the dimensions stored for pricing only."""
DIMS_BEFORE_ORIGIN: tuple[str, ...] = DIMS_THROUGH_ORIGIN[:-1]
SUMMARY_DIMS_UNPRICED: tuple[str, ...] = ("project_id", "model", "batch", "service_tier", "api_source", "size",
                                          "source", "context_level", "line_item", "origin")
"""The keys of summaries made by the store migrations before the summaries kept the dimensions stored for
pricing only (frozen: those migrations must make the same tables whatever the code adds later)."""
SUMMARY_DIMS_BEFORE_ORIGIN: tuple[str, ...] = tuple(d for d in SUMMARY_DIMS_UNPRICED if d != "origin")
"""The keys of rollups and summaries made by the store migrations before ``origin``."""
PRICED_SUMMARY_DIMS: tuple[str, ...] = (*SUMMARY_DIMS_UNPRICED, "quality", "memory_limit")
"""The keys of summaries made by the migrations adding the dimensions stored for pricing only (frozen)."""
assert PRICED_SUMMARY_DIMS == SUMMARY_DIMS, "a new summary dimension needs a migration of its own"
SUMMARIES: tuple[tuple[str, int], ...] = (("summary_1d", 86400), ("summary_1h", 3600), ("summary_1m", 60))
"""Rollups keyed by :data:`SUMMARY_DIMS` only, coarsest first: most queries read these."""


SUMMED: tuple[str, ...] = tuple(m for m, spec in METRICS.items() if spec.agg == "sum")
"""Counters summed into the rollups: 128-bit there (HUGEINT, numeric, Int128), so no accepted events overflow them."""


def rollup_fields(schema: pa.Schema = SCHEMA, dims: tuple[str, ...] | None = None) -> list[pa.Field]:
    """The events' columns a rollup keeps after ``type`` and ``ts_us``: all but ``id``, and of the dimensions
    only ``dims`` when given (a summary's).  ``schema``: the events' columns when the rollup was made."""
    return [f for f in schema if f.name not in ("id", "type", "ts_us")
            and (dims is None or f.name not in DIMENSIONS or f.name in dims)]


def uses_only_summary_dims(agg: Aggregate) -> bool:
    """Whether the summaries can answer ``agg``: it groups and filters only by their dimensions."""
    return all(d in SUMMARY_DIMS for d in (*agg.group_by, *agg.filters))


def rollup_columns(agg: Aggregate) -> list[str]:
    """The columns an aggregation reads: what each part of a rollup/raw union must provide."""
    dims = [d for d in DIMENSIONS if d in agg.group_by or d in agg.filters or (d == "project_id" and agg.gauges)]
    cols = ["type", "ts_us", *dims, *agg.metrics, *agg.gauges, *agg.decimals]
    if agg.with_quantity:
        cols += ["quantity", "quantity_unit"]
    return [_check_ident(c) for c in dict.fromkeys(cols)]


def plan_segments(start_s: int, end_s: int, width_s: int, levels: tuple[tuple[str, int], ...],
                  raw: str = "events") -> list[tuple[str, int, int]]:
    """Split ``[start_s, end_s)`` into ``(table, lo, hi)`` parts, each read from the coarsest source.

    A rollup of width ``w`` can serve buckets of width ``width_s`` only if ``w`` divides it (all
    are aligned on the epoch, so a rollup row then never straddles two buckets); it serves the
    whole multiples of ``w`` inside the range, and the edges go to the next finer level, the
    sub-minute rest to raw events.
    """
    usable = [(t, w) for t, w in levels if width_s % w == 0]

    def split(lo: int, hi: int, i: int) -> list[tuple[str, int, int]]:
        if lo >= hi:
            return []
        if i == len(usable):
            return [(raw, lo, hi)]
        tbl, w = usable[i]
        a, b = -(-lo // w) * w, (hi // w) * w
        if a >= b:
            return split(lo, hi, i + 1)
        return [*split(lo, a, i + 1), (tbl, a, b), *split(b, hi, i + 1)]

    return split(start_s, end_s, 0)


def rollup_source(agg: Aggregate, dialect: Dialect, table: str,
                  rollups: tuple[tuple[str, int], ...] = ROLLUPS) -> tuple[str, list[Any]]:
    """FROM-clause source for ``agg``: one table, or a UNION ALL of rollup and raw parts."""
    parts = plan_segments(agg.start_s, agg.end_s, agg.width_s, rollups, table)
    if len(parts) == 1:
        return parts[0][0], []
    mark = dialect.placeholder
    cols = ", ".join(rollup_columns(agg))
    sql = " UNION ALL ".join(f"SELECT {cols} FROM {t} WHERE type = {mark} AND ts_us >= {mark} AND ts_us < {mark}"
                             for t, _, _ in parts)
    args: list[Any] = [v for _, lo, hi in parts for v in (agg.event_type, lo * 1_000_000, hi * 1_000_000)]
    return f"({sql}) AS src", args


def rollup_select_sql(dialect: Dialect, source: str, width_s: int = 60, dims: tuple[str, ...] | None = None,
                      count: str = "count(*)", nonnegative: bool = False) -> str:
    """Partial aggregates per ``width_s`` of the events in ``source`` (rows of a rollup table).

    Counters and money are summed, the gauge keeps its maximum, ``quantity_unit`` its smallest
    value; ``n`` counts events.  Every dimension (or each of ``dims``) is a key, so any query's
    groups can be rebuilt.  ``count="SUM(n)"`` folds rollup rows rather than events.
    ``nonnegative``: every ``ts_us`` is at least 0 (ingestion refuses earlier times), so PostgreSQL may
    divide in integers rather than through ``numeric`` (several times faster per row).
    """
    dims = tuple(DIMENSIONS) if dims is None else dims
    step = dialect.step_expr(width_s, nonnegative)
    cols = ["type", f"{step} AS ts_us", *dims]
    cols += [f"{dialect.rollup_sum(m)} AS {m}" if METRICS[m].agg == "sum" else f"max({m}) AS {m}" for m in INT_METRICS]
    cols += ["SUM(amount) AS amount", "SUM(quantity) AS quantity", "min(quantity_unit) AS quantity_unit",
             f"{count} AS n"]
    keys = ", ".join(["type", dialect.group_key("ts_us", step), *dims])
    return f"SELECT {', '.join(cols)} FROM {source} GROUP BY {keys}"


# -- the summaries keyed by the dimensions stored for pricing only --------------------------------
PRICED_TYPES: tuple[str, ...] = ("images", "code_interpreter_sessions")
"""The event types storing a dimension for pricing only (frozen: the migrations rebuilding their summary
rows name them)."""
PRICED_FROM = "summaries_priced_from"
"""The metadata entry (seconds) before which the summaries may hold rows of :data:`PRICED_TYPES` without
those dimensions: periods whose events were pruned before the summaries kept them.  Costs read those
types the old way (rollups or raw events) for a range starting earlier; absent or 0: every period."""


def priced_summary_rebuild(d: Dialect, table: str, width: int, sources: list[tuple[str, str]]) -> list[str]:
    """Statements rebuilding the rows of :data:`PRICED_TYPES` in the summary ``table`` (period ``width``)
    keyed by :data:`PRICED_SUMMARY_DIMS`, from ``sources`` (``(relation of their rows, count expression)``
    pairs, each empty where it does not apply).

    Rows made before merged every quality of a period into one; a period is rebuilt only where the rows
    rebuilt count as many events as the rows it holds (its events all kept), so no answer changes: the
    rest stay and end the range of :data:`PRICED_FROM` (the temporary table ``priced_gaps``)."""
    types = ", ".join(f"'{t}'" for t in PRICED_TYPES)
    dims = PRICED_SUMMARY_DIMS
    names = ["type", "ts_us", *dims, *INT_METRICS, "amount", "quantity", "quantity_unit", "n"]
    stmts = ["DROP TABLE IF EXISTS priced_rebuilt", "DROP TABLE IF EXISTS priced_ok",
             f"CREATE TEMP TABLE priced_rebuilt AS SELECT {', '.join(names)} FROM {table} WHERE 1 = 0"]
    stmts += [f"INSERT INTO priced_rebuilt ({', '.join(names)}) {rollup_select_sql(d, source, width, dims, count)}"
              for source, count in sources]
    stmts += [
        "CREATE TEMP TABLE priced_ok AS SELECT type, ts_us, CAST(SUM(n) AS BIGINT) AS n FROM priced_rebuilt "
        f"GROUP BY type, ts_us INTERSECT SELECT type, ts_us, CAST(SUM(n) AS BIGINT) AS n FROM {table} "
        f"WHERE type IN ({types}) GROUP BY type, ts_us",
        f"INSERT INTO priced_gaps SELECT DISTINCT {d.div_expr('ts_us', 1_000_000)} + {int(width)} FROM {table} "
        f"WHERE type IN ({types}) AND NOT EXISTS (SELECT 1 FROM priced_ok o WHERE o.type = {table}.type "
        f"AND o.ts_us = {table}.ts_us)",
        f"DELETE FROM {table} WHERE type IN ({types}) AND EXISTS (SELECT 1 FROM priced_ok o "
        f"WHERE o.type = {table}.type AND o.ts_us = {table}.ts_us)",
        f"INSERT INTO {table} ({', '.join(names)}, compacted) SELECT {', '.join(names)}, true FROM priced_rebuilt r "
        "WHERE EXISTS (SELECT 1 FROM priced_ok o WHERE o.type = r.type AND o.ts_us = r.ts_us)",
        "DROP TABLE priced_rebuilt", "DROP TABLE priced_ok",
    ]
    return stmts


def priced_from_sql(d: Dialect) -> str:
    """The statement recording :data:`PRICED_FROM` from the periods :func:`priced_summary_rebuild` kept."""
    value = f"(SELECT CAST(coalesce(max(hi), 0) AS {'VARCHAR' if isinstance(d, DuckDBDialect) else 'TEXT'}) " \
            "FROM priced_gaps)"
    if isinstance(d, DuckDBDialect):
        return f"INSERT OR REPLACE INTO openusage_meta (name, value) SELECT '{PRICED_FROM}', {value}"
    return (f"INSERT INTO openusage_meta (name, value) SELECT '{PRICED_FROM}', {value} "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value")
