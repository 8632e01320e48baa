"""The usage behind a costs page in one statement: every priced event type aggregated at once.

A costs page needs, for each priced usage type, its usage per day grouped by what its price depends on
and by the page's groups.  Rather than one aggregation per type, one statement reads them all (``type IN
(...)``) grouped by ``type``, the day and the union of those dimensions: a type lacking a dimension holds
null there, so the groups are the ones each type's own aggregation would make.  Counters are summed;
gauges (storage held) take their largest sample, which is per project since the storage type is always
grouped by project.  Rollup tables serve the aligned part of the range as in :mod:`.sql`.

:func:`costs_sql` builds on it the statement behind a costs page priced by the engine: the scan's rows
keyed by price key, joined with the store's ``price_rows`` of one price set
(:mod:`openusage.pricing.price_table`) and each line's quantity summed by day, group and line, in one
round trip.

Identifiers come from the spec (an allow-list); every value is a bound parameter.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs

from ..spec import DIMENSIONS, METRICS, event_metrics, stored_dimensions
from .common import SqlStoreBase
from .sql import (
    PRICED_FROM,
    PRICED_TYPES,
    SUMMARIES,
    SUMMARY_DIMS,
    ClickHouseDialect,
    Dialect,
    DuckDBDialect,
    PostgresDialect,
    plan_segments,
)

SUMMARY_DIALECTS: tuple[type[Dialect], ...] = (DuckDBDialect, PostgresDialect)
"""The engines keeping :data:`.sql.SUMMARIES` beside their rollups (their own aggregations read them)."""


@dataclass(frozen=True)
class UsageScan:
    """Usage of several event types in [start, end), per ``width_s`` bucket, grouped and filtered alike."""

    event_types: tuple[str, ...]
    start_s: int
    end_s: int
    width_s: int
    group_by: tuple[str, ...]
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    gauges: tuple[str, ...] = ()
    only: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Groups kept for some of the types only (null for the others), so each type makes its own groups."""


def _ident(name: str, allowed: dict[str, Any]) -> str:
    if name not in allowed or not name.isidentifier():
        raise ValueError(f"unknown column {name!r}")
    return name


def _source(types: tuple[str, ...], start_s: int, end_s: int, width_s: int, read: list[str], d: Dialect,
            rollups: tuple[tuple[str, int], ...]) -> tuple[str, list[Any]]:
    """The relation rows of ``types`` in [start, end) are read from: the raw events, or a union of the
    rollups serving the aligned part of the range and the raw events the edges (columns ``read``)."""
    table = d.raw_events
    parts = plan_segments(start_s, end_s, width_s, rollups, table) if rollups else []
    if not parts or (len(parts) == 1 and parts[0][0] == table):
        return table, []
    marks = ", ".join([d.placeholder] * len(types))
    p = d.placeholder
    sql = "(" + " UNION ALL ".join(
        f"SELECT {', '.join(read)} FROM {t} WHERE type IN ({marks}) AND ts_us >= {p} AND ts_us < {p}"
        for t, _, _ in parts) + ") AS src"
    return sql, [v for _, lo, hi in parts for v in (*types, lo * 1_000_000, hi * 1_000_000)]


def summary_types(scan: UsageScan, priced_from: int = 0) -> tuple[str, ...]:
    """The types of ``scan`` whose groups and filters the summaries keep (:data:`.sql.SUMMARY_DIMS`):
    every dimension the type is grouped by, its price dimensions included.  ``priced_from``: the
    :data:`.sql.PRICED_FROM` of the store; a scan starting earlier reads the types storing a dimension
    for pricing only the old way (the summaries of those periods lack it)."""
    if not all(f in SUMMARY_DIMS for f in scan.filters):
        return ()
    return tuple(t for t in scan.event_types
                 if all(g in SUMMARY_DIMS for g in scan.group_by
                        if g in stored_dimensions(t) and (g not in scan.only or t in scan.only[g]))
                 and (scan.start_s >= priced_from or t not in PRICED_TYPES))


