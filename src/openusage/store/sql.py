"""Aggregation SQL, built from an :class:`Aggregate` by a pure function per dialect.

Identifiers come only from the endpoint table (an allow-list); every value is a bound parameter.
Tests pin the exact SQL and arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..spec import DIMENSIONS
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


def aggregate_sql(agg: Aggregate, d: Dialect = DUCKDB, table: str = "events") -> tuple[str, list[Any]]:
    """SQL and arguments for one aggregation, ordered by bucket then the grouped fields."""
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
        inner = (f"SELECT {inner_sel} FROM {table} WHERE {where} "
                 f"GROUP BY {', '.join(['bucket', *inner_groups])}")
        sel = ", ".join(["bucket", *groups, *(f"{d.int_sum(m)} AS {m}" for m in agg.gauges)])
        return f"SELECT {sel} FROM ({inner}) AS g GROUP BY {group_cols} ORDER BY {order}", args
    cols = [f"{bucket} AS bucket", *groups]
    cols += [f"{d.int_sum(m)} AS {m}" for m in metrics]
    cols += [f"SUM({_check_ident(m)}) AS {m}" for m in agg.decimals]
    if agg.with_quantity:
        cols += ["SUM(quantity) AS quantity", f"{d.any_value('quantity_unit')} AS quantity_unit"]
    sql = f"SELECT {', '.join(cols)} FROM {table} WHERE {where} GROUP BY {group_cols} ORDER BY {order}"
    return sql, args
