"""``GET /v1/organization/costs`` from the usage the store holds, priced at query time by the engine.

For the page's day buckets, one store statement (:func:`openusage.store.pricing_sql.costs_sql`)
aggregates every priced usage type, each grouped by the dimensions its price depends on (the
:mod:`.kinds` table: model, batch, service tier, image size, context level; the project when project
prices exist) plus the costs ``group_by`` dimensions, joins those rows with the price rows of
:mod:`.price_table` on the price key and the day, and sums each line's quantity by day, group and line.
Each summed quantity is multiplied by its exact unit price here (80-digit decimals, never rounded: see
:mod:`.price_table` for why not in the engine), and the charges summed into one result per bucket and
group.  :func:`compute_costs_reference` prices each aggregated usage row in Python instead
(:mod:`.compute`): the independent reference the engine's costs are tested against.

Imported cost lines (``costs`` events, e.g. mirrored from OpenAI) are added as they are, never priced.
Where an imported line has the same name, day and project as a computed one (usage and costs mirrored
together by ``openusage sync``), the imported line stands and the usage is not priced a second time;
imported lines of other names (a support plan, say) are added beside the priced usage.  They are read
by the same statement as the usage (:class:`.pricing_sql.ImportedScan`); only when one has the day and
name of a priced line is the statement run again, grouped by project, to leave that usage out.

Because pricing happens at query time, a new or changed price re-prices history from its
``effective_from`` day (UTC) on, and never before.  Usage that no price covers is left out of the
amounts and reported: the response carries ``openusage-unpriced-models`` and a warning is logged.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from typing import Any

import orjson

from ..errors import invalid
from ..query.params import UsageQuery
from ..query.render import result_template
from ..spec import ENDPOINTS_BY_NAME, event_metrics, stored_dimensions
from ..store.base import Aggregate, Store
from ..store.common import SqlStoreBase
from ..store.pricing_sql import (
    IMPORTED_IN_PAGE,
    IMPORTED_OTHER,
    CostsScan,
    ImportedScan,
    UsageScan,
    run_costs,
    scan_usage,
)
from .book import PriceBook
from .catalog import TOOL_NAMES
from .compute import EXACT, Charge, Unpriced, price_row, reported_quantity, utc_day
from .kinds import PRICE_KINDS
from .price_table import KEY_DIMS, PriceLine, PriceTable, price_table, quantity_sql
from .render import render_costs

log = logging.getLogger("openusage.pricing")

DAY = 86400
UNPRICED_HEADER = "openusage-unpriced-models"
NO_MODEL = "(no model)"
UNLABELED = "unlabeled"
WARN_EVERY_S = 3600
"""The unpriced-usage warning is logged once per model in this many seconds, not on every request."""
MAX_WARNED = 10_000
_warned: dict[str, float] = {}
COSTS = ENDPOINTS_BY_NAME["costs"]


@dataclass(slots=True)
class Line:
    """One result being summed: amount, and quantity in one unit when grouped by line item."""

    amount: Decimal = Decimal(0)
    quantity: Decimal = Decimal(0)
    unit: str | None = None
    has_quantity: bool = False


@dataclass
class CostResult:
    """Summed costs by (bucket start, group values), and the usage nothing priced."""

    group_by: tuple[str, ...]
    lines: dict[tuple[Any, ...], Line] = field(default_factory=dict)
    unpriced: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def add(self, key: tuple[Any, ...], amount: Decimal, quantity: Decimal | None, unit: str | None) -> None:
        line = self.lines.get(key)
        if line is None:
            line = self.lines[key] = Line()
        line.amount = EXACT.add(line.amount, amount)
        if quantity is not None:
            line.quantity = EXACT.add(line.quantity, quantity)
            line.has_quantity = True
        line.unit = line.unit or unit

    @property
    def unpriced_models(self) -> list[str]:
        return sorted({name for _, name, _ in self.unpriced})

    def total(self) -> Decimal:
        out = Decimal(0)
        for line in self.lines.values():
            out = EXACT.add(out, line.amount)
        return out


def usage_scan(start: int, end: int, group_by: Iterable[str], filters: dict[str, Any], book: PriceBook,
               by_project: bool = False) -> UsageScan:
    """The one store aggregation behind a costs page: every priced usage type, grouped by the union of
    what their prices depend on and the page's groups (a type lacking a dimension has null there)."""
    usage_filters = {d: tuple(v) for d, v in filters.items() if d in ("project_id", "api_key_id", "origin")}
    # e.g. api_key_ids: storage is not attributed to keys, so none of it matches
    kinds = [k for k in PRICE_KINDS if all(d in stored_dimensions(k.event_type) for d in usage_filters)]
    grouped: dict[str, list[str]] = {}  # dimension -> the types grouped by it
    for k in kinds:
        dims = stored_dimensions(k.event_type)
        own = [*k.dims, *(g for g in group_by if g in dims)]
        if (book.project_specific or by_project) and "project_id" in dims:
            own.append("project_id")
        for g in dict.fromkeys(own):
            grouped.setdefault(g, []).append(k.event_type)
    read = {m for k in kinds for m in k.metrics}
    metrics = {m.name: m.agg for k in kinds for m in event_metrics(k.event_type) if m.name in read}
    return UsageScan(
        event_types=tuple(k.event_type for k in kinds),
        start_s=start,
        end_s=end,
        width_s=DAY,
        group_by=tuple(grouped),
        filters=usage_filters,
        metrics=tuple(m for m, agg in metrics.items() if agg == "sum"),
        gauges=tuple(m for m, agg in metrics.items() if agg == "gauge"),
        # a type without the dimension stores null (or the dimension's constant default) there already:
        # only the types that have it and are not grouped by it need it nulled
        only={g: tuple(types) for g, types in grouped.items()
              if any(g in stored_dimensions(k.event_type) and k.event_type not in types for k in kinds)},
    )


