"""The costs page priced by column equals the page priced row by row and the Python reference.

:func:`openusage.pricing.costs.costs_response` prices the common rows by column (integer unit prices at
one decimal scale, int64 sums by a composite group key, one correctly rounded division per amount) and
the rest one by one (storage, unpriced usage, finer prices, sums beyond 64 bits), adding both exactly.
For random usage of every priced type, on every engine, its JSON bytes and unpriced-models header must
equal those of the row-by-row path (``columnar=False``) and of the page made from
:func:`compute_costs_reference` (each aggregated usage row priced in Python); with a small
``max_results`` the cut pages must be the same too.  Hostile prices (a product or a sum past 64 bits,
a price of more decimals than a double's exact powers of ten) must fall back and still agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openusage.errors import ApiError
from openusage.pricing import PriceBook, parse_custom
from openusage.pricing.costs import (
    EXACT_FLOAT,
    SCALE_MAX,
    _costs_columns,
    _floats_of,
    compute_costs_reference,
    costs_response,
    page_dict,
    unpriced_usage,
)
from openusage.query.params import UsageQuery, parse_query
from openusage.service import aggregate_for
from openusage.spec import ENDPOINTS_BY_NAME
from openusage.store import Store, open_store
from tests.storeconf import ENGINES, fresh_store
from tests.test_costs_engine_sql import BASE, DAY, WINDOW, _book, _ingest, usage_event

COSTS = ENDPOINTS_BY_NAME["costs"]
GROUPINGS: tuple[tuple[str, ...], ...] = ((), ("line_item",), ("project_id",), ("api_key_id",),
                                          ("project_id", "line_item", "api_key_id"), ("api_source", "line_item"),
                                          ("user_id", "origin"))
_windows = iter(range(10_000))


@pytest.fixture(scope="module", params=(*ENGINES, "duckdb-raw"))
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp: Path = tmp_path_factory.mktemp(f"columnar-{request.param}")
    if request.param == "duckdb-raw":  # the raw events, as a store without rollups reads them
        s = open_store(f"duckdb:///{tmp / 'raw.duckdb'}?rollups=off")
        yield s
        s.close()
        return
    with fresh_store(request.param, tmp) as s:
        yield s


def _query(start: int, end: int, group_by: tuple[str, ...], filters: dict[str, tuple[str, ...]],
           limit: int = 5) -> UsageQuery:
    items = [("start_time", str(start)), ("end_time", str(end)), ("limit", str(limit))]
    items += [("group_by", g) for g in group_by]
    items += [(f"{dim}s", v) for dim, values in filters.items() for v in values]
    return parse_query(COSTS, items, now=end)


def _pages(store: Store, q: UsageQuery, book: PriceBook, max_results: int | None) -> tuple[Any, Any]:
    """(columnar, row by row) answers: body and headers, or the error's message."""
    out: list[Any] = []
    for columnar in (True, False):
        try:
            out.append(costs_response(store, q, aggregate_for(q), book, max_results, columnar))
        except ApiError as exc:
            out.append(str(exc))
    return out[0], out[1]


def _check_page(store: Store, start: int, end: int, group_by: tuple[str, ...],
                filters: dict[str, tuple[str, ...]], book: PriceBook, bounds: tuple[int, ...] = (1, 3, 7)) -> None:
    q = _query(start, end, group_by, filters)
    (body, headers), old = _pages(store, q, book, None)
    assert (body, headers) == old
    ref = compute_costs_reference(store, q.range[0], q.range[1], group_by, dict(filters), book, aggregate_for(q))
    assert body == orjson.dumps(page_dict(q, ref))
    assert headers.get("openusage-unpriced-models", "") == ",".join(ref.unpriced_models)
    for bound in bounds:  # pages cut at a day edge, or refused when one day holds more
        cut, old_cut = _pages(store, q, book, bound)
        assert cut == old_cut


FILTER_SETS: tuple[dict[str, tuple[str, ...]], ...] = (
    {}, {"project_id": ("proj_b",)}, {"api_key_id": ("key_1",)},
    {"line_item": ("gpt-4o, input", "vector store storage")})
CASES = [(g, f) for g in GROUPINGS for f in range(len(FILTER_SETS))]


def test_columnar_pages_equal_the_row_by_row_pages_and_the_reference(store: Store) -> None:
    """Each random usage is read through three of the 28 (grouping, filter) pairs, drawn by Hypothesis;
    every grouping unfiltered is checked on every run by
    :func:`test_usage_without_imported_lines_is_priced_by_column`."""
    engine: Any = store

    @settings(max_examples=3 if engine.dialect.name == "clickhouse" else 5, deadline=None,
              report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow])
    @given(usage=st.lists(usage_event(), min_size=1, max_size=40), bills=st.lists(st.integers(0, 2), max_size=2),
           part_day=st.sampled_from([0, 3600]),
           cases=st.lists(st.sampled_from(CASES), min_size=3, max_size=3, unique=True))
    def check(usage: list[dict[str, Any]], bills: list[int], part_day: int,
              cases: list[tuple[tuple[str, ...], int]]) -> None:
        window = BASE + (100 + next(_windows)) * WINDOW  # days no other test of this store uses
        _ingest(store, window, usage, bills)
        book = _book(window)
        start, end = window + part_day, window + 3 * DAY
        for group_by, f in cases:
            filters = FILTER_SETS[f]
            _check_page(store, start, end, group_by, filters, book, () if filters else (1, 3, 7))

    check()


