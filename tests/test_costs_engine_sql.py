"""Costs priced by the engine equal the Python reference, on random usage, on every engine.

:func:`openusage.pricing.compute_costs` prices in one statement (usage joined with the price rows);
:func:`openusage.pricing.costs.compute_costs_reference` prices each aggregated usage row in Python
(:mod:`openusage.pricing.compute`).  For random usage of every priced type (known, aliased, ``ft:`` and
unknown models, batch and service tiers, image sizes and qualities, gpt-image input tokens, code
interpreter container sizes, context levels, token counts up to 10^12 in every detail, imported cost
lines standing for priced ones) and prices (custom, project-specific, dated inside the range), every
grouping and line-item filter must give the same amounts, quantities, units and unpriced usage, exactly,
on DuckDB, PostgreSQL and ClickHouse (chdb).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openusage.ingest.events import validate_events
from openusage.pricing import PriceBook, compute_costs, parse_custom, unpriced_usage
from openusage.pricing.costs import CostResult, compute_costs_reference
from openusage.pricing.price_table import FOREVER, PriceTable, key_text
from openusage.store import Store
from openusage.store.base import Aggregate
from tests.storeconf import ENGINES, fresh_store

DAY = 86400
BASE = int(dt.datetime(2025, 3, 1, tzinfo=dt.UTC).timestamp())
WINDOW = 4 * DAY  # each example's usage has days of its own
MODELS = ("gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-mini", "gpt-4.1", "o3", "ft:gpt-4o-mini-2024-07-18:org::abc",
          "ft:gpt-4o-mini:org:custom:x1", "no-such-model", "my-llama")
PROJECTS = ("proj_a", "proj_b", "proj_c")
KEYS = ("key_0", "key_1")
BIG = 10**12
INPUT_PARTS = ("input_cached_audio_tokens", "input_cached_image_tokens", "input_cached_text_tokens",
               "input_cache_write_30m_tokens", "input_cache_write_12h_tokens", "input_audio_tokens",
               "input_image_tokens", "input_text_tokens")
OUTPUT_PARTS = ("output_audio_tokens", "output_image_tokens", "output_text_tokens")

_counter = itertools.count()


def _book(window: int) -> PriceBook:
    """Catalog prices, plus custom ones: a model the catalog lacks, an ``ft:`` model by name, a project's
    discount, a price changing on the window's second day, gpt-image prices (per image by quality and