def compute_costs_reference(store: Store, start: int, end: int, group_by: tuple[str, ...] = (),
                            filters: dict[str, Any] | None = None, book: PriceBook | None = None,
                            imported: Aggregate | None = None) -> CostResult:
    """Costs of the usage in [start, end) by day bucket and ``group_by``, every aggregated usage row
    priced in Python (:func:`.compute.price_row`): the independent reference :func:`compute_costs`
    (priced by the engine) is tested against.

    ``filters`` maps ``project_id``/``api_key_id``/``line_item`` to allowed values. ``imported`` is the
    aggregation of imported cost lines to add as they are.
    """
    filters = filters or {}
    book = book or PriceBook.for_store(store)
    result = CostResult(group_by)
    wanted_lines = set(filters["line_item"]) if "line_item" in filters else None
    by_line = "line_item" in group_by
    line_at = group_by.index("line_item") if by_line else -1
    covered = imported_lines(store, start, end)
    whole_org = not {"project_id", "api_key_id", "origin"} & set(filters)
    held: dict[int, int] = {}  # day bucket -> bytes of vector storage held, every project
    billed = {(b, p, line.split(", ", 1)[0]) for b, p, line in covered if line}  # models an imported line bills
    for row in scan_usage(sql_store(store), usage_scan(start, end, group_by, filters, book, by_project=bool(covered))):
        kind = row["type"]
        name = TOOL_NAMES.get(kind) or row.get("model") or NO_MODEL
        res = book.resolve(name, kind, utc_day(row["bucket"]), row.get("project_id"))
        charges, unpriced = price_row(kind, name, row, res, book.catalog.default_tiers)
        for u in unpriced:
            if (row["bucket"], row.get("project_id"), name) not in billed:  # else the imported bill prices it
                _note(result, u)
        if kind == "vector_stores":
            fraction = day_fraction(row["bucket"], start, end)
            charges = [part_of_day(c, fraction) for c in charges]
            held[row["bucket"]] = held.get(row["bucket"], 0) + int(row.get("usage_bytes") or 0)
        values = [_group_value(row, g) for g in group_by]
        for c in charges:
            if wanted_lines is not None and c.line_item not in wanted_lines:
                continue
            if covered and (row["bucket"], row.get("project_id"), c.line_item) in covered:
                continue  # billed by the imported line of the same name
            if by_line:
                values[line_at] = c.line_item
                result.add((row["bucket"], *values), c.amount, reported_quantity(c), c.unit)
            else:
                result.add((row["bucket"], *values), c.amount, None, None)
    if whole_org:
        for c_key, c in free_storage(book, held, start, end, covered):
            if wanted_lines is None or c.line_item in wanted_lines:
                key = (c_key, *(c.line_item if g == "line_item" else _group_value({}, g) for g in group_by))
                result.add(key, c.amount, reported_quantity(c) if by_line else None, c.unit if by_line else None)
    if imported is not None:
        _add_imported(store, imported, result)
    return result


