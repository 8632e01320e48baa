"""Published examples, one per price kind added to the catalog, computed through the store.

Each expected figure is written from the published price list (quantity x the listed price), never
from the catalog file, so a wrong catalog entry or a wrong lookup fails here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from openusage.ingest.events import validate_events
from openusage.pricing import PriceBook, compute_costs, parse_custom
from openusage.store import Store

M = 1_000_000
DAY = 86400
_n = 0


def at(year: int, month: int, day: int) -> int:
    return int(dt.datetime(year, month, day, 12, tzinfo=dt.UTC).timestamp())


def ingest(store: Store, ts: int, *events: dict[str, Any]) -> None:
    global _n
    evs = []
    for e in events:
        _n += 1
        evs.append({"id": f"pub{_n}", "timestamp": ts, **e})
    store.insert([validate_events(evs)])


def total(store: Store, ts: int, book: PriceBook | None = None) -> Decimal:
    day = ts - ts % DAY
    res = compute_costs(store, day, day + DAY, (), {}, book)
    assert not res.unpriced, res.unpriced
    return res.total()


def searches(model: str, level: str | None, n: int = 1000) -> dict[str, Any]:
    e: dict[str, Any] = {"type": "web_searches", "model": model, "num_requests": n}
    if level:
        e["context_level"] = level
    return e


@pytest.mark.parametrize(("model", "level", "usd"), [
    ("gpt-4o", "low", "30"), ("gpt-4o", "medium", "35"), ("gpt-4o", "high", "50"),
    ("gpt-4.1-2025-04-14", "high", "50"),
    ("gpt-4o-mini", "low", "25"), ("gpt-4o-mini-2024-07-18", "medium", "27.50"), ("gpt-4.1-mini", "high", "30"),
    ("gpt-4o", None, "35"),  # no context level: OpenAI's default, medium
])
def test_web_search_at_launch_by_model_and_context_size(store: Store, model: str, level: str | None,
                                                        usd: str) -> None:
    ts = at(2025, 4, 20)
    ingest(store, ts, searches(model, level))
    assert total(store, ts) == Decimal(usd)


@pytest.mark.parametrize(("model", "level", "usd"), [
    ("gpt-4o", "medium", "25"), ("gpt-4o", "high", "25"), ("gpt-4.1-mini", "low", "25"),
    ("o3", "medium", "10"), ("gpt-5", "high", "10"),
])
def test_web_search_from_gpt5_launch_flat_per_model(store: Store, model: str, level: str, usd: str) -> None:
    ts = at(2025, 10, 15)  # 1,000 medium web searches with gpt-4o in October 2025: $25
    ingest(store, ts, searches(model, level))
    assert total(store, ts) == Decimal(usd)


def test_fine_tuned_model_at_its_base_models_fine_tuning_rates(store: Store) -> None:
    ts = at(2025, 9, 2)
    ingest(store, ts, {"type": "completions", "model": "ft:gpt-4o-mini-2024-07-18:acme::A1b2C3",
                       "input_tokens": M, "input_cached_tokens": 200_000, "output_tokens": M})
    # fine-tuned gpt-4o-mini: $0.30 input, $0.15 cached input, $1.20 output per 1M
    assert total(store, ts) == Decimal("0.8") * Decimal("0.30") + Decimal("0.2") * Decimal("0.15") + Decimal("1.20")
    ingest(store, ts, {"type": "completions", "model": "ft:gpt-4.1-2025-04-14:acme:support:Zz9",
                       "input_tokens": M, "output_tokens": M})
    assert total(store, ts) == Decimal("1.47") + Decimal("3.00") + Decimal("12.00")


def test_a_custom_price_for_the_fine_tuned_model_wins(store: Store) -> None:
    ts = at(2025, 9, 2)
    name = "ft:gpt-4o-mini-2024-07-18:acme::A1b2C3"
    ingest(store, ts, {"type": "completions", "model": name, "input_tokens": M, "output_tokens": M})
    custom = parse_custom([{"model": name, "kind": "completions", "effective_from": "2025-01-01",
                            "input": 1, "output": 2}])
    assert total(store, ts, PriceBook(custom=custom)) == Decimal(3)


def test_unknown_fine_tuned_base_is_unpriced(store: Store) -> None:
    ts = at(2025, 9, 2)
    ingest(store, ts, {"type": "completions", "model": "ft:babbage-002:acme::x", "input_tokens": M})
    day = ts - ts % DAY
    assert compute_costs(store, day, day + DAY).unpriced


@pytest.mark.parametrize(("model", "event", "usd"), [
    ("chatgpt-4o-latest", {"input_tokens": M, "output_tokens": M}, "20"),  # $5 + $15, not gpt-4o's
    ("gpt-4o-2024-05-13", {"input_tokens": M, "output_tokens": M, "service_tier": "priority"}, "35"),  # 8.75+26.25
    ("gpt-realtime", {"input_tokens": M, "input_audio_tokens": M, "output_tokens": M, "output_audio_tokens": M},
     "96"),  # audio $32 in, $64 out
    ("gpt-realtime-mini-2025-10-06", {"input_tokens": M, "output_tokens": M}, "3.00"),
    ("gpt-4o-realtime-preview-2024-12-17", {"input_tokens": 2 * M, "input_audio_tokens": M,
                                             "output_tokens": M}, "65"),  # $5 text + $40 audio + $20
    ("gpt-4o-mini-realtime-preview", {"input_tokens": M, "output_tokens": M}, "3.00"),
    ("gpt-audio", {"input_tokens": M, "input_audio_tokens": M, "output_tokens": M, "output_audio_tokens": M}, "96"),
    ("gpt-audio-mini", {"input_tokens": M, "output_tokens": M}, "3.00"),
    ("o1-pro", {"input_tokens": M, "output_tokens": M}, "750"),
    ("o3-pro-2025-06-10", {"input_tokens": M, "output_tokens": M}, "100"),
    ("o3-deep-research", {"input_tokens": M, "input_cached_tokens": M, "output_tokens": M}, "42.50"),
    ("o4-mini-deep-research", {"input_tokens": M, "output_tokens": M}, "10"),
    ("gpt-5-pro", {"input_tokens": M, "output_tokens": M}, "135"),
    ("gpt-5-codex", {"input_tokens": M, "output_tokens": M}, "11.25"),
    ("gpt-5.1", {"input_tokens": M, "input_cached_tokens": M, "output_tokens": M}, "10.125"),
    ("gpt-5.1-codex-mini", {"input_tokens": M, "output_tokens": M}, "2.25"),
    ("gpt-4.5-preview", {"input_tokens": M, "output_tokens": M}, "225"),
    ("gpt-4-turbo-2024-04-09", {"input_tokens": M, "output_tokens": M}, "40"),
    ("gpt-4", {"input_tokens": M, "output_tokens": M}, "90"),
    ("gpt-3.5-turbo-0125", {"input_tokens": M, "output_tokens": M}, "2.00"),
    ("gpt-4o-search-preview", {"input_tokens": M, "output_tokens": M}, "12.50"),
    ("gpt-4o-mini-search-preview", {"input_tokens": M, "output_tokens": M}, "0.75"),
    ("computer-use-preview", {"input_tokens": M, "output_tokens": M}, "15"),
])
def test_published_token_prices(store: Store, model: str, event: dict[str, Any], usd: str) -> None:
    ts = at(2025, 11, 20)
    ingest(store, ts, {"type": "completions", "model": model, **event})
    assert total(store, ts) == Decimal(usd)


def test_gpt_image_1_mini_per_image(store: Store) -> None:
    ts = at(2025, 11, 20)
    ingest(store, ts, {"type": "images", "model": "gpt-image-1-mini", "size": "1024x1024", "images": 1000})
    assert total(store, ts) == Decimal("11")  # medium quality, the default: $0.011 an image


def test_costs_by_api_source_say_unlabeled_where_openai_does(store: Store) -> None:
    ts = at(2025, 11, 20)
    ingest(store, ts, {"type": "embeddings", "model": "text-embedding-3-small", "input_tokens": M},
           {"type": "completions", "model": "gpt-4o", "input_tokens": M, "api_source": "agents_api"},
           searches("gpt-5", "low", 1))
    day = ts - ts % DAY
    res = compute_costs(store, day, day + DAY, ("api_source",), {})
    assert {key[1] for key in res.lines} == {"unlabeled", "agents_api"}
    assert res.lines[(day, "unlabeled")].amount == Decimal("0.02") + Decimal("0.01")


def test_batch_embeddings_are_billed_half(store: Store) -> None:
    ts = at(2025, 11, 20)
    ingest(store, ts, {"type": "embeddings", "model": "text-embedding-3-large", "input_tokens": M, "batch": True},
           {"type": "embeddings", "model": "text-embedding-3-large", "input_tokens": M})
    day = ts - ts % DAY
    res = compute_costs(store, day, day + DAY, ("line_item",), {})
    assert {k[1]: v.amount for k, v in res.lines.items()} == {
        "text-embedding-3-large, input": Decimal("0.13"),  # $0.13 per 1M
        "text-embedding-3-large, batch input": Decimal("0.065"),  # Batch API: half
    }


def test_vector_storage_part_days_and_the_free_gib(store: Store) -> None:
    gib = 2**30
    day = at(2025, 11, 20) - at(2025, 11, 20) % DAY
    for sample in (day + 60, day + DAY // 2 + 60):  # storage is sampled through the day
        ingest(store, sample, {"type": "vector_stores", "project_id": "a", "usage_bytes": 3 * gib},
               {"type": "vector_stores", "project_id": "b", "usage_bytes": gib // 2})
    whole = compute_costs(store, day, day + DAY, ("line_item",), {})
    got = {k[1]: v.amount for k, v in whole.lines.items()}
    # $0.10 per GiB-day for 3.5 GiB, less the organization's free GiB
    assert got == {"vector store storage": Decimal("0.35"), "vector store storage, free allowance": Decimal("-0.10")}
    assert whole.total() == Decimal("0.25")
    # a range that starts at noon holds half of that day
    half = compute_costs(store, day + DAY // 2, day + DAY, ("line_item", "project_id"), {})
    assert {(k[1], k[2]): v.amount for k, v in half.lines.items()} == {
        ("vector store storage", "a"): Decimal("0.15"), ("vector store storage", "b"): Decimal("0.025"),
        ("vector store storage, free allowance", None): Decimal("-0.05")}
    # one project's view is what it stored, with no share of the organization's allowance
    only_b = compute_costs(store, day, day + DAY, ("line_item",), {"project_id": ("b",)})
    assert {k[1]: v.amount for k, v in only_b.lines.items()} == {"vector store storage": Decimal("0.05")}