size, input tokens; one with image input at the input price from that day), and code interpreter
container sizes priced from that day (64g never)."""
    second = dt.datetime.fromtimestamp(window + DAY, dt.UTC).date().isoformat()
    return PriceBook(custom=parse_custom([
        {"model": "my-llama", "input": "0.3", "output": "0.9", "effective_from": "2024-01-01"},
        {"model": "my-llama", "input": "0.35", "output": "1.1", "cached_input": "0.07", "effective_from": second},
        {"model": "ft:gpt-4o-mini:org:custom:x1", "kind": "completions", "multiplier": "0.5",
         "effective_from": "2024-01-01"},
        {"model": "gpt-4o-mini", "project_id": "proj_b", "multiplier": "0.8", "effective_from": second},
        {"model": "gpt-4o", "project_id": "proj_c", "input": "1.75", "effective_from": "2024-01-01"},
        {"model": "gpt-image-1", "input": "5", "image_input": "10", "default_quality": "medium",
         "default_size": "1024x1024", "per_image": {"medium": {"1024x1024": "0.042"}, "high": {"1024x1024": "0.167",
                                                                                        "1792x1024": "0.25"}},
         "effective_from": "2024-01-01"},
        {"model": "gpt-image-1-mini", "input": "2", "effective_from": second},
        {"model": "code_interpreter", "per_session": "0.03", "per_memory_limit": {"4g": "0.12", "16g": "0.48"},
         "effective_from": second},
    ]))


def _tokens(big: int = BIG) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 2000), st.sampled_from([0, 1, 999_999, big]))


@st.composite
def usage_event(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["completions"] * 6 + ["embeddings", "moderations", "images", "audio_speeches",
                                                       "audio_transcriptions", "web_searches", "file_searches",
                                                       "code_interpreter_sessions", "vector_stores"]))
    e: dict[str, Any] = {"type": kind, "project_id": draw(st.sampled_from(PROJECTS)),
                         "offset": draw(st.integers(0, 3 * DAY - 1))}
    if kind not in ("code_interpreter_sessions", "vector_stores"):
        e["api_key_id"] = draw(st.sampled_from(KEYS))
    if kind == "completions":
        e["model"] = draw(st.sampled_from(MODELS))
        if draw(st.booleans()):  # totals only: all text
            e["input_tokens"] = draw(_tokens())
            e["output_tokens"] = draw(_tokens())
        else:  # every part, totals their sums (as ingestion checks)
            parts = {m: draw(_tokens(BIG // 10)) for m in INPUT_PARTS + OUTPUT_PARTS}  # sums within 10^12
            e.update(parts)
            e["input_tokens"] = sum(parts[m] for m in INPUT_PARTS)
            e["output_tokens"] = sum(parts[m] for m in OUTPUT_PARTS)
        e["batch"] = draw(st.booleans())
        tier = draw(st.sampled_from([None, "default", "flex", "priority", "scale"]))
        if tier:
            e["service_tier"] = tier
    elif kind in ("embeddings", "moderations"):
        e["model"] = draw(st.sampled_from(["text-embedding-3-small", "omni-moderation-latest", "no-such-model"]))
        e["input_tokens"] = draw(_tokens())
        if kind == "embeddings":
            e["batch"] = draw(st.booleans())
    elif kind == "images":
        e["model"] = draw(st.sampled_from(["dall-e-3", "gpt-image-1", "gpt-image-1-mini", "no-such-model"]))
        e["images"] = draw(st.integers(0, 5))
        e["size"] = draw(st.sampled_from(["1024x1024", "1792x1024", "77x77"]))
        quality = draw(st.sampled_from([None, "auto", "standard", "hd", "low", "medium", "high"]))
        if quality:
            e["quality"] = quality
        if draw(st.booleans()):  # a gpt-image answer's input tokens, text and image
            image_in = draw(_tokens(BIG // 10))
            e["input_image_tokens"] = image_in
            e["input_tokens"] = image_in + draw(_tokens(BIG // 10))
    elif kind == "audio_speeches":
        e["model"] = draw(st.sampled_from(["tts-1", "tts-1-hd"]))
        e["characters"] = draw(_tokens())
    elif kind == "audio_transcriptions":
        e["model"] = "whisper-1"
        e["seconds"] = draw(st.integers(0, 7200))
    elif kind == "web_searches":
        e["model"] = draw(st.sampled_from(["gpt-4o", "gpt-4.1-mini", "o3", "no-such-model"]))
        e["context_level"] = draw(st.sampled_from(["low", "medium", "high"]))
        e["num_requests"] = draw(st.integers(0, 50))
    elif kind == "file_searches":
        e["num_requests"] = draw(st.integers(0, 50))
    elif kind == "code_interpreter_sessions":
        e["num_sessions"] = draw(st.integers(0, 9))
        limit = draw(st.sampled_from([None, "1g", "4g", "16g", "64g"]))
        if limit:
            e["memory_limit"] = limit
    else:
        e["usage_bytes"] = draw(st.integers(0, 3 * 2**30))
    return e


@pytest.fixture(scope="module", params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp: Path = tmp_path_factory.mktemp(f"engine-{request.param}")
    with fresh_store(request.param, tmp) as s:
        yield s


def _ingest(store: Store, window: int, usage: list[dict[str, Any]], bills: list[int]) -> None:
    events = []
    for i, e in enumerate(usage):
        e = dict(e)
        e["timestamp"] = window + e.pop("offset")
        e["id"] = f"w{window}-{i}"
        events.append(e)
    for i, day in enumerate(bills):  # imported lines: one standing for a priced line, one of its own
        events.append({"id": f"w{window}-bill{i}", "type": "costs", "timestamp": window + day * DAY + 60,
                       "project_id": "proj_a", "line_item": "gpt-4o, input" if i % 2 == 0 else "support plan",
                       "amount": "1.25", "quantity": 10, "quantity_unit": "tokens"})
    store.insert([validate_events(events)])


def _same(a: CostResult, b: CostResult) -> None:
    assert {k: (v.amount, v.quantity if v.has_quantity else None, v.unit) for k, v in a.lines.items()} == \
        {k: (v.amount, v.quantity if v.has_quantity else None, v.unit) for k, v in b.lines.items()}
    assert a.unpriced == b.unpriced


def _imported(start: int, end: int, group_by: tuple[str, ...], filters: dict[str, tuple[str, ...]]) -> Aggregate:
    """The page's aggregation of imported cost lines, as the service makes it."""
    return Aggregate(event_type="costs", start_s=start, end_s=end, width_s=DAY, group_by=group_by,
                     filters=dict(filters), decimals=("amount",), with_quantity="line_item" in group_by)


