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
import functools
import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs

from ..errors import invalid
from ..query.params import UsageQuery
from ..query.render import result_template
from ..spec import ENDPOINTS_BY_NAME, event_metrics, stored_dimensions
from ..store.base import Aggregate, Store
from ..store.common import SqlStoreBase
from ..store.pricing_sql import (
    IMPORTED_IN_PAGE,
    IMPORTED_OTHER,
    CostRows,
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
from .render import composite_codes, lines_table, render_cost_table, split_codes

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
    read = (*scan.metrics, *scan.gauges)
    absent = quantity_sql((), col="s.")  # each quantity of no metric: a type lacking all it reads has 0
    type_quantities = {}
    for k in kinds:
        own = {m.name for m in event_metrics(k.event_type)}
        sql = quantity_sql(tuple(m for m in read if m in own), col="s.")
        type_quantities[k.event_type] = tuple("0" if e == none else e for e, none in zip(sql, absent, strict=True))
    return CostsScan(
        scan=scan,
        key_dims=KEY_DIMS,
        key_types={d: tuple(k.event_type for k in kinds if d in k.dims) for d in KEY_DIMS},
        projects=tuple(sorted({p.project_id for p in book.custom if p.project_id is not None})),
        quantities=quantity_sql(read, col="s."),
        out=tuple(out),
        # usage charged per project and per part of a day (storage held): kept apart per project
        split_types=tuple(k.event_type for k in kinds if "project_id" in k.dims and "project_id" in scan.group_by),
        price_set=table.version,
        imported=imported,
        type_quantities=type_quantities,
    )


MAX_ROUNDS = 3
"""Runs of the statement at most: new price keys found by the first are materialised for the second."""


def priced_rows(store: Store, start: int, end: int, group_by: Iterable[str], filters: dict[str, Any],
                book: PriceBook, by_project: bool = False, row_limit: int | None = None,
                imported: ImportedScan | None = None) -> tuple[CostsScan, PriceTable, CostRows, int]:
    """The statement's rows (``bucket``, the ``out`` groups, then :data:`.pricing_sql.COLUMNS`), every
    usage key priced: a key without price rows in the store is materialised, loaded into the store's
    price table and the statement run again.

    With ``row_limit``, the rows of the first days up to that many rows: the last item is the end of
    the days answered whole (``end`` when all are).  The rows are in no particular order."""
    table = price_table(book)
    group_by = tuple(group_by)
    sql = sql_store(store)
    bound: tuple[tuple[str, int, int, int, int], ...] | None = None  # set when the store's rows fall short
    loaded: set[str] = set()
    for _ in range(MAX_ROUNDS):
        cs = dataclasses.replace(costs_scan(start, end, group_by, filters, book, table, by_project, imported),
                                 rows=bound)
        # in any order first: a page's rows seldom reach the limit, and the readers order what they need
        answer = run_costs(sql, cs, row_limit, ordered=False)
        whole_until = end
        if row_limit is not None and answer.num_rows >= row_limit:  # the first days' rows, in day order
            answer = run_costs(sql, cs, row_limit)
        if row_limit is not None and answer.num_rows >= row_limit:  # the last day may be cut short: left out
            buckets = answer.table.column("bucket")
            whole_until = int(buckets[-1].as_py())
            answer = answer.filter(pc.less(buckets, whole_until))
        ids = answer.table.column("line_id")
        if set(pc.unique(ids).to_pylist()) - table.lines.keys() - {IMPORTED_IN_PAGE, IMPORTED_OTHER}:
            table.add(sql.price_keys(table.version))  # rows another worker loaded: their lines made here
        missing = set(pc.unique(answer.table.column("mkey").filter(pc.equal(ids, 0))).to_pylist())
        if not missing:
            return cs, table, answer, whole_until
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


@dataclass
class _Pricing:
    """What pricing a costs statement's rows one by one needs to know of the page."""

    start: int
    end: int
    group_by: tuple[str, ...]
    wanted_lines: set[str] | None
    n_out: int
    lines: dict[int, PriceLine]
    covered: set[tuple[int, Any, Any]]
    cols: list[int | None]
    project_at: int | None
    held: dict[int, int] = field(default_factory=dict)
    """Day bucket -> bytes of vector storage held, every project."""
    imports: dict[tuple[Any, ...], tuple[Decimal, float | None, str | None]] = field(default_factory=dict)


def _pricing(cs: CostsScan, table: PriceTable, start: int, end: int, group_by: tuple[str, ...],
             filters: dict[str, Any], covered: set[tuple[int, Any, Any]]) -> _Pricing:
    at = {g: 1 + i for i, g in enumerate(cs.out)}  # row position of each output group
    return _Pricing(start, end, group_by, set(filters["line_item"]) if "line_item" in filters else None,
                    len(cs.out), table.lines, covered, [at.get(g) for g in group_by], at.get("project_id"))


NO_QUANTITY = Decimal(0)
"""The quantity :func:`_price_each` leaves unworked where the page reports none (not by line item)."""


def _price_each(p: _Pricing, rows: list[tuple[Any, ...]], result: CostResult, stop: int | None,
                whole_until: int) -> int:
    """Price ``rows`` (in day order) one by one into ``result``: each quantity times its exact unit
    price, storage for the part of its day in the range, unpriced usage noted, imported lines kept in
    ``p.imports``; with ``stop``, the days after the one whose results make more than that are left
    out.  Returns the end of the days answered whole."""
    n_out, lines, covered, cols = p.n_out, p.lines, p.covered, p.cols
    by_line = "line_item" in p.group_by
    line_pos = p.group_by.index("line_item") if by_line else -1
    api_pos = p.group_by.index("api_source") if "api_source" in p.group_by else -1
    billed = {(b, pr, line.split(", ", 1)[0]) for b, pr, line in covered if line}  # models an imported line bills
    fractions: dict[int, Decimal] = {}
    out_lines = result.lines
    multiply, add = EXACT.multiply, EXACT.add
    held = p.held
    day = None
    for row in rows:
        line_id = row[n_out + 1]
        bucket = int(row[0])
        if bucket != day:
            if stop is not None and len(out_lines) > stop:
                return min(whole_until, bucket)
            day = bucket
        if line_id < 0:  # an imported cost line
            if line_id == IMPORTED_IN_PAGE:
                key = (bucket, *(row[n_out + 3] if g == "line_item" else row[c] if c is not None else None
                                 for g, c in zip(p.group_by, cols, strict=True)))
                _add_import(p.imports, key, row[n_out + 6], row[n_out + 7], row[n_out + 8])
            continue
        qty = row[n_out + 4]
        if qty is None:
            qty = int(row[n_out + 5] or 0)
        if not qty:
            continue
        line = lines[line_id]
        project = None
        if covered or line.unit_price is None:
            project = row[p.project_at] if p.project_at is not None else row[n_out + 2]
        if line.kind == "vector_stores":
            held[bucket] = held.get(bucket, 0) + qty
        if line.unit_price is None:
            if (bucket, project, line.name) not in billed:  # else the imported bill prices it
                _note(result, Unpriced(line.kind, line.name, line.detail, qty))
            continue
        if p.wanted_lines is not None and line.line_item not in p.wanted_lines:
            continue
        if covered and (bucket, project, line.line_item) in covered:
            continue  # billed by the imported line of the same name
        amount = multiply(qty, line.unit_price)
        quantity = Decimal(qty) if by_line else NO_QUANTITY  # only a page by line item reports quantities
        if line.kind == "vector_stores":  # storage: the part of the day in the range
            fraction = fractions.get(bucket)
            if fraction is None:
                fraction = fractions[bucket] = day_fraction(bucket, p.start, p.end)
            if fraction != 1 or by_line:  # else the charge is the whole day's amount as it is
                c = part_of_day(Charge(line.line_item, Decimal(qty), line.unit, amount), fraction)
                amount, quantity = c.amount, reported_quantity(c)
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
    return whole_until


def _finish(p: _Pricing, book: PriceBook, result: CostResult, whole_org: bool, with_quantity: bool) -> None:
    """Add the free storage credit (whole organization only) and the imported lines to ``result``."""
    by_line = "line_item" in p.group_by
    if whole_org:
        for c_key, c in free_storage(book, p.held, p.start, p.end, p.covered):
            if p.wanted_lines is None or c.line_item in p.wanted_lines:
                key = (c_key, *(c.line_item if g == "line_item" else _group_value({}, g) for g in p.group_by))
                result.add(key, c.amount, reported_quantity(c) if by_line else None, c.unit if by_line else None)
    for key, (value, summed, unit) in p.imports.items():
        result.add(key, value, Decimal(str(summed)) if with_quantity and summed is not None else None,
                   unit if with_quantity else None)


def _imported_scan(imported: Aggregate | None) -> ImportedScan:
    # the costs filters are lists (project, API key, line item): no yes/no filter applies to cost lines
    return ImportedScan({d: v for d, v in imported.filters.items() if isinstance(v, tuple)} if imported else {},
                        add=imported is not None)


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
    whole_org = not {"project_id", "api_key_id", "origin"} & set(filters)
    scan = _imported_scan(imported)
    cs, table, answer, whole_until = priced_rows(store, start, end, group_by, filters, book, False, row_limit,
                                                 scan)
    rows = answer.rows()
    n_out = len(cs.out)
    covered = {(int(r[0]), r[n_out + 2], r[n_out + 3]) for r in rows if r[n_out + 1] < 0}
    if covered and _may_cover(rows, n_out, table.lines, covered):
        # an imported line stands for a priced one of its day, project and name: priced per project
        cs, table, answer, whole_until = priced_rows(store, start, end, group_by, filters, book, True, row_limit,
                                                     scan)
        rows = answer.rows()
        n_out = len(cs.out)
        covered = {(int(r[0]), r[n_out + 2], r[n_out + 3]) for r in rows if r[n_out + 1] < 0}
    p = _pricing(cs, table, start, end, group_by, filters, covered)
    if row_limit is not None:  # in day order: the results of each day are counted when the next begins
        rows = sorted(rows, key=_bucket_of)
    whole_until = _price_each(p, rows, result, stop_over if row_limit is not None else None, whole_until)
    _finish(p, book, result, whole_org, imported is not None and imported.with_quantity)
    return result, whole_until


def _bucket_of(row: tuple[Any, ...]) -> int:
    """A statement row's day (PostgreSQL answers it as a numeric): the sort key of day order."""
    return int(row[0])


@dataclass
class CostColumns:
    """A costs page's results as columns (:data:`.render.COLUMNS` and the groups, one row per result),
    and the usage nothing priced."""

    group_by: tuple[str, ...]
    table: pa.Table
    unpriced: dict[tuple[str, str, str], int] = field(default_factory=dict)

    @classmethod
    def of(cls, result: CostResult) -> CostColumns:
        """``result``'s exact sums as the floats the page writes."""
        table = lines_table(result.group_by, result.lines)
        if table is None:
            raise TypeError("a costs group value is not text")  # the spec's dimensions are all text
        return cls(result.group_by, table, dict(result.unpriced))

    @property
    def unpriced_models(self) -> list[str]:
        return sorted({name for _, name, _ in self.unpriced})


SCALE_MAX = 22
"""The most decimal places a unit price priced by column may have: 10^22 is the largest power of ten
a double holds exactly, so an amount n / 10^S with n < 2^53 is divided once, correctly rounded."""
SCALED_MAX = 2**62
"""The largest scaled unit price, quantity x price and sum of them the column path sums in int64."""
EXACT_FLOAT = 2**53
"""Integers below this are exact as doubles."""


@dataclass(frozen=True)
class Scaled:
    """The lines priced by column, each unit price an integer numerator at one decimal ``scale``."""

    scale: int
    ids: pa.Array
    """Line ids (int64)."""
    prices: pa.Array
    """Each line's unit price x 10^scale (int64), by position in ``ids``."""
    item_codes: pa.Array
    """Each line's line item, as its position in ``unit_items`` (int32)."""
    unit_items: pa.Array
    """The distinct line items and, by position, their unit in ``units``."""
    units: pa.Array
    dropped: pa.Array
    """Line ids whose rows the page leaves out (a ``line_items`` filter excludes them)."""


@functools.lru_cache(maxsize=4096)
def decimal_places(price: Decimal) -> int | None:
    """The decimal places of ``price`` (0 for a whole number), None beyond :data:`SCALE_MAX`; kept per
    price, since every page works it out for each of its lines and the prices seldom change."""
    exponent = price.normalize(EXACT).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) and -exponent <= SCALE_MAX else None


