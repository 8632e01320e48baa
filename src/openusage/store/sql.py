"""Aggregation SQL, built from an :class:`Aggregate` by a pure function per dialect.

Identifiers come only from the endpoint table (an allow-list); every value is a bound parameter.
Tests pin the exact SQL and arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..ingest.events import INT_METRICS
from ..spec import DIMENSIONS, METRICS
from .base import Aggregate


@dataclass(frozen=True)
class Dialect:
    name: str
    placeholder: str  # "?" or "%s"

    def bucket_expr(self, width_s: int) -> str:
        """Aligned bucket start in seconds from ``ts_us``; ``width_s`` is an allow-listed integer."""
        w = int(width_s) * 1_000_000
        if self.name == "clickhouse":
            return f"intDiv(ts_us, {w}) * {int(width_s)}"
        if self.name == "postgresql":
            return f"div(ts_us, {w}) * {int(width_s)}"
        return f"(ts_us // {w}) * {int(width_s)}"

    def in_list(self, column: str, n: int) -> str:
        return f"{column} IN ({', '.join([self.placeholder] * n)})"

    def int_sum(self, expr: str) -> str:
        if self.name == "clickhouse":
            return f"toInt64(sum({expr}))"
        return f"CAST(SUM({expr}) AS BIGINT)"

    def any_value(self, expr: str) -> str:
        return f"min({expr})"


DUCKDB = Dialect("duckdb", "?")
POSTGRESQL = Dialect("postgresql", "%s")
CLICKHOUSE = Dialect("clickhouse", "%s")


def _check_ident(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not an identifier: {name!r}")
    return name


def where_clause(agg: Aggregate, d: Dialect, table_alias: str = "") -> tuple[str, list[Any]]:
    p = d.placeholder
    conds = [f"type = {p}", f"ts_us >= {p}", f"ts_us < {p}"]
    args: list[Any] = [agg.event_type, agg.start_s * 1_000_000, agg.end_s * 1_000_000]
    for dim, values in sorted(agg.filters.items()):
        if dim not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dim!r}")
        if isinstance(values, bool):
            conds.append(f"{dim} = {p}")
            args.append(values)
        elif not values:
            conds.append("1 = 0")
        else:
            conds.append(d.in_list(dim, len(values)))
            args.extend(values)
    return " AND ".join(conds), args


def aggregate_sql(agg: Aggregate, d: Dialect = DUCKDB, table: str = "events",
                  rollup: str | None = None) -> tuple[str, list[Any]]:
    """SQL and arguments for one aggregation, ordered by bucket then the grouped fields.

    With ``rollup`` (the per-minute table's name), whole minutes are read from it and only the
    partial minutes at unaligned edges from ``table``; the same outer query runs over either,
    since the rollup has the events' column names (``ts_us`` is the minute's start there).
    """
    source, source_args = rollup_source(agg, d, table, rollup) if rollup else (table, [])
    groups = [_check_ident(g) for g in agg.group_by]
    for g in groups:
        if g not in DIMENSIONS:
            raise ValueError(f"unknown dimension {g!r}")
    where, args = where_clause(agg, d)
    bucket = d.bucket_expr(agg.width_s)
    order = ", ".join(["bucket", *(f"{g} NULLS FIRST" if d.name != "clickhouse" else f"{g} ASC NULLS FIRST"
                                   for g in groups)])
    group_cols = ", ".join(["bucket", *groups])
    metrics = [_check_ident(m) for m in agg.metrics]
    if agg.gauges:
        # Storage held: per project the largest sample in the bucket, then summed over projects.
        inner_groups = groups if "project_id" in groups else [*groups, "project_id"]
        inner_sel = ", ".join([f"{bucket} AS bucket", *inner_groups,
                               *(f"max({_check_ident(m)}) AS {m}" for m in agg.gauges)])
        inner = (f"SELECT {inner_sel} FROM {source} WHERE {where} "
                 f"GROUP BY {', '.join(['bucket', *inner_groups])}")
        sel = ", ".join(["bucket", *groups, *(f"{d.int_sum(m)} AS {m}" for m in agg.gauges)])
        return f"SELECT {sel} FROM ({inner}) AS g GROUP BY {group_cols} ORDER BY {order}", source_args + args
    cols = [f"{bucket} AS bucket", *groups]
    cols += [f"{d.int_sum(m)} AS {m}" for m in metrics]
    cols += [f"SUM({_check_ident(m)}) AS {m}" for m in agg.decimals]
    if agg.with_quantity:
        cols += ["SUM(quantity) AS quantity", f"{d.any_value('quantity_unit')} AS quantity_unit"]
    sql = f"SELECT {', '.join(cols)} FROM {source} WHERE {where} GROUP BY {group_cols} ORDER BY {order}"
    return sql, source_args + args


# -- rollups -----------------------------------------------------------------------------------
MINUTE_US = 60_000_000
ROLLUP_TABLE = "rollup_1m"


def rollup_columns(agg: Aggregate) -> list[str]:
    """The columns an aggregation reads: what each side of a rollup/raw union must provide."""
    dims = [d for d in DIMENSIONS if d in agg.group_by or d in agg.filters or (d == "project_id" and agg.gauges)]
    cols = ["type", "ts_us", *dims, *agg.metrics, *agg.gauges, *agg.decimals]
    if agg.with_quantity:
        cols += ["quantity", "quantity_unit"]
    return [_check_ident(c) for c in dict.fromkeys(cols)]


def rollup_source(agg: Aggregate, d: Dialect, table: str, rollup: str) -> tuple[str, list[Any]]:
    """FROM-clause source for ``agg``: the rollup for whole minutes, raw events for the edges.

    Bucket widths are multiples of a minute and aligned on the epoch, so a minute never straddles
    two buckets; only ``start_s``/``end_s`` that are not on a minute need raw events.
    """
    first = -(-agg.start_s // 60) * 60  # first whole minute inside the range
    last = (agg.end_s // 60) * 60  # end of the last whole minute
    if first >= last:
        return table, []
    if first == agg.start_s and last == agg.end_s:
        return rollup, []
    p = d.placeholder
    cols = ", ".join(rollup_columns(agg))
    sql = (f"(SELECT {cols} FROM {rollup} WHERE type = {p} AND ts_us >= {p} AND ts_us < {p} "
           f"UNION ALL SELECT {cols} FROM {table} WHERE type = {p} "
           f"AND ((ts_us >= {p} AND ts_us < {p}) OR (ts_us >= {p} AND ts_us < {p}))) AS src")
    us = 1_000_000
    args: list[Any] = [agg.event_type, first * us, last * us, agg.event_type,
                       agg.start_s * us, first * us, last * us, agg.end_s * us]
    return sql, args


def rollup_select_sql(d: Dialect, source: str) -> str:
    """Per-minute partial aggregates of the events in ``source`` (the rows of the rollup table).

    Counters and money are summed, the gauge keeps its maximum, ``quantity_unit`` its smallest
    value; ``n`` counts events.  Every dimension is a key, so any query's groups can be rebuilt.
    """
    minute = d.bucket_expr(60).replace(" * 60", f" * {MINUTE_US}")
    cols = ["type", f"{minute} AS ts_us", *DIMENSIONS]
    cols += [f"{d.int_sum(m)} AS {m}" if METRICS[m].agg == "sum" else f"max({m}) AS {m}" for m in INT_METRICS]
    cols += ["SUM(amount) AS amount", "SUM(quantity) AS quantity", "min(quantity_unit) AS quantity_unit",
             "count(*) AS n"]
    # ClickHouse resolves a GROUP BY name to the SELECT alias (and rejects the expression itself).
    keys = ", ".join(["type", "ts_us" if d.name == "clickhouse" else minute, *DIMENSIONS])
    return f"SELECT {', '.join(cols)} FROM {source} GROUP BY {keys}"