def _split_source(scan: UsageScan, read: list[str], d: Dialect, rollups: tuple[tuple[str, int], ...],
                  summaries: tuple[tuple[str, int], ...], priced_from: int = 0) -> tuple[str, list[Any]]:
    """The rows of ``scan``: its types whose groups the summaries keep read from ``summaries`` (far
    fewer rows than the events), the others from ``rollups`` or the raw events, in one relation."""
    cheap = summary_types(scan, priced_from)
    rest = tuple(t for t in scan.event_types if t not in cheap)
    p = d.placeholder
    selects: list[str] = []
    args: list[Any] = []
    for types, levels, kept in ((rest, rollups, False), (cheap, summaries, True)):  # every column first
        if not types:
            continue
        parts = plan_segments(scan.start_s, scan.end_s, scan.width_s, levels, d.raw_events) if levels \
            else [(d.raw_events, scan.start_s, scan.end_s)]
        marks = ", ".join([p] * len(types))
        for table, lo, hi in parts:
            cols = read if table == d.raw_events or not kept else \
                [c if c in ("type", "ts_us") or c not in DIMENSIONS or c in SUMMARY_DIMS else f"NULL AS {c}"
                 for c in read]
            selects.append(f"SELECT {', '.join(cols)} FROM {table} WHERE type IN ({marks}) "
                           f"AND ts_us >= {p} AND ts_us < {p}")
            args += [*types, lo * 1_000_000, hi * 1_000_000]
    if not selects:  # an empty range has no segment to read: the raw events of it (none) are the relation
        selects.append(f"SELECT {', '.join(read)} FROM {d.raw_events} WHERE ts_us >= {p} AND ts_us < {p}")
        args += [scan.start_s * 1_000_000, scan.end_s * 1_000_000]
    return "(" + " UNION ALL ".join(selects) + ") AS src", args


def usage_scan_sql(scan: UsageScan, d: Dialect, rollups: tuple[tuple[str, int], ...] = (),
                   summaries: tuple[tuple[str, int], ...] = (), priced_from: int = 0) -> tuple[str, list[Any]]:
    """SQL and arguments answering ``scan``: columns ``type``, ``bucket``, the groups, then the metrics.

    The inner query picks the columns (a group in :attr:`UsageScan.only` is null for the other types) and
    applies the filters; the outer one buckets and sums.  With ``summaries``, the types whose groups
    the summaries keep are read from them (:func:`summary_types`), the others from ``rollups``.
    """
    p = d.placeholder
    groups = [_ident(g, DIMENSIONS) for g in scan.group_by]
    metrics = [_ident(m, METRICS) for m in scan.metrics]
    gauges = [_ident(m, METRICS) for m in scan.gauges]

    def types_in(types: tuple[str, ...]) -> str:
        return f"type IN ({', '.join([p] * len(types))})"

    cols: list[str] = ["type", "ts_us"]
    args: list[Any] = []
    for g in groups:
        if g in scan.only:
            cols.append(f"CASE WHEN {types_in(scan.only[g])} THEN {g} END AS g_{g}")
            args.extend(scan.only[g])
        else:
            cols.append(f"{g} AS g_{g}")
    cols += [*metrics, *gauges]
    used = [g for g in DIMENSIONS if g in groups or g in scan.filters]
    read = ["type", "ts_us", *used, *metrics, *gauges]
    if summaries and summary_types(scan, priced_from):
        source, source_args = _split_source(scan, read, d, rollups, summaries, priced_from)
    else:
        source, source_args = _source(scan.event_types, scan.start_s, scan.end_s, scan.width_s, read, d, rollups)
    conds: list[str] = []
    where_args: list[Any] = []
    if source == d.raw_events:  # a union of parts reads only the types and times of the scan already
        conds += [types_in(scan.event_types), f"ts_us >= {p}", f"ts_us < {p}"]
        where_args += [*scan.event_types, scan.start_s * 1_000_000, scan.end_s * 1_000_000]
    for dim, values in sorted(scan.filters.items()):
        conds.append(d.in_list(_ident(dim, DIMENSIONS), len(values)) if values else "1 = 0")
        where_args.extend(values)
    inner = f"SELECT {', '.join(cols)} FROM {source}{' WHERE ' if conds else ''}{' AND '.join(conds)}"
    names = ["type", *(f"g_{g}" for g in groups), *metrics, *gauges]
    if scan.start_s >= 0:  # no event before 1970: each row's period start by the engine's cheapest division
        bucket = f"{d.step_expr(scan.width_s, nonnegative=True)} AS bucket_us"
    else:
        bucket = f"{d.bucket_expr(scan.width_s)} * 1000000 AS bucket_us"
    # one type: its name, not a group (a key column less to hash per event)
    alone = len(scan.event_types) == 1 and scan.event_types[0].isidentifier()
    sel = [*([] if alone else ["type"]), bucket, *(f"g_{g}" for g in groups)]
    sel += [f"{d.int_sum(m)} AS {m}" for m in metrics]
    sel += [f"max({m}) AS {m}" for m in gauges]
    keys = ", ".join([*([] if alone else ["type"]), "bucket_us", *(f"g_{g}" for g in groups)])
    grouped = f"SELECT {', '.join(sel)} FROM ({inner}) AS u GROUP BY {keys}"
    # the period start in seconds, worked out once per group rather than once per row
    outer = [f"'{scan.event_types[0]}' AS type" if alone else "type", f"{d.div_expr('bucket_us', 1_000_000)} AS bucket",
             *names[1:]]
    return f"SELECT {', '.join(outer)} FROM ({grouped}) AS b", args + source_args + where_args