def scaled_lines(lines: dict[int, PriceLine], ids: Iterable[int], wanted: set[str] | None) -> Scaled | None:
    """The lines of ``ids`` that may be priced by column: priced, not storage (charged by the part of
    a day), and with a unit price of at most :data:`SCALE_MAX` decimals whose numerator at the common
    scale stays under :data:`SCALED_MAX`.  None when some line item would have two units."""
    places: dict[int, int] = {}
    dropped: list[int] = []
    for i in ids:
        line = lines.get(i)
        if line is None or line.unit_price is None or line.kind == "vector_stores":
            continue
        if wanted is not None and line.line_item not in wanted:
            dropped.append(i)
            continue
        n = decimal_places(line.unit_price)
        if n is not None:
            places[i] = n
    while places:
        scale = max(places.values())
        prices = {i: int(EXACT.scaleb(lines[i].unit_price or Decimal(0), scale)) for i in places}
        if max(map(abs, prices.values())) < SCALED_MAX:
            break
        places = {i: n for i, n in places.items() if n < scale}  # the finest prices row by row instead
    else:
        scale, prices = 0, {}
    units: dict[str, str | None] = {}
    for i in prices:
        line = lines[i]
        if units.setdefault(line.line_item, line.unit) != line.unit:
            return None
    ids_ = list(prices)
    item_at = {item: i for i, item in enumerate(units)}
    return Scaled(scale, pa.array(ids_, pa.int64()), pa.array([prices[i] for i in ids_], pa.int64()),
                  pa.array([item_at[lines[i].line_item] for i in ids_], pa.int32()),
                  pa.array(list(units), pa.string()), pa.array(list(units.values()), pa.string()),
                  pa.array(dropped, pa.int64()))


