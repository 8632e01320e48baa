"""The one-statement usage read behind a costs page, on every engine.

Each type's rows of the combined statement must be exactly what that type's own aggregation answers
(the store's ``aggregate``, which every engine's conformance tests pin), and the priced pages must be
equal on DuckDB (raw events and rollups), PostgreSQL and ClickHouse (chdb).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from openusage.ingest.events import validate_events
from openusage.pricing import PriceBook, compute_costs, parse_custom, unpriced_usage
from openusage.pricing.costs import CostResult, usage_scan
from openusage.pricing.kinds import KINDS
from openusage.query.params import parse_params, resolve
from openusage.service import aggregate_for
from openusage.spec import ENDPOINTS_BY_NAME, event_dimensions, event_metrics
from openusage.store import Store
from openusage.store.base import Aggregate
from openusage.store.pricing_sql import scan_usage, usage_scan_sql
from openusage.store.sql import DUCKDB
from tests.storeconf import ENGINES, fresh_store

pytestmark = pytest.mark.xdist_group("costs_engines")  # one module fixture, built once

DAY0 = int(dt.datetime(2025, 9, 1, tzinfo=dt.UTC).timestamp())
DAY = 86400
START, END = DAY0 + 3600, DAY0 + 3 * DAY  # a part day at the start: storage is prorated


def events() -> list[dict[str, Any]]:
    """Usage of every priced type over three days, two projects, two keys; one unknown model."""
    out: list[dict[str, Any]] = []
    for day in range(3):
        for j, project in enumerate(("proj_a", "proj_b")):
            t = DAY0 + day * DAY + 7200 * (j + 1)
            key = f"key_{j}"
            common = {"project_id": project, "api_key_id": key, "user_id": f"user_{day}"}
            out += [
                {"type": "completions", "model": "gpt-4o-2024-08-06", "input_tokens": 1_000 + day,
                 "input_cached_tokens": 100, "output_tokens": 300, **common},
                {"type": "completions", "model": "gpt-4o-mini", "input_tokens": 5_000, "output_tokens": 10,
                 "batch": True, **common},
                {"type": "completions", "model": "gpt-4.1", "input_tokens": 700, "output_tokens": 70,
                 "service_tier": "flex", **common},
                {"type": "completions", "model": "no-such-model", "input_tokens": 9, **common},
                {"type": "embeddings", "model": "text-embedding-3-small", "input_tokens": 12_345, "batch": day == 1,
                 **common},
                {"type": "moderations", "model": "omni-moderation-latest", "input_tokens": 999, **common},
                {"type": "images", "model": "dall-e-3", "images": 2, "size": "1024x1024",
                 "quality": "hd" if j else None, **common},
                {"type": "audio_speeches", "model": "tts-1", "characters": 4_321, **common},
                {"type": "audio_transcriptions", "model": "whisper-1", "seconds": 61, **common},
                {"type": "web_searches", "model": "gpt-4o", "context_level": "high", "num_requests": 3, **common},
                {"type": "file_searches", "num_requests": 4, **common},
                {"type": "code_interpreter_sessions", "project_id": project, "num_sessions": 1,
                 "memory_limit": "1g" if day else None},  # the sizes are priced from 2025-11-01
                {"type": "vector_stores", "project_id": project, "usage_bytes": (day + 1) * 2**29},
            ]
            for i, e in enumerate(out[-13:]):
                e["timestamp"] = t + i
    for i, e in enumerate(out):
        e["id"] = f"ev{i}"
    out.append({"id": "bill1", "type": "costs", "timestamp": DAY0 + DAY + 60, "project_id": "proj_a",
                "line_item": "gpt-4.1, flex input", "amount": "0.5", "quantity": 700, "quantity_unit": "tokens"})
    out.append({"id": "bill2", "type": "costs", "timestamp": DAY0 + DAY + 60, "project_id": "proj_b",
                "line_item": "support plan", "amount": "12.25"})
    return out


PAGES: list[tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = [
    ((), {}),
    (("line_item",), {}),
    (("project_id",), {}),
    (("project_id", "line_item", "api_key_id"), {}),
    (("api_source", "user_id"), {}),
    (("line_item",), {"api_key_id": ("key_1",)}),
    (("line_item",), {"project_id": ("proj_b",)}),
]


def _book() -> PriceBook:
    custom = parse_custom([{"model": "gpt-4o-mini", "project_id": "proj_b", "effective_from": "2025-01-01",
                            "multiplier": "0.8"}])
    return PriceBook(custom=custom)


def _pages(store: Store) -> list[tuple[dict[Any, Any], dict[Any, int]]]:
    out = []
    for group_by, filters in PAGES:
        items = [("start_time", str(START)), ("end_time", str(END)), ("limit", "7"),
                 *(("group_by", g) for g in group_by)]
        items += [(("project_ids" if d == "project_id" else "api_key_ids"), v) for d, vs in filters.items()
                  for v in vs]
        q = resolve(parse_params(ENDPOINTS_BY_NAME["costs"], items), END)
        imported = aggregate_for(q)
        res: CostResult = compute_costs(store, START, END, group_by, dict(imported.filters), _book(), imported)
        out.append(({k: (v.amount, v.quantity if v.has_quantity else None, v.unit) for k, v in res.lines.items()},
                    res.unpriced))
    return out


def _own_aggregation(store: Store, kind: str, groups: tuple[str, ...], filters: dict[str, Any]) -> set[Any]:
    """A type's usage as its own store aggregation answers it (the reference)."""
    metrics = event_metrics(kind)  # the endpoint's, and those only prices read (gpt-image tokens)
    read = set(KINDS[kind].metrics)
    agg = Aggregate(event_type=kind, start_s=START, end_s=END, width_s=DAY, group_by=groups, filters=filters,
                    metrics=tuple(m.name for m in metrics if m.agg == "sum" and m.name in read),
                    gauges=tuple(m.name for m in metrics if m.agg == "gauge"))
    rows = store.aggregate(agg).to_pylist()
    cols = [*agg.metrics, *agg.gauges]
    return {(r["bucket"], *(r[g] for g in groups), *(int(r[m] or 0) for m in cols)) for r in rows}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for engine in ("duckdb-raw", *ENGINES):
        tmp: Path = tmp_path_factory.mktemp(engine)
        with fresh_store(engine.removesuffix("-raw"), tmp) as store:
            store.insert([validate_events(events())])
            if engine == "duckdb-raw":
                store.rollups = False  # type: ignore[attr-defined]
            scans = []
            for group_by, filters in PAGES:
                # prices for the organization only: storage alone is grouped by project
                scan = usage_scan(START, END, group_by, filters, PriceBook())
                rows = scan_usage(store, scan)
                for kind in scan.event_types:
                    groups = tuple(g for g in scan.group_by if g in KINDS[kind].dims or g in group_by)
                    groups = tuple(g for g in groups if g in event_dimensions(kind))
                    metrics = [m.name for m in event_metrics(kind) if m.name in scan.metrics
                               and m.name in KINDS[kind].metrics] + list(
                        scan.gauges if kind == "vector_stores" else ())
                    mine = {(r["bucket"], *(r[g] for g in groups), *(int(r[m] or 0) for m in metrics))
                            for r in rows if r["type"] == kind}
                    scans.append((kind, group_by, mine == _own_aggregation(store, kind, groups, filters)))
            out[engine] = {"scans": scans, "pages": _pages(store),
                           "unpriced": unpriced_usage(store, START, END, _book())}
    return out


