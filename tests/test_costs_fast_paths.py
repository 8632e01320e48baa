"""The costs page's faster paths answer the same bytes as before and as the Python reference.

Without the rollups, a DuckDB store's costs statement reads the imported cost lines (``costs`` events)
from the summaries the usage reads when those keep the page's groups and filters, instead of scanning
the raw events (:func:`openusage.store.pricing_sql._imported_levels`); the spec's per-type dimensions are
worked out once (:func:`openusage.spec.stored_dimensions`), unit prices' decimal places once
per price (:func:`openusage.pricing.costs.decimal_places`), and storage rows priced one by one skip the
quantity a page not by line item never reports.  Each page must equal, byte for byte, the page read the
old way (imported lines from the raw events), the row-by-row page and the page made from
:func:`openusage.pricing.costs.compute_costs_reference`, with the events not folded yet, after
``compact()``, and after more events arrive.  Imported quantities here are sums exact in binary
(halves, quarters): the summaries sum a DOUBLE column in another order than the raw scan did.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from openusage.ingest.events import validate_events
from openusage.pricing import PriceBook
from openusage.pricing import costs as costs_mod
from openusage.pricing.costs import compute_costs_reference, decimal_places, page_dict
from openusage.service import aggregate_for
from openusage.spec import DIMENSIONS, EVENT_TYPES, event_dimensions, stored_dimensions
from openusage.store import Store, open_store
from openusage.store import pricing_sql as ps
from openusage.store.sql import SUMMARY_DIMS
from tests.test_costs_columnar import _pages, _query
from tests.test_costs_engine_sql import BASE, DAY, _book, _ingest

GROUPINGS: tuple[tuple[str, ...], ...] = ((), ("line_item",), ("project_id",), ("project_id", "line_item"),
                                          ("api_key_id",), ("api_source", "line_item"))
FILTERS: tuple[dict[str, tuple[str, ...]], ...] = (
    {}, {"project_id": ("proj_a",)}, {"api_key_id": ("key_1",)}, {"line_item": ("support plan", "gpt-4o, input")})
EVERY = [(g, f) for g in GROUPINGS for f in FILTERS]
SOME = [(g, f) for i, g in enumerate(GROUPINGS) for f in (FILTERS[0], FILTERS[1 + i % 3])]
"""Each grouping unfiltered and under one filter (the checks after the first)."""
USAGE: list[dict[str, Any]] = [
    {"type": "completions", "model": "gpt-4o", "project_id": p, "api_key_id": k, "input_tokens": 1000 + i,
     "output_tokens": 10 * i, "offset": 3600 * i + 60}
    for i, (p, k) in enumerate([("proj_a", "key_0"), ("proj_b", "key_1"), ("proj_a", "key_1"), ("proj_c", "key_0")])
] + [
    {"type": "vector_stores", "project_id": "proj_a", "usage_bytes": 3 * 2**30, "offset": 120},
    {"type": "vector_stores", "project_id": "proj_b", "usage_bytes": 2**29, "offset": DAY + 120},
    {"type": "web_searches", "model": "gpt-4o", "project_id": "proj_b", "api_key_id": "key_0",
     "context_level": "low", "num_requests": 3, "offset": DAY + 5},
    {"type": "images", "model": "gpt-image-1", "project_id": "proj_c", "api_key_id": "key_1", "images": 2,
     "size": "1024x1024", "quality": "high", "offset": 2 * DAY + 7},
]


def _bills(window: int, tag: str) -> list[dict[str, Any]]:
    """Imported cost lines: one standing for a priced line (same day, project and name), others of their
    own, some in one day several times (their amounts and quantities summed), one of no project."""
    lines = [("proj_a", "gpt-4o, input", "1.25", 10.5, 60), ("proj_a", "support plan", "10", 0.25, 120),
             ("proj_a", "support plan", "2.50", 0.5, 3600), ("proj_b", "support plan", "0.75", 2.0, DAY + 60),
             (None, "credits", "-3", None, 2 * DAY + 60)]
    events = []
    for i, (project, line, amount, quantity, offset) in enumerate(lines):
        e: dict[str, Any] = {"id": f"{tag}-bill{i}", "type": "costs", "timestamp": window + offset,
                             "line_item": line, "amount": amount}
        if project is not None:
            e["project_id"] = project
        if quantity is not None:
            e.update(quantity=quantity, quantity_unit="tokens" if quantity > 1 else "duration_minutes")
        events.append(e)
    return events


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"duckdb:///{tmp_path / 'fast.duckdb'}?rollups=off")  # the summaries, folded later
    yield s
    s.close()


def _old_way(store: Any, out: tuple[str, ...], imp: ps.ImportedScan,
             summaries: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """What the imported lines were read from before: the rollups keeping their dimensions, else raw events."""
    return ps._rollups(store, {*out, "project_id", "line_item", *imp.filters})


def _check_pages(store: Store, window: int, book: PriceBook, monkeypatch: pytest.MonkeyPatch,
                 start_offset: int = 0, cases: list[tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = SOME) -> int:
    """Every grouping and filter: the page equals the old way's, the row-by-row one and the reference's.
    Returns how many statements read the imported lines from the summaries."""
    read: list[tuple[tuple[str, int], ...]] = []
    plain = ps.costs_sql

    def spy(cs: ps.CostsScan, *args: Any, **kwargs: Any) -> tuple[str, list[Any]]:
        if cs.imported is not None:
            read.append(args[3] if len(args) > 3 else kwargs.get("imported_rollups", ()))
        return plain(cs, *args, **kwargs)

    start, end = window + start_offset, window + 3 * DAY
    for group_by, filters in cases:
        q = _query(start, end, group_by, filters)
        with monkeypatch.context() as m:
            m.setattr(ps, "costs_sql", spy)
            (body, headers), row_by_row = _pages(store, q, book, None)
        assert (body, headers) == row_by_row
        with monkeypatch.context() as m:
            m.setattr(ps, "_imported_levels", _old_way)
            assert _pages(store, q, book, None)[0] == (body, headers)
        ref = compute_costs_reference(store, q.range[0], q.range[1], group_by, dict(filters), book, aggregate_for(q))
        assert body == orjson.dumps(page_dict(q, ref)), (group_by, filters)
        assert headers.get("openusage-unpriced-models", "") == ",".join(ref.unpriced_models)
    # a summary is read as its table alone once nothing is left to fold into it (see summary_levels)
    return sum(1 for levels in read if levels and (levels[0][0] == "summary_1d"
                                                   or levels[0][0].startswith("(SELECT * FROM summary_1d")))


def test_imported_lines_from_the_summaries_equal_the_raw_events_and_the_reference(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before and after compaction, and with events arriving after it (the unfolded tail), on whole days
    and from an hour into the first day (storage charged for part of it)."""
    window = BASE
    book = _book(window)
    _ingest(store, window, USAGE, [])
    store.insert([validate_events(_bills(window, "first"))])
    assert _check_pages(store, window, book, monkeypatch, 0, EVERY) > 0
    assert _check_pages(store, window, book, monkeypatch, 3600) > 0
    store.compact()
    assert _check_pages(store, window, book, monkeypatch, 0, EVERY) > 0
    more = [dict(e, offset=e["offset"] + 1800) for e in USAGE[:3]]
    _ingest(store, window + 7, more, [])  # ids of their own
    store.insert([validate_events(_bills(window, "second"))])
    assert _check_pages(store, window, book, monkeypatch, 3600) > 0
    store.compact()
    assert _check_pages(store, window, book, monkeypatch) > 0