def _costs_columns(store: Store, start: int, end: int, group_by: tuple[str, ...], filters: dict[str, Any],
                   book: PriceBook, imported: Aggregate | None, row_limit: int | None,
                   stop_over: int | None) -> tuple[CostColumns, int] | None:
    """:func:`_costs` as columns, the common rows priced by column: each line's unit price an integer
    at one decimal scale (:func:`scaled_lines`), quantity x price and their sums by result exact int64
    (bounds checked), each amount a double by one correctly rounded division, so every float equals
    ``float()`` of the exact decimal sum.  The other rows (storage, unpriced usage, unit prices of
    more decimals, sums beyond 64 bits) are priced one by one as in :func:`_costs` and added exactly.
    None when the page needs :func:`_costs` whole: imported cost lines, or sums out of bounds."""
    whole_org = not {"project_id", "api_key_id", "origin"} & set(filters)
    cs, table, answer, whole_until = priced_rows(store, start, end, group_by, filters, book, False, row_limit,
                                                 _imported_scan(imported))
    t = answer.table
    ids = t.column("line_id")
    if pc.any(pc.less(ids, 0)).as_py():  # imported cost lines: they may stand for priced ones
        return None
    p = _pricing(cs, table, start, end, group_by, filters, set())
    scaled = scaled_lines(table.lines, pc.unique(ids).to_pylist(), p.wanted_lines)
    if scaled is None:
        return None
    qty = t.column("qty")
    at = pc.index_in(ids, value_set=scaled.ids)  # each row's line among the lines priced by column
    fast = pc.and_(pc.is_valid(at), pc.fill_null(pc.not_equal(qty, 0), False))
    slow = pc.invert(pc.or_(fast, pc.is_in(ids, value_set=scaled.dropped)) if len(scaled.dropped) else fast)
    result = CostResult(group_by)
    if pc.any(slow).as_py():
        _price_each(p, answer.rows(slow), result, None, end)
    _finish(p, book, result, whole_org, False)
    # the groups coded over every row (text hashed once, not copied by the filter), then the codes kept
    coded = {g: _codes(_text_column(t.column(g), g)) for g in group_by if g in cs.out}
    fast_rows = pa.table({"bucket": t.column("bucket"), "qty": t.column("qty"),
                          **{g: indices for g, (indices, _) in coded.items()}})
    if not pc.all(fast).as_py():
        fast_rows, at = fast_rows.filter(fast), at.filter(fast)
    try:
        amounts = pc.multiply_checked(fast_rows.column("qty"), scaled.prices.take(at))
    except pa.ArrowInvalid:  # a product beyond 64 bits
        return None
    quantities = fast_rows.column("qty")
    for col in (amounts, quantities):
        if len(col) and pc.sum(pc.abs(pc.cast(col, pa.float64(), safe=False))).as_py() >= SCALED_MAX:
            return None  # a sum might pass 64 bits
    n = fast_rows.num_rows
    keys: list[tuple[pa.Array, pa.Array]] = [_codes(fast_rows.column("bucket"))]  # (indices, distinct values)
    for g in group_by:
        if g == "line_item":
            keys.append((scaled.item_codes.take(at), scaled.unit_items))
        elif g in cs.out:
            keys.append((fast_rows.column(g), coded[g][1]))
        elif g == "api_source":
            keys.append((pa.array(np.zeros(n, np.int32)), pa.array([UNLABELED], pa.string())))
        else:
            keys.append((pa.nulls(n, pa.int32()), pa.array([], pa.string())))
    sizes = [len(dictionary) + 1 for _, dictionary in keys]  # code 0: null
    if math.prod(sizes) >= SCALED_MAX:
        return None
    composite = composite_codes([indices for indices, _ in keys], sizes)
    sums = pa.table({"k": composite, "n": amounts, "q": quantities}).group_by("k", use_threads=False) \
        .aggregate([("n", "sum"), ("q", "sum")])
    out = _merge(sums, keys, sizes, scaled, result)
    if stop_over is not None and row_limit is not None:
        out, whole_until = _stop(out, stop_over, whole_until)
    return CostColumns(group_by, out, dict(result.unpriced)), whole_until


