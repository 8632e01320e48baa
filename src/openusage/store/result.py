"""One Arrow shape for every engine's aggregation answer.

Engines disagree on the types they return (DuckDB ``HUGEINT`` sums, PostgreSQL ``numeric``,
ClickHouse ``Nullable`` wrappers); the renderer and the tests expect one schema, built here from
the :class:`Aggregate` alone: ``bucket`` int64, the grouped dimensions, int64 counters and gauges,
decimal money, float ``quantity`` and string ``quantity_unit``.

Engines sum counters in 128 bits, so no accepted events can overflow an answer.  A counter column
is int64 whenever every value fits (always, in practice); a column holding a larger sum is
``decimal128(38, 0)``, exact integers that the renderer writes as JSON integers.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..ingest.events import SCHEMA
from .base import Aggregate


def result_schema(agg: Aggregate) -> pa.Schema:
    fields = [pa.field("bucket", pa.int64())]
    fields += [SCHEMA.field(g) for g in agg.group_by]
    if agg.gauges:  # sql.aggregate_sql answers gauges alone
        return pa.schema([*fields, *(pa.field(m, pa.int64()) for m in agg.gauges)])
    fields += [pa.field(m, pa.int64()) for m in agg.metrics]
    fields += [SCHEMA.field(m) for m in agg.decimals]
    if agg.with_quantity:
        fields += [SCHEMA.field("quantity"), SCHEMA.field("quantity_unit")]
    return pa.schema(fields)


WIDE_INT = pa.decimal128(38, 0)
"""A counter sum larger than int64: 38 exact digits."""


def _counter(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """int64 when every value fits (a safe cast refuses overflow), else exact 38-digit integers."""
    try:
        return values.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return values.cast(WIDE_INT)


def _counters(agg: Aggregate) -> set[str]:
    return set(agg.gauges) | set(agg.metrics)


def from_rows(agg: Aggregate, names: list[str], rows: list[tuple[Any, ...]]) -> pa.Table:
    """Rows from a DB-API cursor as the canonical table (columns matched by name)."""
    schema = result_schema(agg)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    by_name = dict(zip(names, columns, strict=True))
    counters = _counters(agg)
    arrays = [_counter(pa.array([None if v is None else int(v) for v in by_name[f.name]], WIDE_INT))
              if f.name in counters else pa.array(list(by_name[f.name]), f.type) for f in schema]
    return pa.Table.from_arrays(arrays, names=schema.names)


def conform(agg: Aggregate, table: pa.Table) -> pa.Table:
    """An engine's Arrow answer cast to the canonical schema (columns matched by name)."""
    schema = result_schema(agg)
    counters = _counters(agg)
    arrays = [_counter(table.column(f.name)) if f.name in counters else table.column(f.name).cast(f.type)
              for f in schema]
    return pa.Table.from_arrays(arrays, names=schema.names)