def sql_store(store: Store) -> SqlStoreBase:
    """``store`` as the SQL store whose statements price costs (every engine's store is one)."""
    if not isinstance(store, SqlStoreBase):
        raise TypeError(f"costs are computed by a SQL store, not {type(store).__name__}")
    return store


def costs_scan(start: int, end: int, group_by: Iterable[str], filters: dict[str, Any], book: PriceBook,
               table: PriceTable, by_project: bool = False, imported: ImportedScan | None = None) -> CostsScan:
    """The one statement behind a costs page priced by the engine: :func:`usage_scan` keyed by price
    key (from the :data:`.kinds.PRICE_KINDS` rows) and joined with ``table``'s rows; with ``imported``,
    the imported cost lines beside."""
    scan = usage_scan(start, end, group_by, filters, book, by_project)
    types = set(scan.event_types)
    kinds = [k for k in PRICE_KINDS if k.event_type in types]
    out = [g for g in group_by if g != "line_item" and (imported is not None or g in scan.group_by)]
    if by_project and "project_id" in scan.group_by and "project_id" not in out:
        out.append("project_id")
    return CostsScan(
        scan=scan,
        key_dims=KEY_DIMS,
        key_types={d: tuple(k.event_type for k in kinds if d in k.dims) for d in KEY_DIMS},
        projects=tuple(sorted({p.project_id for p in book.custom if p.project_id is not None})),
        quantities=quantity_sql((*scan.metrics, *scan.gauges), col="s."),
        out=tuple(out),
        # usage charged per project and per part of a day (storage held): kept apart per project
        split_types=tuple(k.event_type for k in kinds if "project_id" in k.dims and "project_id" in scan.group_by),
        price_set=table.version,
        imported=imported,
    )


MAX_ROUNDS = 3
"""Runs of the statement at most: new price keys found by the first are materialised for the second."""


def priced_rows(store: Store, start: int, end: int, group_by: Iterable[str], filters: dict[str, Any],
                book: PriceBook, by_project: bool = False, row_limit: int | None = None,
                imported: ImportedScan | None = None) -> tuple[CostsScan, PriceTable, list[tuple[Any, ...]], int]:
    """The statement's rows (``bucket``, the ``out`` groups, then :data:`.pricing_sql.COLUMNS`), every
    usage key priced: a key without price rows in the store is materialised, loaded into the store's
    price table and the statement run again.

    With ``row_limit``, the rows of the first days in order up to that many rows: the last item is
    the end of the days answered whole (``end`` when all are)."""
    table = price_table(book)
    group_by = tuple(group_by)
    sql = sql_store(store)
    bound: tuple[tuple[str, int, int, int, int], ...] | None = None  # set when the store's rows fall short
    loaded: set[str] = set()
    for _ in range(MAX_ROUNDS):
        cs = dataclasses.replace(costs_scan(start, end, group_by, filters, book, table, by_project, imported),
                                 rows=bound)
        rows = run_costs(sql, cs, row_limit)
        whole_until = end
        if row_limit is not None and len(rows) >= row_limit:  # the last day may be cut short: left out
            whole_until = int(rows[-1][0])
            rows = [r for r in rows if int(r[0]) < whole_until]
        at = len(cs.out) + 1  # line_id; mkey two on
        if set(map(itemgetter(at), rows)) - table.lines.keys() - {IMPORTED_IN_PAGE, IMPORTED_OTHER}:
            table.add(sql.price_keys(table.version))  # rows another worker loaded: their lines made here
        missing = {r[at + 2] for r in rows if r[at] == 0}
        if not missing:
            return cs, table, rows, whole_until
        if bound is None and not missing & loaded:
            # keys new to the store (or to this set, or deleted with an older set): loaded, then priced again
            bound = _load_price_rows(sql, table, missing)
            loaded |= missing
        else:  # rows loaded but gone (deleted with their set since, not yet replicated): bound instead
            bound = _bound_price_rows(sql, table, missing)
    raise RuntimeError(f"price keys not materialised after {MAX_ROUNDS} rounds: {sorted(missing)[:5]}")


