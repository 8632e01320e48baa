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


def lines(store: Store, ts: int) -> dict[str, Decimal]:
    day = ts - ts % DAY
    res = compute_costs(store, day, day + DAY, ("line_item",), {})
    assert not res.unpriced, res.unpriced
    return {k[1]: v.amount for k, v in res.lines.items()}


@pytest.mark.parametrize(("model", "quality", "size", "usd"), [
    ("dall-e-3", "hd", "1024x1024", "0.08"),  # DALL-E 3 HD 1024x1024: $0.080 an image
    ("dall-e-3", "hd", "1024x1792", "0.12"),
    ("dall-e-3", "standard", "1024x1024", "0.04"),
    ("dall-e-3", None, "1024x1024", "0.04"),  # no quality: the default, standard
    ("gpt-image-1", "high", "1024x1024", "0.167"),  # gpt-image-1 high 1024x1024: $0.167
    ("gpt-image-1", "low", "1536x1024", "0.016"),
    ("gpt-image-1", "auto", "1024x1024", "0.042"),  # auto: the default quality, medium
    ("gpt-image-1-mini", "high", "1024x1536", "0.052"),
])
def test_images_priced_at_their_quality(store: Store, model: str, quality: str | None, size: str,
                                         usd: str) -> None:
    ts = at(2025, 11, 20)
    event: dict[str, Any] = {"type": "images", "model": model, "size": size, "images": 1}
    if quality:
        event["quality"] = quality
    ingest(store, ts, event)
    assert total(store, ts) == Decimal(usd)
    default = "medium" if model.startswith("gpt-image") else "standard"
    label = f"{model}, images {size} ({default if quality in (None, 'auto') else quality})"
    assert lines(store, ts) == {label: Decimal(usd)}


def test_an_image_quality_the_model_has_no_price_for_is_unpriced(store: Store) -> None:
    ts = at(2025, 11, 20)
    ingest(store, ts, {"type": "images", "model": "gpt-image-1", "size": "1024x1024", "quality": "hd"})
    day = ts - ts % DAY
    res = compute_costs(store, day, day + DAY)
    assert res.total() == 0
    assert res.unpriced == {("images", "gpt-image-1", "images 1024x1024"): 1}