def _rollups(store: SqlStoreBase, dims: set[str]) -> tuple[tuple[str, int], ...]:
    """The rollups the store's own aggregations read now for a query using ``dims`` (none when it answers
    from raw events)."""
    return store.rollups_for(dims) if store.rollups else ()


def scan_usage(store: SqlStoreBase, scan: UsageScan) -> list[dict[str, Any]]:
    """Run ``scan`` on a store in one round trip; one dict per row (``type``, ``bucket``, groups, metrics).

    The store's dialect, raw table and rollups are the ones its own aggregations use.
    """
    sql, args = usage_scan_sql(scan, store.dialect, _rollups(store, {*scan.group_by, *scan.filters}))
    names = ["type", "bucket", *scan.group_by]
    counters = [*scan.metrics, *scan.gauges]
    out = []
    for row in store.execute(sql, args):  # engines differ in number types (PostgreSQL: numeric buckets)
        item = dict(zip(names, row, strict=False))
        item["bucket"] = int(item["bucket"])
        item.update({m: None if v is None else int(v) for m, v in zip(counters, row[len(names):], strict=True)})
        out.append(item)
    return out


# -- costs priced by the engine -----------------------------------------------------------------


@dataclass(frozen=True)
class ImportedScan:
    """The imported cost lines (``costs`` events) read by the same statement as the priced usage.

    Every line of the range is returned per day, project and line item (and the page's ``out`` groups),
    since any may stand for a priced line; ``filters`` (a page's ``project_id``, ``api_key_id``,
    ``line_item``) mark the ones the page adds, and ``add`` says whether it adds any."""

    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    add: bool = False