def test_an_empty_range_reads_nothing(store: Store) -> None:
    """A range of no time (``start_time`` = ``end_time``, as the missing-prices route takes it) has no
    segment to read: no usage, no unpriced line, no error."""
    window = BASE + 3 * WINDOW
    _ingest(store, window, [{"type": "completions", "model": "gpt-4o", "project_id": "proj_a", "api_key_id": "key_0",
                             "input_tokens": 5, "output_tokens": 1, "offset": 60}], [])
    assert unpriced_usage(store, 0, 0, _book(window)) == []
    assert unpriced_usage(store, window, window, _book(window)) == []


def test_usage_without_imported_lines_is_priced_by_column(store: Store) -> None:
    """The common case never falls back to the row-by-row path (storage included)."""
    window = BASE
    usage = [{"type": "completions", "model": "gpt-4o", "project_id": "proj_a", "api_key_id": "key_0",
              "input_tokens": 1000, "output_tokens": 10, "offset": 60},
             {"type": "vector_stores", "project_id": "proj_a", "usage_bytes": 3 * 2**30, "offset": 120},
             {"type": "web_searches", "model": "gpt-4o", "project_id": "proj_b", "context_level": "low",
              "num_requests": 3, "offset": DAY + 5}]
    _ingest(store, window, usage, [])
    book = _book(window)
    for group_by in GROUPINGS:
        done = _costs_columns(store, window, window + 2 * DAY, group_by, {}, book, None, None, None)
        assert done is not None
        _check_page(store, window, window + 2 * DAY, group_by, {}, book, (1, 7))


HOSTILE = ("123456.789", "0.000000000000000000001234567", "7", "0.1")


@pytest.mark.parametrize("price", HOSTILE)
def test_hostile_prices_and_sums_fall_back_and_agree(store: Store, price: str) -> None:
    """A product or sum past 64 bits (a $123,456.789 per 1M tokens model, 10^12 tokens an event),
    a price finer than 10^-22 a token, and plain ones: the page equals the row-by-row page and the
    reference, and amounts of 2^53 or more scaled units are still the correctly rounded doubles."""
    window = BASE + (10 + HOSTILE.index(price)) * WINDOW
    usage = [{"type": "completions", "model": "pricey", "project_id": p, "api_key_id": "key_0",
              "input_tokens": 10**12 - i, "output_tokens": 10**11 + i, "offset": i * 3600}
             for i in range(6) for p in ("proj_a", "proj_b")]
    usage.append({"type": "vector_stores", "project_id": "proj_a", "usage_bytes": 5 * 2**30, "offset": 7})
    _ingest(store, window, usage, [])
    book = PriceBook(custom=parse_custom([{"model": "pricey", "input": price, "output": price,
                                           "effective_from": "2024-01-01"}]))
    i = HOSTILE.index(price)  # two of the first five groupings per price; the four prices cover all five
    for group_by in (GROUPINGS[i % 5], GROUPINGS[(i + 2) % 5]):
        _check_page(store, window, window + 2 * DAY, group_by, {}, book)


def test_amounts_at_the_double_limits_are_written_as_float_of_the_decimal() -> None:
    """n / 10^S for n < 2^53 and S <= 22 is the double nearest the decimal (both exact, one rounding);
    from 2^53 on the decimal is converted instead."""
    values = [0, 1, 3, 7, 2**53 - 1, 2**53, 2**53 + 1, 2**62 - 1, 123456789012345678, 99999999999999999]
    for scale in range(SCALE_MAX + 1):
        got = _floats_of(np.array(values, np.int64), scale)
        assert [float(x) for x in got] == [float(Decimal(v).scaleb(-scale)) for v in values]
    assert EXACT_FLOAT == 2**53


def test_costs_count_events_not_folded_yet_once(tmp_path: Path) -> None:
    """A new DuckDB file keeps summaries that compaction fills later: a costs page reads them with the
    events not folded yet, so its bytes are the same before a compaction, after it, and after more
    events arrive, and equal to those of a store answering from its rollups."""
    later = open_store(f"duckdb:///{tmp_path / 'later.duckdb'}")
    rollups = open_store(f"duckdb:///{tmp_path / 'rollups.duckdb'}?rollups=on")
    try:
        window = BASE
        book = _book(window)
        first = [{"type": "completions", "model": "gpt-4o", "project_id": "proj_a", "api_key_id": "key_0",
                  "input_tokens": 1000 + i, "output_tokens": 10, "offset": 60 * i} for i in range(30)]
        more = [{"type": "embeddings", "model": "text-embedding-3-small", "project_id": "proj_b",
                 "api_key_id": "key_1", "input_tokens": 500, "offset": DAY + 7},
                {"type": "web_searches", "model": "gpt-4o", "project_id": "proj_b", "context_level": "low",
                 "num_requests": 3, "offset": DAY + 5}]

        def pages(store: Store) -> list[Any]:
            return [_pages(store, _query(window, window + 2 * DAY, g, {}), book, None)[0] for g in GROUPINGS[::2]]

        for s in (later, rollups):
            _ingest(s, window, first, [])
        before = pages(later)
        assert before == pages(rollups)
        later.compact()
        assert pages(later) == before
        for s in (later, rollups):
            _ingest(s, window + 1, more, [])  # ids of their own (the window names them)
        assert pages(later) == pages(rollups) != before
        later.compact()
        assert pages(later) == pages(rollups)
    finally:
        later.close()
        rollups.close()