def compute_costs(store: Store, start: int, end: int, group_by: tuple[str, ...] = (),
                  filters: dict[str, Any] | None = None, book: PriceBook | None = None,
                  imported: Aggregate | None = None) -> CostResult:
    """Costs of the usage in [start, end) by day bucket and ``group_by`` (exact decimals), priced by the
    engine: one statement joins the usage with the price rows and sums each line's quantity; each sum
    is multiplied by its exact unit price here (see :mod:`.price_table` for why not in the engine).

    ``filters`` maps ``project_id``/``api_key_id``/``line_item`` to allowed values. ``imported`` is the
    aggregation of imported cost lines to add as they are.
    """
    return _costs(store, start, end, group_by, filters, book, imported)[0]


def _costs(store: Store, start: int, end: int, group_by: tuple[str, ...] = (),
           filters: dict[str, Any] | None = None, book: PriceBook | None = None,
           imported: Aggregate | None = None, row_limit: int | None = None,
           stop_over: int | None = None) -> tuple[CostResult, int]:
    """:func:`compute_costs` reading at most ``row_limit`` rows, and the end of the days it answers
    whole (``end`` unless the rows ran out: the results of later days are then partial).  With
    ``stop_over`` (and ``row_limit``: rows in day order), days after the one whose priced lines make
    more results than that are left out too: no page holding them may hold the next day."""
    filters = filters or {}
    book = book or PriceBook.for_store(store)
    result = CostResult(group_by)
    wanted_lines = set(filters["line_item"]) if "line_item" in filters else None
    by_line = "line_item" in group_by
    whole_org = not {"project_id", "api_key_id", "origin"} & set(filters)
    # the costs filters are lists (project, API key, line item): no yes/no filter applies to cost lines
    scan = ImportedScan({d: v for d, v in imported.filters.items() if isinstance(v, tuple)} if imported else {},
                        add=imported is not None)
    cs, table, rows, whole_until = priced_rows(store, start, end, group_by, filters, book, False, row_limit, scan)
    lines = table.lines
    n_out = len(cs.out)
    covered = {(int(r[0]), r[n_out + 2], r[n_out + 3]) for r in rows if r[n_out + 1] < 0}
    if covered and _may_cover(rows, n_out, lines, covered):
        # an imported line stands for a priced one of its day, project and name: priced per project
        cs, table, rows, whole_until = priced_rows(store, start, end, group_by, filters, book, True, row_limit, scan)
        n_out = len(cs.out)
        covered = {(int(r[0]), r[n_out + 2], r[n_out + 3]) for r in rows if r[n_out + 1] < 0}
    held: dict[int, int] = {}  # day bucket -> bytes of vector storage held, every project
    billed = {(b, p, line.split(", ", 1)[0]) for b, p, line in covered if line}  # models an imported line bills
    at = {g: 1 + i for i, g in enumerate(cs.out)}  # row position of each output group
    project_at = at.get("project_id")
    cols = [at.get(g) for g in group_by]  # None: a line item or null
    line_pos = group_by.index("line_item") if by_line else -1
    api_pos = group_by.index("api_source") if "api_source" in group_by else -1
    fractions: dict[int, Decimal] = {}
    out_lines = result.lines
    multiply, add = EXACT.multiply, EXACT.add
    imports: dict[tuple[Any, ...], tuple[Decimal, float | None, str | None]] = {}
    day = None
    stop = stop_over if row_limit is not None else None
    for row in rows:
        line_id = row[n_out + 1]
        bucket = int(row[0])
        if bucket != day:
            if stop is not None and len(out_lines) > stop:
                whole_until = min(whole_until, bucket)
                break
            day = bucket
        if line_id < 0:  # an imported cost line
            if line_id == IMPORTED_IN_PAGE:
                key = (bucket, *(row[n_out + 3] if g == "line_item" else row[c] if c is not None else None
                                 for g, c in zip(group_by, cols, strict=True)))
                _add_import(imports, key, row[n_out + 6], row[n_out + 7], row[n_out + 8])
            continue
        qty = row[n_out + 4]
        if qty is None:
            qty = int(row[n_out + 5] or 0)
        if not qty:
            continue
        line = lines[line_id]
        project = None
        if covered or line.unit_price is None:
            project = row[project_at] if project_at is not None else row[n_out + 2]
        if line.kind == "vector_stores":
            held[bucket] = held.get(bucket, 0) + qty
        if line.unit_price is None:
            if (bucket, project, line.name) not in billed:  # else the imported bill prices it
                _note(result, Unpriced(line.kind, line.name, line.detail, qty))
            continue
        if wanted_lines is not None and line.line_item not in wanted_lines:
            continue
        if covered and (bucket, project, line.line_item) in covered:
            continue  # billed by the imported line of the same name
        if line.kind == "vector_stores":  # storage: the part of the day in the range
            fraction = fractions.get(bucket)
            if fraction is None:
                fraction = fractions[bucket] = day_fraction(bucket, start, end)
            c = part_of_day(Charge(line.line_item, Decimal(qty), line.unit, multiply(qty, line.unit_price)), fraction)
            amount, quantity = c.amount, reported_quantity(c)
        else:
            amount, quantity = multiply(qty, line.unit_price), Decimal(qty)
        values = [None if c is None else row[c] for c in cols]
        if line_pos >= 0:
            values[line_pos] = line.line_item
        if api_pos >= 0 and values[api_pos] is None:
            values[api_pos] = UNLABELED
        key = (bucket, *values)
        item = out_lines.get(key)
        if item is None:
            item = out_lines[key] = Line()
        item.amount = add(item.amount, amount)
        if by_line:
            item.quantity = add(item.quantity, quantity)
            item.has_quantity = True
            item.unit = item.unit or line.unit
    if whole_org:
        for c_key, c in free_storage(book, held, start, end, covered):
            if wanted_lines is None or c.line_item in wanted_lines:
                key = (c_key, *(c.line_item if g == "line_item" else _group_value({}, g) for g in group_by))
                result.add(key, c.amount, reported_quantity(c) if by_line else None, c.unit if by_line else None)
    with_quantity = imported is not None and imported.with_quantity
    for key, (value, summed, unit) in imports.items():
        result.add(key, value, Decimal(str(summed)) if with_quantity and summed is not None else None,
                   unit if with_quantity else None)
    return result, whole_until