@pytest.mark.parametrize(("model", "usd"), [
    # gpt-image-1: text input $5 / 1M, image input $10 / 1M, beside $0.167 an image (high, 1024x1024)
    ("gpt-image-1", {"gpt-image-1, images 1024x1024 (high)": "0.167", "gpt-image-1, input": "2.5",
                     "gpt-image-1, image input": "5"}),
    # gpt-image-1-mini: text input $2 / 1M, image input $2.50 / 1M, beside $0.036 an image
    ("gpt-image-1-mini", {"gpt-image-1-mini, images 1024x1024 (high)": "0.036", "gpt-image-1-mini, input": "1",
                          "gpt-image-1-mini, image input": "1.25"}),
])
def test_gpt_image_input_tokens_are_billed_beside_the_image(store: Store, model: str, usd: dict[str, str]) -> None:
    ts = at(2025, 11, 20)
    ingest(store, ts, {"type": "images", "model": model, "size": "1024x1024", "quality": "high", "images": 1,
                       "input_tokens": M, "input_image_tokens": M // 2, "output_tokens": 4160})
    assert lines(store, ts) == {k: Decimal(v) for k, v in usd.items()}
    assert total(store, ts) == sum((Decimal(v) for v in usd.values()), Decimal(0))


def test_image_tokens_without_a_token_price_are_unpriced(store: Store) -> None:
    ts = at(2025, 11, 20)
    ingest(store, ts, {"type": "images", "model": "dall-e-3", "size": "1024x1024", "images": 1,
                       "input_tokens": 100})
    day = ts - ts % DAY
    res = compute_costs(store, day, day + DAY, ("line_item",), {})
    assert {k[1]: v.amount for k, v in res.lines.items()} == {"dall-e-3, images 1024x1024 (standard)": Decimal("0.04")}
    assert res.unpriced == {("images", "dall-e-3", "input"): 100}


@pytest.mark.parametrize("day", [(2025, 12, 15), (2026, 4, 15)])  # per session, then per 20-minute session
@pytest.mark.parametrize(("memory", "usd"), [
    (None, "30"), ("1g", "30"), ("4g", "120"), ("16g", "480"), ("64g", "1920"),  # $0.03 / $0.12 / $0.48 / $1.92
])
def test_code_interpreter_by_container_size(store: Store, day: tuple[int, int, int], memory: str | None,
                                            usd: str) -> None:
    ts = at(*day)
    event: dict[str, Any] = {"type": "code_interpreter_sessions", "num_sessions": 1000}
    if memory:
        event["memory_limit"] = memory
    ingest(store, ts, event)
    label = "code interpreter sessions" + (f" ({memory})" if memory not in (None, "1g") else "")
    assert lines(store, ts) == {label: Decimal(usd)}


def test_code_interpreter_containers_before_sizes_were_priced(store: Store) -> None:
    ts = at(2025, 6, 2)
    ingest(store, ts, {"type": "code_interpreter_sessions", "num_sessions": 10},
           {"type": "code_interpreter_sessions", "num_sessions": 2, "memory_limit": "4g"})
    day = ts - ts % DAY
    res = compute_costs(store, day, day + DAY, ("line_item",), {})
    assert {k[1]: v.amount for k, v in res.lines.items()} == {"code interpreter sessions": Decimal("0.30")}
    assert res.unpriced == {("code_interpreter_sessions", "code_interpreter", "sessions (4g)"): 2}


@pytest.mark.parametrize(("model", "usd"), [
    ("gpt-realtime", "0.40"),  # published cached audio input prices, per 1M
    ("gpt-realtime-mini", "0.30"),
    ("gpt-4o-realtime-preview-2024-12-17", "2.50"),
    ("gpt-4o-realtime-preview-2024-10-01", "20"),
    ("gpt-4o-mini-realtime-preview", "0.30"),
    # none published: cached audio bills at the audio input price
    ("gpt-4o-audio-preview", "40"),
    ("gpt-4o-mini", "10"),
    ("gpt-4o", "40"),
    ("gpt-audio", "32"),
    ("gpt-audio-mini-2025-10-06", "10"),
])
def test_cached_audio_input(store: Store, model: str, usd: str) -> None:
    ts = at(2025, 11, 20)
    ingest(store, ts, {"type": "completions", "model": model, "input_tokens": M, "input_cached_tokens": M,
                       "input_cached_audio_tokens": M})
    assert lines(store, ts) == {f"{model}, cached audio input": Decimal(usd)}


def test_only_models_that_publish_one_carry_a_cached_audio_price() -> None:
    from openusage.pricing.catalog import bundled_catalog

    carrying = {name for name, entry in bundled_catalog().entries.items()
                for rec in entry.records if "cached_audio_input" in rec.prices}
    assert carrying == {"gpt-realtime", "gpt-realtime-mini", "gpt-4o-realtime-preview-2024-10-01",
                        "gpt-4o-realtime-preview", "gpt-4o-mini-realtime-preview"}


@pytest.mark.parametrize(("day", "usd"), [
    ((2025, 8, 6), "35"),  # the last day of the launch prices: gpt-4o medium $35 / 1k calls
    ((2025, 8, 7), "25"),  # from the GPT-5 launch: $25 flat
])
def test_web_search_price_change_day(store: Store, day: tuple[int, int, int], usd: str) -> None:
    ts = at(*day)
    ingest(store, ts, searches("gpt-4o-2024-08-06", "medium"))
    assert total(store, ts) == Decimal(usd)


def test_web_search_before_its_launch_is_unpriced(store: Store) -> None:
    ts = at(2025, 3, 10)
    ingest(store, ts, searches("gpt-4o", "medium"))
    day = ts - ts % DAY
    assert compute_costs(store, day, day + DAY).unpriced == {("web_searches", "web_search", "calls"): 1000}


def test_chatgpt_4o_latest_and_gpt_4o_2024_05_13_priority(store: Store) -> None:
    ts = at(2025, 11, 20)
    ingest(store, ts, {"type": "completions", "model": "chatgpt-4o-latest", "input_tokens": M, "output_tokens": M},
           {"type": "completions", "model": "gpt-4o-2024-05-13", "input_tokens": M, "output_tokens": M,
            "service_tier": "priority"},
           {"type": "completions", "model": "gpt-4o-2024-05-13", "input_tokens": M, "output_tokens": M})
    assert lines(store, ts) == {
        "chatgpt-4o-latest, input": Decimal("5"), "chatgpt-4o-latest, output": Decimal("15"),  # $5 / $15
        "gpt-4o-2024-05-13, priority input": Decimal("8.75"), "gpt-4o-2024-05-13, priority output": Decimal("26.25"),
        "gpt-4o-2024-05-13, input": Decimal("5"), "gpt-4o-2024-05-13, output": Decimal("15"),
    }