@dataclass(frozen=True)
class CostsScan:
    """A costs statement: the usage ``scan`` priced by joining the price rows on the price key.

    ``key_dims`` are the price dimensions (as in :data:`openusage.pricing.price_table.KEY_DIMS`), each
    kept for the types in ``key_types[dim]``; ``projects`` the projects with prices of their own.
    ``quantities`` is the SQL of each quantity (by index) over the scan's metric columns, ``out`` the
    groups returned (null in priced rows for a group the scan lacks), ``split_types`` the types whose
    rows are kept apart per project (storage, charged per project and part of a day)."""

    scan: UsageScan
    key_dims: tuple[str, ...]
    key_types: dict[str, tuple[str, ...]]
    projects: tuple[str, ...]
    quantities: tuple[str, ...]
    out: tuple[str, ...]
    split_types: tuple[str, ...]
    price_set: str
    """The price set whose rows (``price_rows``: key, from second, to second, line id, quantity index)
    price the usage."""
    imported: ImportedScan | None = None
    """The imported cost lines read beside, when wanted."""
    rows: tuple[tuple[str, int, int, int, int], ...] | None = None
    """The price rows (key, from second, to second, line id, quantity index) bound to the statement in
    place of ``price_rows``: a store that refuses writes (opened read-only, a replica) still prices."""
    type_quantities: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Each type's :attr:`quantities` over its own metrics alone (``"0"`` where it has none of one's):
    with these, a type read from the raw events is aggregated apart (:func:`_parts`)."""


SMALL = 2**62
"""Sums within ±this are answered as 64-bit integers."""
IMPORTED_IN_PAGE = -1
"""``line_id`` of an imported cost line the page adds (its filters match)."""
IMPORTED_OTHER = -2
"""``line_id`` of an imported cost line the page does not add, which may still stand for a priced line."""
COLUMNS = ("line_id", "sproj", "mkey", "qty", "big", "amount", "quantity", "unit")
"""The columns of a costs statement after ``bucket`` and the ``out`` groups."""

SEP = "\x1f"
"""Joins a price key's parts, here and in :mod:`openusage.pricing.price_table` (stored text holds no
control characters)."""
SEP_SQL = f"'{SEP}'"
"""The key separator as an SQL literal."""


def _price_rows_sql(d: Dialect, cs: CostsScan) -> tuple[str, list[Any]]:
    """The rows of the scan's price set as a relation ``p(key, lo, hi, line_id, q)``; distinct where the
    engine keeps no unique keys (ClickHouse: several workers loading the same key may write a row twice).
    With ``cs.rows``, those rows bound instead (:func:`bound_price_rows_sql`)."""
    if cs.rows is not None:
        return bound_price_rows_sql(d, cs.rows)
    distinct = "" if d.unique_keys else "DISTINCT "  # rows are unique by the table's key where keys are kept
    return (f"(SELECT {distinct}key, lo, hi, line_id, q FROM price_rows WHERE set_id = {d.placeholder})",
            [cs.price_set])


def bound_price_rows_sql(d: Dialect, rows: tuple[tuple[str, int, int, int, int], ...]) -> tuple[str, list[Any]]:
    """Price rows as a relation ``p(key, lo, hi, line_id, q)``: five bound arrays (DuckDB, PostgreSQL:
    binding thousands of scalars costs more than the join), bound VALUES (ClickHouse)."""
    p = d.placeholder
    rows = rows or (("", 0, 0, 0, 0),)  # no key starts empty: matches nothing
    if isinstance(d, ClickHouseDialect):
        tuples = ", ".join([f"({p}, {p}, {p}, {p}, {p})"] * len(rows))
        return (f"(SELECT * FROM VALUES('key String, lo Int64, hi Int64, line_id Int64, q Int32', {tuples}))",
                [v for r in rows for v in r])
    columns = [list(c) for c in zip(*rows, strict=True)]
    if isinstance(d, PostgresDialect):
        return (f"(SELECT * FROM unnest(CAST({p} AS text[]), CAST({p} AS bigint[]), CAST({p} AS bigint[]), "
                f"CAST({p} AS bigint[]), CAST({p} AS integer[])) AS v(key, lo, hi, line_id, q))", columns)
    return (f"(SELECT unnest(CAST({p} AS VARCHAR[])) AS key, unnest(CAST({p} AS BIGINT[])) AS lo, "
            f"unnest(CAST({p} AS BIGINT[])) AS hi, unnest(CAST({p} AS BIGINT[])) AS line_id, "
            f"unnest(CAST({p} AS INTEGER[])) AS q)", columns)


def _imported_sql(cs: CostsScan, imp: ImportedScan, d: Dialect,
                  rollups: tuple[tuple[str, int], ...]) -> tuple[str, list[Any]]:
    """The imported cost lines summed by day, ``out`` group, project and line item, in the costs
    statement's columns: ``line_id`` marks them (:data:`IMPORTED_IN_PAGE`, :data:`IMPORTED_OTHER`),
    ``sproj`` is the project, ``mkey`` the line item, ``amount``, ``quantity``, ``unit`` their sums."""
    p = d.placeholder
    scan = cs.scan
    out = [_ident(g, DIMENSIONS) for g in cs.out]
    conds: list[str] = []
    cond_args: list[Any] = []
    for dim, values in sorted(imp.filters.items()):
        conds.append(d.in_list(_ident(dim, DIMENSIONS), len(values)) if values else "1 = 0")
        cond_args.extend(values)
    mark = (f"CASE WHEN {' AND '.join(conds)} THEN {IMPORTED_IN_PAGE} ELSE {IMPORTED_OTHER} END" if imp.add and conds
            else str(IMPORTED_IN_PAGE if imp.add else IMPORTED_OTHER))
    dims = [g for g in DIMENSIONS if g in (*out, "project_id", "line_item", *imp.filters)]
    source, source_args = _source(("costs",), scan.start_s, scan.end_s, scan.width_s,
                                  ["type", "ts_us", *dims, "amount", "quantity", "quantity_unit"], d, rollups)
    where, where_args = "", []
    if source == d.raw_events:  # a union of parts reads only the cost lines of the range already
        where = f" WHERE type = {p} AND ts_us >= {p} AND ts_us < {p}"
        where_args = ["costs", scan.start_s * 1_000_000, scan.end_s * 1_000_000]
    inner = (f"SELECT {d.bucket_expr(scan.width_s)} AS bucket, {''.join(f'{o} AS i_{o}, ' for o in out)}"
             f"{mark} AS line_id, project_id AS sproj, line_item AS mkey, amount, quantity, quantity_unit "
             f"FROM {source}{where}")
    keys = ["bucket", *(f"i_{o}" for o in out), "line_id", "sproj", "mkey"]
    sql = (f"SELECT bucket, {''.join(f'i_{o} AS {o}, ' for o in out)}line_id, sproj, mkey, NULL AS qty, "
           f"NULL AS big, SUM(amount) AS amount, SUM(quantity) AS quantity, min(quantity_unit) AS unit "
           f"FROM ({inner}) AS c GROUP BY {', '.join(keys)}")
    return sql, [*cond_args, *source_args, *where_args]


def _key_sql(cs: CostsScan, d: Dialect, event_type: str | None = None) -> tuple[str, list[Any]]:
    """The price key of a usage row (:func:`openusage.pricing.price_table.key_text`) in SQL: its type, the
    project when it has prices of its own, then each price dimension's value for the types priced by it
    (else empty), joined by the separator.

    The dimensions are picked by one ``CASE`` on the type, each branch concatenating only that type's
    values: a ``type IN (...)`` test per dimension instead cost DuckDB a join per list (and the planning
    of them), several milliseconds a page.  With ``event_type``, the key of that type's rows alone (a
    part of the statement reading only them): its literal text and its own dimensions, no ``CASE``."""
    project, args = "''", []
    if cs.projects and "project_id" in cs.scan.group_by:
        project = f"CASE WHEN {d.in_list('s.g_project_id', len(cs.projects))} THEN s.g_project_id ELSE '' END"
        args = list(cs.projects)

    def values(event_type: str | None) -> list[str]:
        """The separator and value of each price dimension for ``event_type`` (None: no type's), adjacent
        literals merged."""
        pieces: list[str] = []
        literal = ""
        for dim in cs.key_dims:
            literal += SEP
            if event_type is None or event_type not in cs.key_types.get(dim, ()) or dim not in cs.scan.group_by:
                continue
            col = f"s.g_{_ident(dim, DIMENSIONS)}"
            pieces += [f"'{literal}'", f"CASE WHEN {col} THEN '1' ELSE '' END" if DIMENSIONS[dim].kind == "bool"
                       else f"coalesce({col}, '')"]
            literal = ""
        return [*pieces, f"'{literal}'"] if literal else pieces

    if event_type is not None and event_type.isidentifier():
        return f"concat('{event_type}{SEP}', {', '.join([project, *values(event_type)])})", args
    whens = " ".join(f"WHEN '{t}' THEN {' || '.join(values(t))}" for t in cs.scan.event_types if t.isidentifier())
    dims = f"CASE s.type {whens} ELSE {' || '.join(values(None))} END" if whens else " || ".join(values(None))
    return f"s.type || {SEP_SQL} || {project} || {dims}", args


def _parts(cs: CostsScan, d: Dialect, summaries: tuple[tuple[str, int], ...],
           priced_from: int) -> list[tuple[str | None, UsageScan]]:
    """The usage scan of ``cs`` in parts, each aggregated apart: a type read from the raw events (or
    rollups) alone, grouped only by the dimensions it stores (and the page's groups) and summing only
    its own metrics, rather than by every type's dimensions with every type's metrics (11 groups and
    17 sums over a million events: DuckDB spent twice as long); the types the summaries keep
    (:func:`summary_types`, few rows) together as one scan.  (type, scan) per part, None for the
    part of several types.  One part (the whole scan) where the scan reads no raw events, and on the
    other engines (not measured there: a scan of the events per type may cost a row store more).

    The groups of each type are those of the whole scan: a dimension a type does not store holds one
    value for all its rows (null, or the dimension's default), so leaving it out splits no group."""
    scan = cs.scan
    cheap = summary_types(scan, priced_from) if summaries else ()
    raw = [t for t in scan.event_types if t not in cheap and t in cs.type_quantities and t.isidentifier()]
    if not isinstance(d, DuckDBDialect) or not raw:
        return [(None, scan)]
    parts: list[tuple[str | None, UsageScan]] = []
    for t in raw:
        stored = stored_dimensions(t)
        own = {m.name for m in event_metrics(t)}
        parts.append((t, UsageScan(
            event_types=(t,), start_s=scan.start_s, end_s=scan.end_s, width_s=scan.width_s,
            group_by=tuple(g for g in scan.group_by
                           if (g not in scan.only or t in scan.only[g]) and (g in stored or g in cs.out)),
            filters=scan.filters,
            metrics=tuple(m for m in scan.metrics if m in own),
            gauges=tuple(m for m in scan.gauges if m in own))))
    rest = tuple(t for t in scan.event_types if t not in raw)
    if rest:
        parts.append((None, replace(scan, event_types=rest)))
    return parts


def costs_sql(cs: CostsScan, d: Dialect, rollups: tuple[tuple[str, int], ...] = (),
              limit: int | None = None, imported_rollups: tuple[tuple[str, int], ...] = (),
              summaries: tuple[tuple[str, int], ...] = (), priced_from: int = 0,
              ordered: bool = True) -> tuple[str, list[Any]]:
    """One statement: usage per day and price key joined with the price rows, each line's quantity of
    each usage row by ``bucket``, the ``out`` groups, the line, and (for ``split_types``) the project;
    with :attr:`CostsScan.imported`, the imported cost lines beside (:func:`_imported_sql`).

    Columns: ``bucket``, the ``out`` groups, then :data:`COLUMNS`: ``line_id`` (0 where the usage's key
    has no price rows yet), ``sproj``, ``mkey`` (that key, else null), ``qty`` (the quantity when within
    64 bits) and ``big`` (else: the quantity, 38 digits), ``amount``, ``quantity``, ``unit`` (null);
    lines of quantity 0 are left out.  A line may have several rows of one bucket and groups (usage
    rows of two keys priced alike): readers sum them.
    With ``limit``, the first rows in bucket order (every day before the last row's is whole); not
    ``ordered``: any rows up to that many (all of them when fewer: sorting them is then wasted)."""
    prices, price_args = _price_rows_sql(d, cs)
    # only the day ranges the page's buckets meet: a key has a row per range of its whole history
    low = (cs.scan.start_s // cs.scan.width_s) * cs.scan.width_s
    prices = f"(SELECT * FROM {prices} AS pr WHERE pr.hi > {d.placeholder} AND pr.lo < {d.placeholder})"
    price_args = [*price_args, low, cs.scan.end_s]
    used = [i for i, e in enumerate(cs.quantities) if e != "0"]
    qty = "CASE p.q " + " ".join(f"WHEN {i} THEN u.q{i}" for i in used) + " END"
    split = ", ".join(f"'{t}'" for t in cs.split_types if t.isidentifier())
    sproj = f"CASE WHEN u.type IN ({split}) THEN u.g_project_id END" if split else "NULL"
    line = "coalesce(p.line_id, 0)"
    out = [_ident(g, DIMENSIONS) for g in cs.out]
    have = [o for o in out if o in cs.scan.group_by]
    with_project = split and "project_id" not in have
    # each part's rows keyed by price key, each quantity worked out once per usage row (before the
    # join makes a row per line)
    selects: list[str] = []
    args: list[Any] = []
    for event_type, scan in _parts(cs, d, summaries, priced_from):
        inner, inner_args = usage_scan_sql(scan, d, rollups, summaries, priced_from)
        part = cs if event_type is None else replace(cs, scan=scan)
        ukey, key_args = _key_sql(part, d, event_type)
        quantities = cs.quantities if event_type is None else cs.type_quantities[event_type]
        cols = [f"s.g_{o}" if o in scan.group_by else f"NULL AS g_{o}" for o in have]
        if with_project:
            cols.append("s.g_project_id" if "project_id" in scan.group_by else "NULL AS g_project_id")
        selects.append(f"SELECT s.type, s.bucket, {''.join(f'{c}, ' for c in cols)}{ukey} AS ukey, "
                       f"{', '.join(f'{quantities[i]} AS q{i}' for i in used)} FROM ({inner}) AS s")
        args += key_args + inner_args
    joined = (f"SELECT u.bucket AS bucket, {''.join(f'u.g_{o} AS {o}, ' for o in have)}{line} AS line_id, "
              f"{sproj} AS sproj, CASE WHEN {line} = 0 THEN u.ukey END AS mkey, {qty} AS qv "
              f"FROM ({' UNION ALL '.join(selects)}) AS u "
              f"LEFT JOIN {prices} AS p ON p.key = u.ukey "
              f"WHERE {line} = 0 OR (u.bucket >= p.lo AND u.bucket < p.hi)")
    # a line of nothing (no audio tokens, say) charges nothing: left out; the rows are not summed by
    # line here, since the reader sums them by result anyway (and few lines have two usage rows)
    kept = f"SELECT * FROM ({joined}) AS j WHERE line_id = 0 OR qv <> 0"
    # a sum within 64 bits is answered as one (drivers turn those into numbers much faster), else in full
    small = f"qv BETWEEN {-SMALL} AND {SMALL}"
    groups = "".join(f"{o}, " if o in have else f"NULL AS {o}, " for o in out)
    sql = (f"SELECT bucket, {groups}line_id, sproj, mkey, CASE WHEN {small} THEN CAST(qv AS BIGINT) END AS qty, "
           f"CASE WHEN NOT ({small}) THEN qv END AS big, NULL AS amount, NULL AS quantity, NULL AS unit "
           f"FROM ({kept}) AS g")
    args += price_args
    if cs.imported is not None:
        imp_sql, imp_args = _imported_sql(cs, cs.imported, d, imported_rollups)
        sql = f"SELECT * FROM ({sql} UNION ALL {imp_sql}) AS a"
        args += imp_args
    if limit is not None:
        sql += f"{' ORDER BY bucket' if ordered else ''} LIMIT {int(limit)}"
    return _shared_levels(sql, d, summaries), args


def _shared_levels(sql: str, d: Dialect, levels: tuple[tuple[str, int], ...]) -> str:
    """``sql`` with each of ``levels`` it reads more than once, when a subquery (a DuckDB store's summary
    with the rows not folded into it yet: the usage and the imported lines both read it), named once in
    a ``WITH`` clause: DuckDB then binds it once, not once per part (about a millisecond of planning)."""
    shared = [rel for rel, _ in levels if not rel.isidentifier() and d.placeholder not in rel and sql.count(rel) > 1]
    if not shared:
        return sql
    for i, rel in enumerate(shared):
        sql = sql.replace(rel, f"shared_{i}")
    return "WITH " + ", ".join(f"shared_{i} AS (SELECT * FROM {rel})" for i, rel in enumerate(shared)) + " " + sql


def run_costs(store: SqlStoreBase, cs: CostsScan, limit: int | None = None, ordered: bool = True) -> CostRows:
    """Run ``cs`` on a store in one round trip (at most ``limit`` rows, in bucket order unless not
    ``ordered``: :func:`costs_sql`), with the tables and rollups its own aggregations use."""
    engine: Any = store
    if isinstance(store.dialect, DuckDBDialect) and getattr(engine, "summaries_fold_later", False):
        # the summaries, the minute rows not folded further and the events not folded yet, read in one
        # transaction with the number saying which those are: every event counted once
        table = engine.read_summaries(lambda levels: _costs_statement(store, cs, limit, levels, ordered))
        return CostRows.of(table, costs_names(cs))
    sql, args = _costs_statement(store, cs, limit, _summaries(store), ordered)
    return CostRows.of(_fetch_arrow(store, sql, args), costs_names(cs))


def costs_names(cs: CostsScan) -> list[str]:
    """The column names of ``cs``'s statement: ``bucket``, the ``out`` groups, then :data:`COLUMNS`."""
    return ["bucket", *cs.out, *COLUMNS]


INT_COLUMNS = ("bucket", "line_id", "qty")
"""Columns every engine answers as integers within 64 bits (PostgreSQL: ``numeric`` buckets)."""


def _fetch_arrow(store: SqlStoreBase, sql: str, args: list[Any]) -> pa.Table | list[tuple[Any, ...]]:
    """The statement's answer as Arrow where the engine's client makes it (DuckDB, ClickHouse: no
    Python object per value), else its rows (PostgreSQL's cursor)."""
    engine: Any = store
    if isinstance(store.dialect, DuckDBDialect) and hasattr(engine, "_reader"):
        return engine._reader().sql(sql, params=args).to_arrow_table()  # the reader its aggregations use
    if isinstance(store.dialect, ClickHouseDialect) and hasattr(engine, "arrow"):
        return engine.arrow(sql, args)
    return store.execute(sql, args)


@dataclass
class CostRows:
    """A costs statement's answer: its columns in Arrow (``bucket``, line id and ``qty`` as int64), and
    the same rows as Python tuples on demand (the few rows priced one by one)."""

    table: pa.Table
    tuples: list[tuple[Any, ...]] | None = None
    """The driver's own rows, when it made them (their exact values: PostgreSQL numerics)."""

    @classmethod
    def of(cls, answer: pa.Table | list[tuple[Any, ...]], names: list[str]) -> CostRows:
        if isinstance(answer, pa.Table):
            cols = [c.cast(pa.int64()) if n in INT_COLUMNS and c.type != pa.int64() else c
                    for n, c in zip(names, answer.columns, strict=True)]
            return cls(pa.table(cols, names=names))
        values = list(zip(*answer, strict=True)) if answer else [() for _ in names]
        return cls(pa.table([_column(n, list(v)) for n, v in zip(names, values, strict=True)], names=names),
                   answer)

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    def rows(self, mask: pa.Array | None = None) -> list[tuple[Any, ...]]:
        """The rows (where ``mask`` is true) as tuples, in order."""
        if self.tuples is not None:
            if mask is None:
                return self.tuples
            return [r for r, keep in zip(self.tuples, mask.to_pylist(), strict=True) if keep]
        table = self.table if mask is None else self.table.filter(mask)
        return list(zip(*(c.to_pylist() for c in table.columns), strict=True))

    def filter(self, mask: pa.Array) -> CostRows:
        """The rows where ``mask`` is true."""
        return CostRows(self.table.filter(mask), None if self.tuples is None else self.rows(mask))


def _column(name: str, values: list[Any]) -> pa.Array:
    """A column of driver values in Arrow: the integer columns as int64, others as Arrow infers them
    (text when it cannot: such columns are read from the tuples, only their nulls from Arrow)."""
    if name in INT_COLUMNS:
        return pa.array([None if v is None else int(v) for v in values], pa.int64())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def _costs_statement(store: SqlStoreBase, cs: CostsScan, limit: int | None,
                     summaries: tuple[tuple[str, int], ...], ordered: bool = True) -> tuple[str, list[Any]]:
    """The SQL and arguments of ``cs`` on ``store``, reading the relations its aggregations read: the
    smallest rollups keeping the dimensions used (or raw events), and ``summaries`` for the types whose
    groups they keep."""
    priced = store_priced_from(store) if summaries else 0
    dims = {*cs.scan.group_by, *cs.scan.filters}
    if cs.scan.start_s < priced and set(PRICED_TYPES) & set(cs.scan.event_types):
        # those types the old way: the summaries of their first periods lack their price dimensions, so
        # the rollups after the summaries (those keeping the free-form ids too) serve them, as before
        dims.add("api_key_id")
    usage_rollups = _rollups(store, dims)
    imported_rollups = (() if cs.imported is None else  # what the imported lines' scan reads (_imported_sql)
                        _imported_levels(store, cs.out, cs.imported, summaries))
    return costs_sql(cs, store.dialect, usage_rollups, limit, imported_rollups, summaries, priced, ordered)


def _imported_levels(store: SqlStoreBase, out: tuple[str, ...], imp: ImportedScan,
                     summaries: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """What the imported cost lines are read from: without the rollups, the ``summaries`` the usage
    reads when they keep every dimension the lines are grouped and filtered by (they keep ``costs``
    events' amount, quantity and unit summed like the rollups do), rather than a scan of every raw
    event for a type that is rarely there; else the rollups keeping those dimensions (raw events when
    none)."""
    dims = {*out, "project_id", "line_item", *imp.filters}
    if summaries and not store.rollups and dims <= set(SUMMARY_DIMS):
        return summaries
    return _rollups(store, dims)


_PRICED_FROM: weakref.WeakKeyDictionary[SqlStoreBase, int] = weakref.WeakKeyDictionary()


def store_priced_from(store: SqlStoreBase) -> int:
    """The store's :data:`.sql.PRICED_FROM` (0 when absent), read once: only the migration writes it."""
    if store not in _PRICED_FROM:
        value = store.get_meta(PRICED_FROM)
        _PRICED_FROM[store] = int(value) if value else 0
    return _PRICED_FROM[store]


def _summaries(store: SqlStoreBase) -> tuple[tuple[str, int], ...]:
    """The summaries the store's own aggregations read with the rollups on (as its ``aggregate`` picks
    them), or none."""
    if isinstance(store.dialect, SUMMARY_DIALECTS) and store.rollups:
        return SUMMARIES
    return ()
