"""Costs of known usage equal figures worked out by hand from the published prices.

Each case stores real events in a real DuckDB store and prices them through the same path the
server uses (store aggregation, then exact decimals).  Expected figures are written out as
``tokens x USD per 1M / 1M`` from the catalog's published prices.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openusage.ingest.events import validate_events
from openusage.pricing import PriceBook, compute_costs, parse_custom, unpriced_usage
from openusage.pricing.compute import EXACT
from openusage.store import Store, open_store

DAY0 = int(dt.datetime(2025, 9, 1, tzinfo=dt.UTC).timestamp())
DAY = 86400
M = 1_000_000
_n = 0


def ingest(store: Store, *events: dict[str, Any]) -> None:
    global _n
    evs = []
    for e in events:
        _n += 1
        evs.append({"id": f"ev{_n}", "timestamp": DAY0 + 3600, **e})
    store.insert([validate_events(evs)])


def lines(store: Store, start: int = DAY0, end: int = DAY0 + DAY, book: PriceBook | None = None,
          **filters: tuple[str, ...]) -> dict[str, Decimal]:
    res = compute_costs(store, start, end, ("line_item",), dict(filters), book)
    out: dict[str, Decimal] = {}
    for key, line in res.lines.items():
        out[key[1]] = out.get(key[1], Decimal(0)) + line.amount
    return out


def usd(tokens: int, per_million: str) -> Decimal:
    return Decimal(tokens) * Decimal(per_million) / M


def test_completion_tokens_by_kind_with_cached_and_audio(store: Store) -> None:
    ingest(store, {"type": "completions", "model": "gpt-4o-2024-08-06", "input_tokens": 1_000_000,
                   "input_cached_tokens": 400_000, "input_audio_tokens": 100_000, "output_tokens": 500_000,
                   "output_audio_tokens": 50_000})
    assert lines(store) == {
        "gpt-4o-2024-08-06, input": usd(500_000, "2.50"),  # 1M - 400k cached - 100k audio
        "gpt-4o-2024-08-06, cached input": usd(400_000, "1.25"),
        "gpt-4o-2024-08-06, audio input": usd(100_000, "40.00"),
        "gpt-4o-2024-08-06, output": usd(450_000, "10.00"),
        "gpt-4o-2024-08-06, audio output": usd(50_000, "80.00"),
    }
    assert sum(lines(store).values()) == Decimal("14.25")


def test_batch_is_half_price_and_its_own_line_items(store: Store) -> None:
    ingest(store, {"type": "completions", "model": "gpt-4o-mini-2024-07-18", "batch": True,
                   "input_tokens": 2 * M, "input_cached_tokens": M, "output_tokens": M})
    assert lines(store) == {
        "gpt-4o-mini-2024-07-18, batch input": Decimal("0.075"),  # 1M x 0.15 x 0.5
        "gpt-4o-mini-2024-07-18, batch cached input": Decimal("0.0375"),  # 1M x 0.075 x 0.5
        "gpt-4o-mini-2024-07-18, batch output": Decimal("0.30"),  # 1M x 0.60 x 0.5
    }


def test_flex_and_priority_tiers_use_their_published_prices(store: Store) -> None:
    ingest(store,
           {"type": "completions", "model": "gpt-5", "service_tier": "flex", "input_tokens": M, "output_tokens": M},
           {"type": "completions", "model": "gpt-5", "service_tier": "priority", "input_tokens": M,
            "input_cached_tokens": 500_000, "output_tokens": M},
           {"type": "completions", "model": "gpt-4.1", "service_tier": "flex", "input_tokens": M},
           {"type": "completions", "model": "o3-mini", "service_tier": "priority", "input_tokens": M})
    assert lines(store) == {
        "gpt-5, flex input": Decimal("0.625"),
        "gpt-5, flex output": Decimal("5.00"),
        "gpt-5, priority input": usd(500_000, "2.50"),
        "gpt-5, priority cached input": usd(500_000, "0.25"),
        "gpt-5, priority output": Decimal("20.00"),
        "gpt-4.1, flex input": Decimal("1.00"),  # no flex price listed: the default multiplier, 0.5
        "o3-mini, priority input": Decimal("1.10"),  # no priority price listed: the standard price
    }


def test_cache_writes_and_image_tokens(store: Store) -> None:
    ingest(store, {"type": "completions", "model": "gpt-5-2025-08-07", "input_tokens": M,
                   "input_cache_write_30m_tokens": 150_000, "input_cache_write_12h_tokens": 50_000,
                   "input_image_tokens": 100_000, "output_tokens": 0, "output_image_tokens": 0})
    assert lines(store) == {
        "gpt-5-2025-08-07, input": usd(700_000, "1.25"),
        "gpt-5-2025-08-07, cache write input": usd(200_000, "1.25"),
        "gpt-5-2025-08-07, image input": usd(100_000, "1.25"),
    }


def test_images_by_size_speech_transcription_embeddings_moderation(store: Store) -> None:
    ingest(store,
           {"type": "images", "model": "dall-e-3", "size": "1024x1024", "images": 3},
           {"type": "images", "model": "dall-e-3", "size": "1024x1792", "images": 2},
           {"type": "images", "model": "gpt-image-1", "size": "1024x1024", "images": 1},
           {"type": "images", "model": "dall-e-2", "size": "256x256", "images": 5},
           {"type": "audio_speeches", "model": "tts-1", "characters": 100_000},
           {"type": "audio_speeches", "model": "tts-1-hd", "characters": 1_000},
           {"type": "audio_transcriptions", "model": "whisper-1", "seconds": 90},
           {"type": "embeddings", "model": "text-embedding-3-small", "input_tokens": 5 * M},
           {"type": "embeddings", "model": "text-embedding-3-large", "input_tokens": M},
           {"type": "moderations", "model": "omni-moderation-latest", "input_tokens": M})
    assert lines(store) == {
        "dall-e-3, images 1024x1024 (standard)": Decimal("0.120"),
        "dall-e-3, images 1024x1792 (standard)": Decimal("0.160"),
        "gpt-image-1, images 1024x1024 (medium)": Decimal("0.042"),
        "dall-e-2, images 256x256 (standard)": Decimal("0.080"),
        "tts-1, characters": Decimal("1.50"),
        "tts-1-hd, characters": Decimal("0.03"),
        "whisper-1, transcription": Decimal("0.009"),  # 1.5 minutes x $0.006
        "text-embedding-3-small, input": Decimal("0.10"),
        "text-embedding-3-large, input": Decimal("0.13"),
        "omni-moderation-latest, input": Decimal(0),
    }


def test_tools_and_storage(store: Store) -> None:
    gib = 2**30
    ingest(store,
           {"type": "vector_stores", "project_id": "a", "usage_bytes": 2 * gib},
           {"type": "vector_stores", "project_id": "a", "usage_bytes": 3 * gib},  # the day's largest: 3 GiB
           {"type": "vector_stores", "project_id": "b", "usage_bytes": gib},
           {"type": "code_interpreter_sessions", "project_id": "a", "num_sessions": 4},
           {"type": "file_searches", "project_id": "a", "num_requests": 10},
           {"type": "web_searches", "project_id": "a", "model": "gpt-5", "num_requests": 3})
    assert lines(store) == {
        "vector store storage": Decimal("0.40"),  # (3 + 1) GiB-days x $0.10
        "vector store storage, free allowance": Decimal("-0.10"),  # the organization's first GiB each day
        "code interpreter sessions": Decimal("0.12"),
        "file search tool calls": Decimal("0.025"),
        "web search tool calls": Decimal("0.03"),
    }
    res = compute_costs(store, DAY0, DAY0 + DAY, ("project_id", "line_item"))
    storage = {k[1]: (v.quantity, v.unit) for k, v in res.lines.items() if k[2] == "vector store storage"}
    assert storage == {"a": (Decimal(72), "gibibyte_hours"), "b": (Decimal(24), "gibibyte_hours")}


def test_price_change_on_a_date(store: Store) -> None:
    june9 = int(dt.datetime(2025, 6, 9, tzinfo=dt.UTC).timestamp())
    for day in (0, 1):
        ingest(store, {"type": "completions", "model": "o3-2025-04-16", "input_tokens": M, "output_tokens": M,
                       "timestamp": june9 + day * DAY + 86399})
    res = compute_costs(store, june9, june9 + 2 * DAY)
    assert {k[0]: v.amount for k, v in res.lines.items()} == {
        june9: Decimal("50.00"),  # 10 + 40, the launch price, the day before the cut
        june9 + DAY: Decimal("10.00"),  # 2 + 8 from 2025-06-10 on
    }


def test_custom_price_for_a_self_hosted_model_and_its_change(store: Store) -> None:
    jan1 = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp())
    for day in (-1, 0, 31):  # 2025-12-31, 2026-01-01, 2026-02-01
        ingest(store, {"type": "completions", "model": "llama-3.1-70b", "project_id": "p", "input_tokens": M,
                       "output_tokens": M, "timestamp": jan1 + day * DAY + 10})
    book = PriceBook(custom=parse_custom([
        {"model": "llama-3.1-70b", "effective_from": "2026-01-01", "input": 0.5, "output": 1.5},
        {"model": "llama-3.1-70b", "effective_from": "2026-02-01", "input": 0.25, "output": 1.0},
    ]))
    res = compute_costs(store, jan1 - DAY, jan1 + 32 * DAY, book=book)
    assert {k[0]: v.amount for k, v in res.lines.items()} == {jan1: Decimal("2.0"), jan1 + 31 * DAY: Decimal("1.25")}
    assert res.unpriced == {("completions", "llama-3.1-70b", "input"): M, ("completions", "llama-3.1-70b", "output"): M}
    missing = unpriced_usage(store, jan1 - DAY, jan1 + 32 * DAY, book)
    assert [(m["model"], m["what"], m["quantity"], str(m["first_day"])) for m in missing] == [
        ("llama-3.1-70b", "input", M, "2025-12-31"), ("llama-3.1-70b", "output", M, "2025-12-31")]


def test_project_discount_applies_to_that_project_only(store: Store) -> None:
    ingest(store, {"type": "completions", "model": "gpt-4o", "project_id": "p", "input_tokens": M},
           {"type": "completions", "model": "gpt-4o", "project_id": "q", "input_tokens": M})
    book = PriceBook(custom=parse_custom([{"model": "gpt-4o", "project_id": "p", "effective_from": "2025-01-01",
                                           "multiplier": 0.8}]))
    res = compute_costs(store, DAY0, DAY0 + DAY, ("project_id",), book=book)
    assert {k[1]: v.amount for k, v in res.lines.items()} == {"p": Decimal("2.00"), "q": Decimal("2.50")}


def test_imported_cost_lines_are_shown_as_they_are_not_priced_again(store: Store) -> None:
    from openusage.query.params import parse_query
    from openusage.service import aggregate_for
    from openusage.spec import ENDPOINTS_BY_NAME

    # p's imported "gpt-4o, input" line stands for p's priced input; q's usage is priced beside it.
    ingest(store, {"type": "costs", "line_item": "gpt-4o, input", "project_id": "p", "amount": "1.234567",
                   "quantity": 100, "quantity_unit": "tokens"},
           {"type": "completions", "model": "gpt-4o", "project_id": "p", "input_tokens": 5 * M},
           {"type": "completions", "model": "gpt-4o", "project_id": "q", "input_tokens": M})
    q = parse_query(ENDPOINTS_BY_NAME["costs"], [("start_time", str(DAY0)), ("end_time", str(DAY0 + DAY)),
                                                 ("group_by", "line_item")])
    res = compute_costs(store, DAY0, DAY0 + DAY, ("line_item",), imported=aggregate_for(q))
    line = res.lines[(DAY0, "gpt-4o, input")]
    assert line.amount == Decimal("1.234567") + Decimal("2.50")
    assert (line.quantity, line.unit) == (Decimal(100 + M), "tokens")


def test_unknown_models_are_reported_never_zero(store: Store) -> None:
    ingest(store, {"type": "completions", "model": "my-finetune", "input_tokens": 7},
           {"type": "images", "model": "dall-e-2", "size": "1792x1792", "images": 2},
           {"type": "embeddings", "input_tokens": 5})
    res = compute_costs(store, DAY0, DAY0 + DAY)
    assert res.lines == {}
    assert res.unpriced == {("completions", "my-finetune", "input"): 7, ("images", "dall-e-2", "images 1792x1792"): 2,
                            ("embeddings", "(no model)", "input"): 5}
    assert res.unpriced_models == ["(no model)", "dall-e-2", "my-finetune"]


def test_filters_project_key_and_line_items(store: Store) -> None:
    ingest(store, {"type": "completions", "model": "gpt-4o", "project_id": "p", "api_key_id": "k1",
                   "input_tokens": M, "output_tokens": M},
           {"type": "completions", "model": "gpt-4o", "project_id": "q", "api_key_id": "k2", "input_tokens": M},
           {"type": "vector_stores", "project_id": "p", "usage_bytes": 2**30})
    assert lines(store, project_id=("q",)) == {"gpt-4o, input": Decimal("2.50")}
    assert lines(store, api_key_id=("k1",)) == {"gpt-4o, input": Decimal("2.50"), "gpt-4o, output": Decimal("10.00")}
    assert lines(store, line_item=("gpt-4o, output", "vector store storage")) == {
        "gpt-4o, output": Decimal("10.00"), "vector store storage": Decimal("0.10")}
    assert lines(store, project_id=()) == {}


# -- property: every grouping sums to the same total, exactly --------------------------------------

MODELS = ["gpt-4o-2024-08-06", "gpt-4o-mini", "gpt-5", "o3", "llama-x", "whisper-1"]
PROJECTS = ["p1", "p2", "p3"]


@st.composite
def usage_event(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["completions", "completions", "images", "vector_stores", "audio_transcriptions",
                                 "web_searches", "costs"]))
    e: dict[str, Any] = {"type": kind, "project_id": draw(st.sampled_from(PROJECTS)),
                         "timestamp": DAY0 + draw(st.integers(0, 3 * DAY - 1))}
    if kind in ("completions", "images", "audio_transcriptions", "web_searches"):
        e["api_key_id"] = draw(st.sampled_from(["k1", "k2"]))
        e["user_id"] = draw(st.sampled_from(["u1", "u2"]))
    if kind == "completions":
        inp = draw(st.integers(0, 10**9))
        e.update(model=draw(st.sampled_from(MODELS)), input_tokens=inp, output_tokens=draw(st.integers(0, 10**8)),
                 input_cached_tokens=draw(st.integers(0, inp)), batch=draw(st.booleans()),
                 service_tier=draw(st.sampled_from(["default", "flex", "priority"])))
    elif kind == "images":
        e.update(model=draw(st.sampled_from(["dall-e-3", "gpt-image-1"])), images=draw(st.integers(1, 50)),
                 size=draw(st.sampled_from(["1024x1024", "1024x1792"])))
    elif kind == "vector_stores":
        e["usage_bytes"] = draw(st.integers(0, 10**13))
    elif kind == "audio_transcriptions":
        e.update(model="whisper-1", seconds=draw(st.integers(0, 10**6)))
    elif kind == "web_searches":
        e.update(model="gpt-5", num_requests=draw(st.integers(1, 1000)))
    else:
        e.update(line_item=draw(st.sampled_from(["gpt-4o, input", "imported"])),
                 amount=str(draw(st.decimals(0, 1000, places=6))))
    return e


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(events=st.lists(usage_event(), min_size=1, max_size=25))
def test_sums_over_line_items_projects_and_total_agree_exactly(events: list[dict[str, Any]]) -> None:
    from openusage.query.params import parse_query
    from openusage.service import aggregate_for
    from openusage.spec import ENDPOINTS_BY_NAME

    store = open_store("duckdb:///:memory:")
    try:
        store.insert([validate_events([{**e, "id": f"p{i}"} for i, e in enumerate(events)])])
        totals = []
        for group_by in ((), ("line_item",), ("project_id",), ("project_id", "line_item", "api_key_id", "user_id")):
            items = [("start_time", str(DAY0)), ("end_time", str(DAY0 + 3 * DAY))]
            items += [("group_by", g) for g in group_by]
            imported = aggregate_for(parse_query(ENDPOINTS_BY_NAME["costs"], items))
            res = compute_costs(store, DAY0, DAY0 + 3 * DAY, group_by, imported=imported)
            per_day: dict[int, Decimal] = {}
            for key, line in res.lines.items():
                per_day[key[0]] = EXACT.add(per_day.get(key[0], Decimal(0)), line.amount)  # no rounding
            totals.append(per_day)
        assert totals[1] == totals[0]
        assert totals[2] == totals[0]
        assert totals[3] == totals[0]
    finally:
        store.close()


@pytest.mark.parametrize("tier,expected", [("default", "2.50"), ("flex", "1.25"), ("priority", "4.25"),
                                           ("scale", "2.50")])
def test_tier_prices_for_gpt_4o(store: Store, tier: str, expected: str) -> None:
    ingest(store, {"type": "completions", "model": "gpt-4o", "service_tier": tier, "input_tokens": M})
    assert sum(lines(store).values()) == Decimal(expected)