def test_imported_lines_read_the_summaries_only_when_they_keep_the_lines_dimensions(store: Store) -> None:
    """An API key (which the summaries leave out) as a group or filter reads the raw events, as before;
    a store answering from its rollups keeps reading them."""
    levels = (("(SELECT * FROM summary_1d) AS summary_1d", 86400),)
    assert ps._imported_levels(store, (), ps.ImportedScan({"project_id": ("p",)}, True), levels) == levels
    assert ps._imported_levels(store, ("project_id",), ps.ImportedScan({}, True), levels) == levels
    assert ps._imported_levels(store, ("api_key_id",), ps.ImportedScan({}, True), levels) == ()
    assert ps._imported_levels(store, (), ps.ImportedScan({"api_key_id": ("k",)}, True), levels) == ()
    assert ps._imported_levels(store, (), ps.ImportedScan({}, True), ()) == ()
    assert "api_key_id" not in SUMMARY_DIMS and {"project_id", "line_item"} <= set(SUMMARY_DIMS)


def test_rollups_store_pages_are_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the rollups on, the imported lines are read from them as before: same bytes as the reference."""
    s = open_store(f"duckdb:///{tmp_path / 'rollups.duckdb'}?rollups=on")
    try:
        window = BASE + 8 * DAY
        _ingest(s, window, USAGE, [])
        s.insert([validate_events(_bills(window, "r"))])
        assert _check_pages(s, window, _book(window), monkeypatch) == 0
    finally:
        s.close()


def test_cached_spec_and_price_helpers_equal_their_sources() -> None:
    for t in EVENT_TYPES:  # the cached answer is the spec's definition, and the same object each time
        assert stored_dimensions(t) == (*event_dimensions(t), *(d for d, s in DIMENSIONS.items() if s.extension))
        assert stored_dimensions(t) is stored_dimensions(t)
    for text, places in (("1", 0), ("2.50", 1), ("0.0000025", 7), ("1E+3", 0), ("1E-22", 22), ("1E-23", None),
                         ("0.000000000000000000001234567", None)):
        assert decimal_places(Decimal(text)) == places, text
    assert costs_mod.NO_QUANTITY == 0