def _load_price_rows(sql: SqlStoreBase, table: PriceTable,
                     keys: set[str]) -> tuple[tuple[str, int, int, int, int], ...] | None:
    """Load the rows of ``keys`` into the store's price set; ``None`` when done.  A store that refuses
    the write (opened read-only, a replica) still answers: the rows of every key this process knows,
    those the store holds among them, are returned to be bound to the statement instead."""
    try:
        sql.add_price_rows(table.version, table.rows_of(keys))
        return None
    except Exception as exc:
        log.warning("price rows not written to the store (%s: %s); bound to the statement instead",
                    type(exc).__name__, str(exc)[:200])
    return _bound_price_rows(sql, table, keys)


def _bound_price_rows(sql: SqlStoreBase, table: PriceTable,
                      keys: set[str]) -> tuple[tuple[str, int, int, int, int], ...]:
    """The rows of ``keys`` and of every key the store's price set holds (their usage was priced by
    the store's rows, which the bound rows replace)."""
    table.add(sql.price_keys(table.version))
    return tuple(table.rows_of(table.keys | keys))


def _may_cover(rows: list[tuple[Any, ...]], n_out: int, lines: dict[int, PriceLine],
               covered: set[tuple[int, Any, Any]]) -> bool:
    """Whether an imported line may stand for a priced line of the rows (same day and line item, or an
    unpriced one of the model it names), whatever the project: then the page is priced per project."""
    names = {(b, line) for b, _, line in covered if line}
    names |= {(b, line.split(", ", 1)[0]) for b, line in names}
    for r in rows:
        if r[n_out + 1] > 0:
            line = lines[r[n_out + 1]]
            if (int(r[0]), line.line_item if line.unit_price is not None else line.name) in names:
                return True
    return False