GROUPINGS: tuple[tuple[str, ...], ...] = ((), ("line_item",), ("project_id",), ("api_key_id",),
                                          ("project_id", "line_item", "api_key_id"), ("api_source", "line_item"))


FILTERS: tuple[dict[str, tuple[str, ...]], ...] = ({}, {"project_id": ("proj_b",)}, {"api_key_id": ("key_1",)})
CASES = [(g, f) for g in GROUPINGS for f in range(len(FILTERS))]


def test_engine_costs_equal_the_python_reference(store: Store) -> None:
    """Random usages per engine (fewer on chdb, whose in-process ClickHouse takes far longer per
    statement while running the same generated SQL), each read through four of the 18 (grouping,
    filter) pairs that Hypothesis draws, with and without imported lines, and through a line-item
    filter of one line and of two."""

    @settings(max_examples=3 if store.dialect.name == "clickhouse" else 8, deadline=None,
              report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow])
    @given(usage=st.lists(usage_event(), min_size=1, max_size=40), bills=st.lists(st.integers(0, 2), max_size=2),
           part_day=st.sampled_from([0, 3600]),
           cases=st.lists(st.sampled_from(CASES), min_size=4, max_size=4, unique=True),
           pick=st.integers(0, 2))
    def check(usage: list[dict[str, Any]], bills: list[int], part_day: int,
              cases: list[tuple[tuple[str, ...], int]], pick: int) -> None:
        window = BASE + next(_counter) * WINDOW
        _ingest(store, window, usage, bills)
        book = _book(window)
        start, end = window + part_day, window + 3 * DAY
        for group_by, f in cases:
            filters = FILTERS[f]
            ref = compute_costs_reference(store, start, end, group_by, dict(filters), book)
            _same(compute_costs(store, start, end, group_by, dict(filters), book), ref)
            if len(group_by) < 3:  # the imported lines added, read by the same statement
                imported = _imported(start, end, group_by, filters)
                _same(compute_costs(store, start, end, group_by, dict(filters), book, imported),
                      compute_costs_reference(store, start, end, group_by, dict(filters), book, imported))
        lines = sorted({k[1] for k in compute_costs_reference(store, start, end, ("line_item",), {}, book).lines})
        if lines:  # a line-item filter: one line, then two
            wanted = lines[pick % len(lines)]
            for chosen in ((wanted,), (wanted, "gpt-4o, input")):
                group_by = ("line_item",) if pick % 2 == 0 else ("project_id",)
                _same(compute_costs(store, start, end, group_by, {"line_item": chosen}, book),
                      compute_costs_reference(store, start, end, group_by, {"line_item": chosen}, book))

    check()


def test_missing_prices_are_listed_as_the_reference_lists_them(store: Store) -> None:
    window = BASE - 10 * WINDOW
    usage = [{"type": "completions", "model": "no-such-model", "project_id": "proj_a", "input_tokens": 7,
              "output_tokens": 3, "offset": 10},
             {"type": "images", "model": "dall-e-3", "project_id": "proj_a", "images": 2, "size": "77x77",
              "offset": DAY + 5},
             {"type": "completions", "model": "gpt-4o", "project_id": "proj_a", "input_tokens": 70, "offset": 20}]
    _ingest(store, window, usage, [])
    rows = unpriced_usage(store, window, window + 2 * DAY, _book(window))
    day0 = dt.datetime.fromtimestamp(window, dt.UTC).date()
    assert rows == [
        {"kind": "completions", "model": "no-such-model", "what": "input", "quantity": 7, "first_day": day0,
         "last_day": day0},
        {"kind": "completions", "model": "no-such-model", "what": "output", "quantity": 3, "first_day": day0,
         "last_day": day0},
        {"kind": "images", "model": "dall-e-3", "what": "images 77x77", "quantity": 2,
         "first_day": day0 + dt.timedelta(days=1), "last_day": day0 + dt.timedelta(days=1)},
    ]


def test_price_rows_cover_all_time_and_merge_equal_neighbours() -> None:
    table = PriceTable(_book(BASE))
    key = key_text("completions", "", {"model": "my-llama"})
    table.add({key})
    spans = sorted({(r.lo, r.hi) for r in table.rows if r.key == key})
    assert spans[0][0] == -FOREVER and spans[-1][1] == FOREVER
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    # my-llama is unpriced before 2024-01-01, one price until the window's second day, then another
    assert [s[0] for s in spans[1:]] == [int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()), BASE + DAY]