def _text_column(column: pa.ChunkedArray, dim: str) -> pa.Array:
    """A group column as text, null ``api_source`` labelled as OpenAI labels it."""
    col = column.combine_chunks()
    col = col if col.type == pa.string() else col.cast(pa.string())
    return pc.fill_null(col, UNLABELED) if dim == "api_source" else col


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, pa.Array]:
    """(indices, distinct values) of a column."""
    enc = pc.dictionary_encode(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    return enc.indices, enc.dictionary


def _floats_of(ints: np.ndarray[Any, np.dtype[np.int64]], scale: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``ints`` / 10^scale as doubles, each correctly rounded (one IEEE division of two exact doubles;
    the integers of 2^53 or more through an exact decimal)."""
    out: np.ndarray[Any, np.dtype[np.float64]] = ints.astype(np.float64) / float(10**scale)
    for i in np.flatnonzero(np.abs(ints) >= EXACT_FLOAT):
        out[i] = float(EXACT.scaleb(Decimal(int(ints[i])), -scale))
    return out


def _merge(sums: pa.Table, keys: list[tuple[pa.Array, pa.Array]], sizes: list[int], scaled: Scaled,
           result: CostResult) -> pa.Table:
    """The results table: the sums by column as floats, their groups decoded from the composite key
    (``keys``' codes, ``sizes`` their ranges), and the results priced one by one (``result``) added
    exactly where they share a result, appended where not."""
    group_by = result.group_by
    by_line = "line_item" in group_by
    composite = sums.column("k").to_numpy()
    n_sum = sums.column("n_sum").to_numpy()
    q_sum = sums.column("q_sum").to_numpy()
    amounts = _floats_of(n_sum, scaled.scale)
    quantities = _floats_of(q_sum, 0) if by_line else np.full(len(composite), np.nan)
    codes = split_codes(composite, sizes)
    values: list[list[Any]] = [dictionary.to_pylist() for _, dictionary in keys]
    # each result's unit as an index into unit_values (-1: none), the line item's unit by column
    unit_values: list[str | None] = scaled.units.to_pylist()
    unit_codes = codes[1 + group_by.index("line_item")] - 1 if by_line else np.full(len(composite), -1, np.int64)
    extra = dict(result.lines)
    if extra:
        lookup = [{v: i + 1 for i, v in enumerate(vals)} for vals in values]
        found: list[tuple[int, tuple[Any, ...], Line]] = []  # (composite key, result key, line)
        added: list[tuple[tuple[Any, ...], Line]] = []
        for key, line in extra.items():
            at: int | None = 0
            for value, known, size in zip(key, lookup, sizes, strict=True):
                code = 0 if value is None else known.get(value)
                if code is None:
                    at = None
                    break
                at = at * size + code if at is not None else None
            if at is None:
                added.append((key, line))
            else:
                found.append((at, key, line))
        # the rows of the results priced one by one (few) found among the sums (many) by one lookup
        wanted = pa.array([at for at, _, _ in found], pa.int64())
        hit = pc.index_in(sums.column("k"), value_set=wanted).combine_chunks()  # each sum's place among them
        where = dict(zip(hit.drop_null().to_pylist(), np.flatnonzero(pc.is_valid(hit).to_numpy(
            zero_copy_only=False)).tolist(), strict=True))
        rows = [where.get(i) for i in range(len(found))]
        unit_at: dict[str | None, int] = {}
        for i, u in enumerate(unit_values):
            unit_at.setdefault(u, i)

        def unit_code(unit: str | None) -> int:
            if unit is None:
                return -1
            if unit not in unit_at:
                unit_at[unit] = len(unit_values)
                unit_values.append(unit)
            return unit_at[unit]

        for row, (_, key, line) in zip(rows, found, strict=True):
            if row is None:
                added.append((key, line))
                continue
            amounts[row] = float(EXACT.add(EXACT.scaleb(Decimal(int(n_sum[row])), -scaled.scale), line.amount))
            if by_line:
                quantities[row] = float(EXACT.add(Decimal(int(q_sum[row])), line.quantity))
                if not (unit_values[unit_codes[row]] if unit_codes[row] >= 0 else None):
                    unit_codes[row] = unit_code(line.unit)
        if added:  # appended, each value coded in its column (new values at the end of its distinct values)
            more: list[list[int]] = [[] for _ in keys]
            for key, _ in added:
                for i, value in enumerate(key):
                    code = 0 if value is None else lookup[i].get(value)
                    if code is None:
                        values[i].append(value)
                        code = lookup[i][value] = len(values[i])
                    more[i].append(code)
            codes = [np.concatenate([c, np.array(m, np.int64)]) for c, m in zip(codes, more, strict=True)]
            amounts = np.concatenate([amounts, [float(line.amount) for _, line in added]])
            quantities = np.concatenate([quantities, [float(line.quantity) if line.has_quantity else np.nan
                                                      for _, line in added]])
            unit_codes = np.concatenate([unit_codes, np.array(
                [unit_code(line.unit) if line.has_quantity else -1 for _, line in added], np.int64)])
    columns: dict[str, pa.Array] = {"bucket": pa.array(values[0], pa.int64()).take(pa.array(codes[0] - 1))}
    for g, of_group, vals in zip(group_by, codes[1:], values[1:], strict=True):
        columns[g] = pa.DictionaryArray.from_arrays(pa.array(of_group - 1, pa.int32(), mask=of_group == 0),
                                                    pa.array(vals, pa.string()))
    columns["amount"] = pa.array(amounts, pa.float64())
    columns["quantity"] = pa.array(quantities, pa.float64(), from_pandas=True)  # NaN: no quantity
    no_unit = np.array([u is None for u in unit_values] + [True])[unit_codes]  # -1: the last, no unit
    columns["unit"] = pa.DictionaryArray.from_arrays(pa.array(unit_codes, pa.int32(), mask=no_unit),
                                                     pa.array(unit_values, pa.string()))
    return pa.table(columns)


def _stop(table: pa.Table, stop: int, whole_until: int) -> tuple[pa.Table, int]:
    """Leave out the days after the one whose results make more than ``stop`` (counted in day order)."""
    counts = pc.value_counts(table.column("bucket")).to_pylist()
    kept = 0
    for item in sorted(counts, key=itemgetter("values")):
        if kept > stop:
            day = int(item["values"])
            return table.filter(pc.less(table.column("bucket"), day)), min(whole_until, day)
        kept += item["counts"]
    return table, whole_until


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
                   max_results: int | None = None, columnar: bool = True) -> tuple[bytes, dict[str, str]]:
    """The JSON body and extra headers answering one costs request.

    ``imported`` is the page's aggregation of imported cost lines, a key's projects applied: its
    filters restrict the priced usage too. A page holds at most ``max_results`` results: it ends at
    a day edge (``has_more``/``next_page`` carry on), and one day alone over the bound is a 400.
    ``columnar=False`` prices every row one by one (:func:`_costs`; tests compare both)."""
    if not q.buckets:
        return orjson.dumps(page_dict(q, CostResult(q.params.group_by))), {}
    q, result = _bounded(store, q, imported, book or PriceBook.for_store(store), max_results, columnar)
    headers: dict[str, str] = {}
    if result.unpriced:
        names = result.unpriced_models
        headers[UNPRICED_HEADER] = unpriced_header(names)
        fresh = _due_warnings(names)
        if fresh:
            log.warning("costs: usage of %d unpriced model(s) left out of the amounts: %s "
                        "(see `openusage prices missing`)", len(fresh), ", ".join(fresh))
    return render_cost_table(q, result.group_by, result.table), headers


ROWS_PER_RESULT = 2
"""A page reads at most this many statement rows per result it may hold in one run (a result is one
row or more: a line item of several prices, storage of several projects)."""


def _part(store: Store, start: int, end: int, group_by: tuple[str, ...], filters: dict[str, Any],
          book: PriceBook, imported: Aggregate, row_limit: int | None, stop_over: int | None,
          columnar: bool) -> tuple[CostColumns, int]:
    """The results of the days in [start, end) (:func:`_costs_columns`, else :func:`_costs`)."""
    if columnar:
        done = _costs_columns(store, start, end, group_by, filters, book, imported, row_limit, stop_over)
        if done is not None:
            return done
    part, whole_until = _costs(store, start, end, group_by, filters, book, imported, row_limit, stop_over)
    return CostColumns.of(part), whole_until


def _bounded(store: Store, q: UsageQuery, imported: Aggregate, book: PriceBook,
             max_results: int | None, columnar: bool = True) -> tuple[UsageQuery, CostColumns]:
    """The page's costs, read in runs of days of at most :data:`ROWS_PER_RESULT` x ``max_results``
    statement rows (usually one run: every day of the page), so that memory follows the bound, not the
    range; the page cut at the last day that fits."""
    group_by, filters = q.params.group_by, dict(imported.filters)
    tables: list[pa.Table] = []
    unpriced: dict[tuple[str, str, str], int] = {}
    limit = None if max_results is None else ROWS_PER_RESULT * max_results + 1
    done = 0
    kept = 0
    while done < len(q.buckets):
        run = q.buckets[done:]
        start, end = run[0].start, run[-1].end
        part, whole_until = _part(store, start, end, group_by, filters, book,
                                  dataclasses.replace(imported, start_s=start, end_s=end), limit, max_results,
                                  columnar)
        if whole_until < end:  # the days from whole_until on were not all read
            run = [b for b in run if (b.start // q.width) * q.width < whole_until]
            if not run:  # one day alone answers more rows than the bound: read it whole
                run = q.buckets[done:done + 1]
                part, _ = _part(store, run[0].start, run[0].end, group_by, filters, book,
                                dataclasses.replace(imported, start_s=run[0].start, end_s=run[0].end), None, None,
                                columnar)
        for what, n in part.unpriced.items():
            unpriced[what] = unpriced.get(what, 0) + n
        buckets = part.table.column("bucket")
        per_day = {item["values"]: item["counts"] for item in pc.value_counts(buckets).to_pylist()}
        for i, b in enumerate(run):
            n = per_day.get((b.start // q.width) * q.width, 0)
            if max_results is not None and kept + n > max_results:
                if kept == 0 and done + i == 0:
                    raise invalid(None, f"The day starting at {b.start} holds more than {max_results} cost results, "
                                        "the most one page may hold: narrow the query with fewer group_by fields "
                                        "or filters (project_ids, api_key_ids, line_items).")
                tables.append(_days(part.table, run[:i], q.width))
                return (dataclasses.replace(q, buckets=q.buckets[:done + i]),
                        CostColumns(group_by, _concat(tables), unpriced))
            kept += n
        tables.append(_days(part.table, run, q.width))
        done += len(run)
    return q, CostColumns(group_by, _concat(tables), unpriced)


def _days(table: pa.Table, days: list[Any], width: int) -> pa.Table:
    """The results of ``days`` (buckets) in ``table``."""
    keys = pa.array([(d.start // width) * width for d in days], pa.int64())
    buckets = table.column("bucket")
    inside = pc.is_in(buckets, value_set=keys)
    return table if pc.all(inside).as_py() in (True, None) else table.filter(inside)


def _concat(tables: list[pa.Table]) -> pa.Table:
    return tables[0] if len(tables) == 1 else pa.concat_tables([t.cast(tables[0].schema) for t in tables])


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
    cs, table, answer, _ = priced_rows(store, start, end, (), {}, book)
    n_out = len(cs.out)
    for row in answer.rows():
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