def _add_import(imports: dict[tuple[Any, ...], tuple[Decimal, float | None, str | None]], key: tuple[Any, ...],
                amount: Any, quantity: Any, unit: str | None) -> None:
    """Sum an imported line into its result: the amount exactly, the quantity as the store sums it."""
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount or 0))
    qty = None if quantity is None else float(quantity)
    known = imports.get(key)
    if known is not None:
        value = EXACT.add(known[0], value)
        qty = known[1] if qty is None else qty if known[1] is None else known[1] + qty
        unit = known[2] if unit is None else unit if known[2] is None else min(unit, known[2])
    imports[key] = (value, qty, unit)


FREE_STORAGE_BYTES = 2**30
"""OpenAI's first GiB of vector storage is free, organization-wide, each day."""
FREE_STORAGE_LINE = "vector store storage, free allowance"
STORAGE_PLACES = Decimal("1e-20")
"""Part-day storage amounts are rounded here, once per row, so every grouping adds the same numbers."""


def day_fraction(bucket: int, start: int, end: int) -> Decimal:
    """The part of the day bucket inside the queried range [start, end)."""
    inside = min(bucket + DAY, end) - max(bucket, start)
    return Decimal(max(inside, 0)) / Decimal(DAY) if inside < DAY else Decimal(1)


def part_of_day(c: Charge, fraction: Decimal) -> Charge:
    """A day's storage charge for the part of the day inside the range."""
    if fraction == 1:
        return c
    return Charge(c.line_item, EXACT.multiply(c.quantity, fraction).quantize(STORAGE_PLACES, context=EXACT),
                  c.unit, EXACT.multiply(c.amount, fraction).quantize(STORAGE_PLACES, context=EXACT))


def free_storage(book: PriceBook, held: dict[int, int], start: int, end: int,
                 covered: set[tuple[int, str | None, str | None]]) -> list[tuple[int, Charge]]:
    """A credit line per day for the free GiB, when the whole organization is asked for (it is not any
    one project's: a project's own lines stay what it stored, and no project learns of another)."""
    billed_days = {day for day, _, line in covered if line == "vector store storage"}
    out = []
    for day, total in sorted(held.items()):
        free = min(total, FREE_STORAGE_BYTES)
        res = book.resolve(TOOL_NAMES["vector_stores"], "vector_stores", utc_day(day))
        if not free or res is None or day in billed_days:
            continue
        charges, _ = price_row("vector_stores", TOOL_NAMES["vector_stores"], {"usage_bytes": free}, res,
                               book.catalog.default_tiers)
        for c in charges:
            credit = Charge(FREE_STORAGE_LINE, -c.quantity, c.unit, -c.amount)
            out.append((day, part_of_day(credit, day_fraction(day, start, end))))
    return out


def _group_value(row: dict[str, Any], dim: str) -> Any:
    """A priced row's value of a costs ``group_by`` dimension; OpenAI labels usage with no API source
    (embeddings, images, audio, tools, storage) ``unlabeled``."""
    value = row.get(dim)
    return UNLABELED if value is None and dim == "api_source" else value


def imported_lines(store: Store, start: int, end: int) -> set[tuple[int, str | None, str | None]]:
    """(day bucket, project, line item) of the imported cost lines in [start, end)."""
    agg = Aggregate(event_type=COSTS.event_type, start_s=start, end_s=end, width_s=DAY,
                    group_by=("project_id", "line_item"), decimals=("amount",))
    table = store.aggregate(agg)
    return set(zip(*(table.column(c).to_pylist() for c in ("bucket", "project_id", "line_item")), strict=True))


def _note(result: CostResult, u: Unpriced) -> None:
    key = (u.kind, u.name, u.detail)
    result.unpriced[key] = result.unpriced.get(key, 0) + u.quantity


