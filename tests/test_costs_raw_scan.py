"""A costs page reading raw events (grouped by key or user: the summaries keep neither) aggregates each
such type apart on DuckDB (:func:`openusage.store.pricing_sql._parts`); its statement must answer
exactly the rows of the one scan of every type, and its amounts those of the Python reference."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openusage.ingest.events import validate_events
from openusage.pricing import PriceBook, compute_costs, parse_custom
from openusage.pricing.costs import compute_costs_reference, priced_rows, sql_store
from openusage.store import Store, pricing_sql
from openusage.store.pricing_sql import run_costs
from tests.storeconf import fresh_store
from tests.test_costs_engines import DAY0, END, START, events

PAGES: list[tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = [
    (("api_key_id",), {}),
    (("project_id", "line_item", "api_key_id"), {}),
    (("api_source", "user_id"), {}),
    (("line_item", "user_id"), {"project_id": ("proj_a",)}),
    (("line_item",), {"api_key_id": ("key_1",)}),
]


def _more_events() -> list[dict[str, Any]]:
    """Rows that make the parts differ from one scan if they group or sum otherwise: the same line from
    two keys (no tier and the default tier), input all cached, the largest counts an event may carry,
    an unknown model, gpt-image input tokens."""
    t = DAY0 + 5000
    common = {"project_id": "proj_a", "api_key_id": "key_0", "user_id": "user_9"}
    out: list[dict[str, Any]] = [
        {"type": "completions", "model": "gpt-4o", "input_tokens": 100, "output_tokens": 5, **common},
        {"type": "completions", "model": "gpt-4o", "input_tokens": 50, "output_tokens": 5, "service_tier": "default",
         **common},
        {"type": "completions", "model": "gpt-4o", "input_tokens": 40, "input_cached_tokens": 40, **common,
         "api_key_id": "key_1"},
        {"type": "completions", "model": "gpt-4o-mini", "input_tokens": 10**12, "output_tokens": 10**12, **common},
        {"type": "completions", "model": "gpt-4o-mini", "input_tokens": 10**12, **common},
        {"type": "embeddings", "model": "made-up-embedder", "input_tokens": 77, **common},
        {"type": "images", "model": "gpt-image-1", "images": 1, "size": "1024x1024", "input_tokens": 300,
         "input_image_tokens": 120, **common},
    ]
    for i, e in enumerate(out):
        e["timestamp"] = t + i
        e["id"] = f"more{i}"
    return out


def _book(custom: bool) -> PriceBook:
    if not custom:
        return PriceBook()
    return PriceBook(custom=parse_custom([{"model": "gpt-4o-mini", "project_id": "proj_b",
                                           "effective_from": "2025-01-01", "multiplier": "0.8"}]))


@pytest.fixture(scope="module", params=["rollups", "raw"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp: Path = tmp_path_factory.mktemp(request.param)
    with fresh_store("duckdb", tmp) as s:
        s.insert([validate_events([*events(), *_more_events()])])
        if request.param == "raw":
            s.rollups = False  # type: ignore[attr-defined]
        yield s


def _one_scan(store: Store, cs: Any) -> list[tuple[Any, ...]]:
    """The rows of ``cs`` read by the one scan of every type (no type's quantities of its own)."""
    return run_costs(sql_store(store), dataclasses.replace(cs, type_quantities={})).rows()


@pytest.mark.parametrize("custom", [False, True])
@pytest.mark.parametrize(("group_by", "filters"), PAGES)
def test_the_parts_answer_the_rows_of_one_scan(store: Store, group_by: tuple[str, ...],
                                               filters: dict[str, tuple[str, ...]], custom: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    statements: list[str] = []
    build = pricing_sql.costs_sql

    def spy(*args: Any, **kwargs: Any) -> tuple[str, list[Any]]:
        sql, values = build(*args, **kwargs)
        statements.append(sql)
        return sql, values

    monkeypatch.setattr(pricing_sql, "costs_sql", spy)
    for by_project in (False, True):
        statements.clear()
        cs, _, answer, _ = priced_rows(store, START, END, group_by, filters, _book(custom), by_project)
        assert statements[-1].count(" AS ukey") >= 8  # a part per type read from the events (or rollups)
        one = _one_scan(store, cs)
        assert statements[-1].count(" AS ukey") == 1
        assert sorted(answer.rows(), key=repr) == sorted(one, key=repr)


@pytest.mark.parametrize("custom", [False, True])
@pytest.mark.parametrize(("group_by", "filters"), PAGES)
def test_the_parts_price_as_the_reference(store: Store, group_by: tuple[str, ...],
                                          filters: dict[str, tuple[str, ...]], custom: bool) -> None:
    book = _book(custom)
    engine = compute_costs(store, START, END, group_by, filters, book)
    reference = compute_costs_reference(store, START, END, group_by, filters, book)
    assert engine.lines == reference.lines
    assert engine.unpriced == reference.unpriced
    assert any(line.amount for line in engine.lines.values())
