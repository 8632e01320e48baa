"""The bundled price catalog is valid and prices everything the demo uses; bad price files are refused."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from openusage.demo import CHAT_MODELS
from openusage.pricing import CatalogError, PriceBook, bundled_catalog, load_text, parse_catalog, parse_custom
from openusage.pricing.book import merge

DAY = dt.date(2025, 9, 1)


def test_bundled_catalog_is_valid_and_sourced() -> None:
    cat = bundled_catalog()
    assert len(cat.entries) >= 30
    for name, entry in cat.entries.items():
        for r in entry.records:
            assert r.source, f"{name} {r.effective_from} has no source"


def test_numbers_are_exact_decimals() -> None:
    rec = bundled_catalog().entry("gpt-4o-mini-2024-07-18").in_force(DAY)  # type: ignore[union-attr]
    assert rec is not None
    assert rec.prices["cached_input"] == Decimal("0.075")
    assert str(rec.prices["input"]) == "0.15"


@pytest.mark.parametrize("name,kind", [
    *((m, "completions") for m in CHAT_MODELS),
    *((m, "completions") for m in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o3",
                                   "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano")),
    ("text-embedding-3-small", "embeddings"), ("text-embedding-3-large", "embeddings"),
    ("text-embedding-ada-002", "embeddings"), ("omni-moderation-latest", "moderations"),
    ("gpt-image-1", "images"), ("dall-e-3", "images"), ("dall-e-2", "images"),
    ("tts-1", "audio_speeches"), ("tts-1-hd", "audio_speeches"), ("gpt-4o-mini-tts", "audio_speeches"),
    ("whisper-1", "audio_transcriptions"), ("gpt-4o-transcribe", "audio_transcriptions"),
    ("vector_storage", "vector_stores"), ("code_interpreter", "code_interpreter_sessions"),
    ("file_search", "file_searches"), ("web_search", "web_searches"),
])
def test_published_models_are_priced(name: str, kind: str) -> None:
    assert PriceBook().resolve(name, kind, DAY) is not None


def test_alias_and_snapshot_share_prices_but_other_snapshot_differs() -> None:
    book = PriceBook()
    a = book.resolve("gpt-4o", "completions", DAY)
    b = book.resolve("gpt-4o-2024-08-06", "completions", DAY)
    old = book.resolve("gpt-4o-2024-05-13", "completions", DAY)
    assert a is not None and b is not None and old is not None
    assert a.prices == b.prices
    assert old.prices["input"] == Decimal("5.00")


def test_effective_dates_pick_the_record_in_force() -> None:
    book = PriceBook()
    assert book.resolve("o3", "completions", dt.date(2025, 4, 15)) is None  # before launch: unpriced
    assert book.resolve("o3", "completions", dt.date(2025, 6, 9)).prices["input"] == Decimal("10.00")  # type: ignore[union-attr]
    assert book.resolve("o3", "completions", dt.date(2025, 6, 10)).prices["input"] == Decimal("2.00")  # type: ignore[union-attr]


def test_wrong_kind_is_unpriced() -> None:
    assert PriceBook().resolve("gpt-4o", "embeddings", DAY) is None
    assert PriceBook().resolve("no-such-model", "completions", DAY) is None


def _doc(**entry: Any) -> dict[str, Any]:
    base = {"kind": "completions", "prices": [{"effective_from": "2025-01-01", "input": 1, "output": 2}]}
    base.update(entry)
    return {"version": 1, "models": {"m": base}}


BAD_CATALOGS: list[tuple[Any, str]] = [
    ({"version": 2}, "catalog.version"),
    ({"version": 1, "currency": "eur"}, "catalog.currency"),
    ([], "catalog: expected a mapping"),
    (_doc(kind="chat"), "models.m.kind"),
    (_doc(colour="red"), "models.m.colour"),
    (_doc(aliases="m2"), "models.m.aliases"),
    (_doc(prices=[]), "models.m.prices"),
    (_doc(prices=[{"input": 1}]), "models.m.prices[0]: effective_from"),
    (_doc(prices=[{"effective_from": "2025-13-01", "input": 1}]), "models.m.prices[0].effective_from"),
    (_doc(prices=[{"effective_from": "2025-01-01", "inptu": 1}]), "models.m.prices[0].inptu"),
    (_doc(prices=[{"effective_from": "2025-01-01", "input": -1}]), "models.m.prices[0].input"),
    (_doc(prices=[{"effective_from": "2025-01-01", "input": "cheap"}]), "models.m.prices[0].input"),
    (_doc(prices=[{"effective_from": "2025-01-01", "input": True}]), "models.m.prices[0].input"),
    (_doc(prices=[{"effective_from": "2025-01-01", "input": "NaN"}]), "models.m.prices[0].input"),
    (_doc(prices=[{"effective_from": "2025-02-01", "input": 1}, {"effective_from": "2025-01-01", "input": 2}]),
     "ascending"),
    (_doc(prices=[{"effective_from": "2025-01-01", "input": 1}, {"effective_from": "2025-01-01", "input": 2}]),
     "one per date"),
    (_doc(prices=[{"effective_from": "2025-01-01", "input": 1, "tiers": {"turbo": 0.5}}]), "tiers.turbo"),
    (_doc(prices=[{"effective_from": "2025-01-01", "input": 1, "tiers": {"flex": {"colour": 1}}}]),
     "tiers.flex.colour"),
    (_doc(kind="embeddings", prices=[{"effective_from": "2025-01-01", "input": 1, "tiers": {"batch": 0.5}}]),
     "only completions"),
    (_doc(prices=[{"effective_from": "2025-01-01", "per_image": {"standard": {"1024x1024": 1}}}]),
     "per_image"),
    (_doc(kind="images", prices=[{"effective_from": "2025-01-01", "default_quality": "hd",
                                  "per_image": {"standard": {"1024x1024": 1}}}]), "default_quality"),
    (_doc(kind="web_searches"), "tool entry"),
    ({"version": 1, "tools": {"web_search": {"kind": "file_searches", "prices": [
        {"effective_from": "2025-01-01", "per_1k_calls": 1}]}}}, "tool entry"),
    ({"version": 1, "models": {"a": {"kind": "embeddings", "aliases": ["b"], "prices": [
        {"effective_from": "2025-01-01", "input": 1}]}, "b": {"kind": "embeddings", "prices": [
            {"effective_from": "2025-01-01", "input": 1}]}}}, "already used"),
    ({"version": 1, "defaults": {"tiers": {"turbo": 2}}}, "defaults.tiers.turbo"),
]


@pytest.mark.parametrize("doc,message", BAD_CATALOGS)
def test_bad_catalogs_are_refused_with_the_place(doc: Any, message: str) -> None:
    with pytest.raises(CatalogError) as exc:
        parse_catalog(doc)
    assert message in str(exc.value)


def test_bad_yaml_is_refused() -> None:
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_text("models: [unclosed")


def test_json_is_read_with_exact_decimals() -> None:
    doc = load_text(json.dumps({"prices": [{"model": "x", "effective_from": "2026-01-01", "input": 0.1}]}))
    (p,) = parse_custom(doc)
    assert p.record.prices["input"] == Decimal("0.1")


BAD_CUSTOM: list[tuple[Any, str]] = [
    ({"prices": "x"}, "expected a list"),
    ([1], "prices[0]: expected a mapping"),
    ([{"effective_from": "2026-01-01", "input": 1}], "prices[0].model"),
    ([{"model": "x", "input": 1}], "effective_from"),
    ([{"model": "x", "effective_from": "2026-01-01"}], "at least one price"),
    ([{"model": "x", "effective_from": "2026-01-01", "input": 1, "project_id": 5}], "project_id"),
    ([{"model": "gpt-4o", "kind": "embeddings", "effective_from": "2026-01-01", "input": 1}], "completions model"),
    ([{"model": "x", "kind": "chat", "effective_from": "2026-01-01", "input": 1}], "kind"),
    ([{"model": "my-search", "kind": "web_searches", "effective_from": "2026-01-01", "per_1k_calls": 1}],
     "tool entry 'web_search'"),
]


@pytest.mark.parametrize("doc,message", BAD_CUSTOM)
def test_bad_custom_prices_are_refused(doc: Any, message: str) -> None:
    with pytest.raises(CatalogError) as exc:
        parse_custom(doc)
    assert message in str(exc.value)


def test_custom_layers_over_the_catalog_from_its_date() -> None:
    custom = parse_custom([
        {"model": "gpt-4o", "effective_from": "2025-10-01", "multiplier": 0.8},
        {"model": "gpt-4o-2024-08-06", "project_id": "p", "effective_from": "2025-11-01", "input": 2},
        {"model": "web_search", "effective_from": "2025-10-01", "per_1k_calls": 25},
    ])
    book = PriceBook(custom=custom)
    before = book.resolve("gpt-4o", "completions", dt.date(2025, 9, 30))
    after = book.resolve("gpt-4o", "completions", dt.date(2025, 10, 1))
    proj = book.resolve("gpt-4o", "completions", dt.date(2025, 11, 1), "p")
    other = book.resolve("gpt-4o", "completions", dt.date(2025, 11, 1), "q")
    assert before is not None and after is not None and proj is not None and other is not None
    assert (before.multiplier, after.multiplier) == (Decimal(1), Decimal("0.8"))
    assert (proj.prices["input"], proj.prices["output"], proj.multiplier) == (Decimal(2), Decimal("10.00"),
                                                                              Decimal("0.8"))
    assert other.prices["input"] == Decimal("2.50")
    assert book.resolve("web_search", "web_searches", dt.date(2025, 10, 1)).prices["per_1k_calls"] == 25  # type: ignore[union-attr]


def test_merge_replaces_same_model_project_and_date() -> None:
    a = parse_custom([{"model": "x", "effective_from": "2026-01-01", "input": 1}])
    b = parse_custom([{"model": "x", "effective_from": "2026-01-01", "input": 2},
                      {"model": "x", "effective_from": "2026-02-01", "input": 3}])
    merged = merge(a, b)
    assert [(str(p.record.effective_from), p.record.prices["input"]) for p in merged] == [
        ("2026-01-01", Decimal(2)), ("2026-02-01", Decimal(3))]


@pytest.mark.parametrize(("record", "message"), [
    ({"per_memory_limit": {"2g": 0.1}}, "per_memory_limit.2g: unknown value (known: 1g, 4g, 16g, 64g)"),
    ({"per_memory_limit": {"1g": 0.1}}, "per_memory_limit.1g: the 1g price is per_session"),
    ({"per_memory_limit": {"4g": -1}}, "per_memory_limit.4g: a price must be"),
    ({"per_memory_limit": [0.12]}, "per_memory_limit: expected a mapping"),
])
def test_bad_container_size_prices_are_refused(record: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError) as exc:
        parse_custom([{"model": "code_interpreter", "effective_from": "2026-01-01", **record}])
    assert message in str(exc.value)


def test_only_code_interpreter_prices_by_container_size() -> None:
    with pytest.raises(CatalogError, match=r"prices\[0\]\.per_memory_limit: not a price field of a web_searches"):
        parse_custom([{"model": "web_search", "effective_from": "2026-01-01", "per_memory_limit": {"4g": 1}}])


def test_custom_container_size_price_layers_over_the_catalog() -> None:
    (p,) = parse_custom([{"model": "code_interpreter", "effective_from": "2026-05-01",
                          "per_memory_limit": {"4g": 0.10}}])
    assert p.to_json()["per_memory_limit"] == {"4g": "0.1"}
    assert parse_custom([p.to_json()])[0].record == p.record
    res = PriceBook(custom=[p]).resolve("code_interpreter", "code_interpreter_sessions", dt.date(2026, 5, 1))
    assert res is not None
    assert (res.prices["per_session"], res.options) == (
        Decimal("0.03"), {"4g": Decimal("0.10"), "16g": Decimal("0.48"), "64g": Decimal("1.92")})


def test_gpt_image_token_prices() -> None:
    book = PriceBook()
    image1 = book.resolve("gpt-image-1-2025-04-23", "images", dt.date(2025, 11, 1))
    mini = book.resolve("gpt-image-1-mini", "images", dt.date(2025, 11, 1))
    assert image1 is not None and mini is not None
    assert (image1.prices, mini.prices) == ({"input": Decimal("5.00"), "image_input": Decimal("10.00")},
                                            {"input": Decimal("2.00"), "image_input": Decimal("2.50")})