def _add_imported(store: Store, agg: Aggregate, result: CostResult) -> None:
    for row in store.aggregate(agg).to_pylist():
        key = (row["bucket"], *(row.get(g) for g in result.group_by))
        amount = row.get("amount")
        amount = amount if isinstance(amount, Decimal) else Decimal(str(amount or 0))
        qty = row.get("quantity")
        quantity = Decimal(str(qty)) if agg.with_quantity and qty is not None else None
        result.add(key, amount, quantity, row.get("quantity_unit") if agg.with_quantity else None)


def _sort_key(key: tuple[Any, ...]) -> str:
    """The grouped fields of a result key as one string ordering results as the store orders usage
    results, nulls first: null is "", a value "\x01" + its text, fields joined by "\x00" (stored text
    holds no control characters).  One string compares much faster than a tuple of pairs."""
    return "\x00".join(["" if v is None else "\x01" + str(v) for v in key[1:]])


def page_dict(q: UsageQuery, result: CostResult) -> dict[str, Any]:
    """The costs page: every bucket of the page, results in a stable order, amounts as JSON numbers."""
    width = q.width
    buckets: list[dict[str, Any]] = [{"object": "bucket", "start_time": b.start, "end_time": b.end, "results": []}
                                     for b in q.buckets]
    index = {(b.start // width) * width: i for i, b in enumerate(q.buckets)}
    template = result_template(COSTS, result.group_by)
    by_line = "line_item" in result.group_by
    group_by = result.group_by
    per_bucket: dict[int, list[tuple[str, tuple[Any, ...], Line]]] = {}
    for key, line in result.lines.items():
        if key[0] in index:
            per_bucket.setdefault(key[0], []).append((_sort_key(key), key, line))
    for bucket, items in per_bucket.items():
        results = buckets[index[bucket]]["results"]
        items.sort(key=itemgetter(0))
        for _, key, line in items:
            r = template.copy()
            r["amount"] = {"value": float(line.amount), "currency": "usd"}
            r.update(zip(group_by, key[1:], strict=True))
            if by_line and line.has_quantity:
                r["quantity"] = float(line.quantity)
                r["quantity_unit"] = line.unit
            results.append(r)
    return {"object": "page", "data": buckets, "has_more": q.has_more, "next_page": q.next_page}


_HEADER_UNSAFE = re.compile(r"[^\x21-\x7e ]")


def unpriced_header(names: list[str], limit: int = 2000) -> str:
    """Unpriced model names for a response header: printable ASCII, comma-separated, bounded."""
    text = ",".join(_HEADER_UNSAFE.sub("?", n).replace(",", "?") for n in names)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def costs_response(store: Store, q: UsageQuery, imported: Aggregate, book: PriceBook | None = None,
                   max_results: int | None = None) -> tuple[bytes, dict[str, str]]:
    """The JSON body and extra headers answering one costs request.

    ``imported`` is the page's aggregation of imported cost lines, a key's projects applied: its
    filters restrict the priced usage too. A page holds at most ``max_results`` results: it ends at
    a day edge (``has_more``/``next_page`` carry on), and one day alone over the bound is a 400."""
    if not q.buckets:
        return orjson.dumps(page_dict(q, CostResult(q.params.group_by))), {}
    q, result = _bounded(store, q, imported, book or PriceBook.for_store(store), max_results)
    headers: dict[str, str] = {}
    if result.unpriced:
        names = result.unpriced_models
        headers[UNPRICED_HEADER] = unpriced_header(names)
        fresh = _due_warnings(names)
        if fresh:
            log.warning("costs: usage of %d unpriced model(s) left out of the amounts: %s "
                        "(see `openusage prices missing`)", len(fresh), ", ".join(fresh))
    body = render_costs(q, result.group_by, result.lines)
    return (orjson.dumps(page_dict(q, result)) if body is None else body), headers


ROWS_PER_RESULT = 2
"""A page reads at most this many statement rows per result it may hold in one run (a result is one
row or more: a line item of several prices, storage of several projects)."""


def _bounded(store: Store, q: UsageQuery, imported: Aggregate, book: PriceBook,
             max_results: int | None) -> tuple[UsageQuery, CostResult]:
    """The page's costs, read in runs of days of at most :data:`ROWS_PER_RESULT` x ``max_results``
    statement rows (usually one run: every day of the page), so that memory follows the bound, not the
    range; the page cut at the last day that fits."""
    group_by, filters = q.params.group_by, dict(imported.filters)
    result = CostResult(group_by)
    limit = None if max_results is None else ROWS_PER_RESULT * max_results + 1
    done = 0
    while done < len(q.buckets):
        run = q.buckets[done:]
        start, end = run[0].start, run[-1].end
        part, whole_until = _costs(store, start, end, group_by, filters, book,
                                   dataclasses.replace(imported, start_s=start, end_s=end), limit, max_results)
        if whole_until < end:  # the days from whole_until on were not all read
            run = [b for b in run if (b.start // q.width) * q.width < whole_until]
            if not run:  # one day alone answers more rows than the bound: read it whole
                run = q.buckets[done:done + 1]
                part = compute_costs(store, run[0].start, run[0].end, group_by, filters, book,
                                     dataclasses.replace(imported, start_s=run[0].start, end_s=run[0].end))
        for what, n in part.unpriced.items():
            result.unpriced[what] = result.unpriced.get(what, 0) + n
        per_day = Counter(key[0] for key in part.lines)
        kept = len(result.lines)
        for i, b in enumerate(run):
            n = per_day.get((b.start // q.width) * q.width, 0)
            if max_results is not None and kept + n > max_results:
                if kept == 0 and done + i == 0:
                    raise invalid(None, f"The day starting at {b.start} holds more than {max_results} cost results, "
                                        "the most one page may hold: narrow the query with fewer group_by fields "
                                        "or filters (project_ids, api_key_ids, line_items).")
                _take(result, part, {(d.start // q.width) * q.width for d in run[:i]})
                return dataclasses.replace(q, buckets=q.buckets[:done + i]), result
            kept += n
        _take(result, part, {(d.start // q.width) * q.width for d in run})
        done += len(run)
    return q, result


def _take(result: CostResult, part: CostResult, days: set[int]) -> None:
    """Add ``part``'s results of ``days`` to ``result``."""
    if all(key[0] in days for key in part.lines):
        result.lines.update(part.lines)
    else:
        result.lines.update({key: line for key, line in part.lines.items() if key[0] in days})


def _due_warnings(names: list[str], now: float | None = None) -> list[str]:
    """The names not warned about within :data:`WARN_EVERY_S` (the table is bounded)."""
    now = time.monotonic() if now is None else now
    due = [n for n in names if now - _warned.get(n, -WARN_EVERY_S) >= WARN_EVERY_S]
    if len(_warned) + len(due) > MAX_WARNED:
        _warned.clear()
    for n in due:
        _warned[n] = now
    return due


def unpriced_usage(store: Store, start: int, end: int, book: PriceBook | None = None) -> list[dict[str, Any]]:
    """Usage no price covers in [start, end): kind, name, what, quantity, first and last day (the costs
    statement's lines without a unit price)."""
    book = book or PriceBook.for_store(store)
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    cs, table, rows, _ = priced_rows(store, start, end, (), {}, book)
    n_out = len(cs.out)
    for row in rows:
        qty = int(row[n_out + 5] if row[n_out + 4] is None else row[n_out + 4])
        line = table.lines[row[n_out + 1]]
        if qty == 0 or line.unit_price is not None:
            continue
        day = utc_day(int(row[0]))
        item = found.setdefault((line.kind, line.name, line.detail), {
            "kind": line.kind, "model": line.name, "what": line.detail, "quantity": 0, "first_day": day,
            "last_day": day})
        item["quantity"] += qty
        item["first_day"] = min(item["first_day"], day)
        item["last_day"] = max(item["last_day"], day)
    return [found[k] for k in sorted(found)]


__all__ = ["UNPRICED_HEADER", "Charge", "CostResult", "compute_costs", "compute_costs_reference", "costs_response",
           "unpriced_usage"]