@pytest.mark.parametrize("engine", ["duckdb-raw", *ENGINES])
def test_each_type_reads_what_its_own_aggregation_answers(results: dict[str, Any], engine: str) -> None:
    scans = results[engine]["scans"]
    assert len(scans) >= len(PAGES) * 9  # every type but storage, without a key, for each page
    assert not [(kind, groups) for kind, groups, same in scans if not same]


@pytest.mark.parametrize("engine", ENGINES)
def test_costs_pages_equal_on_every_engine(results: dict[str, Any], engine: str) -> None:
    assert results[engine]["pages"] == results["duckdb-raw"]["pages"]
    assert results[engine]["unpriced"] == results["duckdb-raw"]["unpriced"]


def test_the_pages_price_every_type(results: dict[str, Any]) -> None:
    by_line = results["duckdb-raw"]["pages"][1][0]
    items = {k[1] for k in by_line}
    assert {"gpt-4o-mini, batch input", "gpt-4.1, flex output", "text-embedding-3-small, batch input",
            "vector store storage", "vector store storage, free allowance", "support plan",
            "web search tool calls", "code interpreter sessions",
            "dall-e-3, images 1024x1024 (standard)", "dall-e-3, images 1024x1024 (hd)"} <= items
    assert "gpt-4.1, flex input" in items  # days without the imported line are priced
    total = sum((v[0] for v in by_line.values()), Decimal(0))
    assert total > 0
    unpriced = results["duckdb-raw"]["pages"][0][1]
    assert {name for _, name, _ in unpriced} == {"no-such-model"}


def test_a_scan_is_one_statement_over_every_priced_type() -> None:
    scan = usage_scan(START, END, ("line_item",), {}, _book())  # project prices: all grouped by project
    sql, args = usage_scan_sql(scan, DUCKDB)
    assert set(scan.event_types) == set(KINDS)
    assert sql.count("FROM events") == 1 and "UNION" not in sql and "CASE" not in sql
    assert args[-2:] == [START * 1_000_000, END * 1_000_000]
    sql, _ = usage_scan_sql(usage_scan(START, END, ("line_item",), {}, PriceBook()), DUCKDB)
    assert sql.count("CASE WHEN") == 1  # storage alone by project
