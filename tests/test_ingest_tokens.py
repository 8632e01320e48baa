"""Completions token details left out are derived the way OpenAI reports them, and events whose
parts exceed their totals are refused."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openusage.demo import demo_events
from openusage.errors import BadRequestError
from openusage.ingest.events import TOKEN_SPLITS, validate_events
from openusage.proxy.metering import token_metrics
from tests.conftest import AppServer
from tests.reference import TOKEN_PARTS, consistent_tokens, derive_tokens

T0 = 1_767_225_600  # 2026-01-01
EVENTS = "/v1/usage/events"
TOKENS = sorted({*TOKEN_PARTS, *itertools.chain.from_iterable(TOKEN_PARTS.values())})


def completion(n: int, **tokens: int) -> dict[str, Any]:
    return {"id": f"t{n}", "type": "completions", "timestamp": T0 + n, "model": f"m{n}", **tokens}


def reported(c: httpx.Client) -> dict[str, dict[str, int]]:
    page = c.get("/v1/organization/usage/completions",
                 params={"start_time": T0, "end_time": T0 + 86400, "group_by": "model", "limit": 1}).json()
    return {r["model"]: {k: r[k] for k in TOKENS} for b in page["data"] for r in b["results"]}


def test_left_out_details_are_derived(app_server: AppServer) -> None:
    events = [
        completion(0, input_tokens=1000, output_tokens=300),
        completion(1, input_tokens=1000, output_tokens=300, input_cached_tokens=400),
        completion(2, input_tokens=1000, output_tokens=300, input_cached_tokens=400, input_audio_tokens=50,
                   input_image_tokens=20, output_audio_tokens=30, output_image_tokens=7,
                   input_cached_audio_tokens=10),
        completion(3, input_tokens=1000, output_tokens=0, input_cached_tokens=100,
                   input_cache_write_30m_tokens=200, input_cache_write_12h_tokens=50),
        completion(4, input_tokens=1000, input_cached_text_tokens=300, input_cached_image_tokens=5),
        completion(5, input_tokens=900, input_uncached_tokens=600, input_cached_tokens=100),  # all given
    ]
    with app_server.client() as c:
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": 6, "duplicates": 0}
        got = reported(c)
    zero = dict.fromkeys(TOKENS, 0)
    assert got["m0"] == {**zero, "input_tokens": 1000, "output_tokens": 300, "input_uncached_tokens": 1000,
                         "input_text_tokens": 1000, "output_text_tokens": 300}
    assert got["m1"] == {**zero, "input_tokens": 1000, "output_tokens": 300, "input_cached_tokens": 400,
                         "input_cached_text_tokens": 400, "input_uncached_tokens": 600, "input_text_tokens": 600,
                         "output_text_tokens": 300}
    assert got["m2"] == {**zero, "input_tokens": 1000, "output_tokens": 300, "input_cached_tokens": 400,
                         "input_cached_audio_tokens": 10, "input_cached_text_tokens": 390,
                         "input_uncached_tokens": 600, "input_audio_tokens": 50, "input_image_tokens": 20,
                         "input_text_tokens": 530, "output_audio_tokens": 30, "output_image_tokens": 7,
                         "output_text_tokens": 263}
    assert got["m3"] == {**zero, "input_tokens": 1000, "input_cached_tokens": 100, "input_cached_text_tokens": 100,
                         "input_cache_write_tokens": 250, "input_cache_write_30m_tokens": 200,
                         "input_cache_write_12h_tokens": 50, "input_uncached_tokens": 650, "input_text_tokens": 650}
    assert got["m4"] == {**zero, "input_tokens": 1000, "input_cached_tokens": 305, "input_cached_text_tokens": 300,
                         "input_cached_image_tokens": 5, "input_uncached_tokens": 695, "input_text_tokens": 695}
    # given values are kept as they are (here 100 of the input are not accounted for: allowed)
    assert got["m5"] == {**zero, "input_tokens": 900, "input_cached_tokens": 100, "input_cached_text_tokens": 100,
                         "input_uncached_tokens": 600, "input_text_tokens": 600}


@pytest.mark.parametrize(("tokens", "field", "words"), [
    ({"input_tokens": 10, "input_cached_tokens": 11}, "input_cached_tokens",
     "input_cached_tokens (11) is more than input_tokens (10)"),
    ({"input_cached_tokens": 1}, "input_cached_tokens", "input_cached_tokens (1) is more than input_tokens (0)"),
    ({"input_tokens": 10, "input_cached_tokens": 6, "input_cache_write_tokens": 5}, "input_cached_tokens",
     "input_cached_tokens + input_cache_write_tokens (11) are more than input_tokens (10), "
     "so input_uncached_tokens cannot be derived"),
    ({"output_tokens": 5, "output_audio_tokens": 3, "output_image_tokens": 3}, "output_audio_tokens",
     "cannot be derived"),
    ({"output_tokens": 5, "output_text_tokens": 6}, "output_text_tokens", "is more than output_tokens (5)"),
    ({"input_tokens": 100, "input_uncached_tokens": 50, "input_audio_tokens": 51}, "input_audio_tokens",
     "is more than input_uncached_tokens (50)"),
    ({"input_tokens": 100, "input_cached_tokens": 10, "input_cached_audio_tokens": 11}, "input_cached_audio_tokens",
     "is more than input_cached_tokens (10)"),
    ({"input_tokens": 100, "input_cache_write_tokens": 10, "input_cache_write_12h_tokens": 11},
     "input_cache_write_12h_tokens", "is more than input_cache_write_tokens (10)"),
])
def test_inconsistent_tokens_are_refused(app_server: AppServer, tokens: dict[str, int], field: str,
                                         words: str) -> None:
    events = [completion(0, input_tokens=5), {"id": "e", "type": "embeddings", "timestamp": T0},
              completion(2, **tokens)]
    with app_server.client() as c:
        for body, ctype in ((orjson.dumps({"events": events}), "application/json"),
                            (b"\n".join(orjson.dumps(e) for e in events), "application/x-ndjson")):
            r = c.post(EVENTS, content=body, headers={"content-type": ctype})
            assert r.status_code == 400, r.text
            err = r.json()["error"]
            assert err["param"] == f"events[2].{field}" and words in err["message"], err
    assert app_server.store.count_events() == 0


def test_the_first_inconsistent_event_is_named() -> None:
    events = [completion(0, input_tokens=5), completion(1, output_tokens=1, output_audio_tokens=2),
              completion(2, input_cached_tokens=3)]
    with pytest.raises(BadRequestError) as info:
        validate_events(events)
    assert info.value.param == "events[1].output_audio_tokens"


def test_split_table_matches_the_reference() -> None:
    assert dict(TOKEN_SPLITS) == TOKEN_PARTS


token_values = st.fixed_dictionaries({}, optional={name: st.integers(0, 2000) for name in TOKENS})


@settings(max_examples=400, deadline=None)
@given(token_values)
def test_derivation_matches_the_documented_rule(tokens: dict[str, int]) -> None:
    """Random token fields: refused exactly when a part exceeds what its total leaves; otherwise
    every field is the reference's derivation, all non-negative, no part above its total."""
    want = derive_tokens(tokens)
    parts_fit = all(
        all(want[p] <= want[total] for p in parts)
        and (tokens.get(parts[-1]) is not None or want[total] - sum(want[p] for p in parts[:-1]) >= 0)
        for total, parts in TOKEN_PARTS.items())
    try:
        table = validate_events([completion(0, **tokens)]).table
    except BadRequestError as exc:
        assert not parts_fit, exc.message
        return
    assert parts_fit
    got = table.select(TOKENS).to_pylist()[0]
    assert got == {k: want[k] for k in TOKENS}
    assert min(got.values()) >= 0


@settings(max_examples=200, deadline=None)
@given(token_values)
def test_consistent_events_are_always_accepted(tokens: dict[str, int]) -> None:
    ev = consistent_tokens(completion(0, **tokens))
    got = validate_events([ev]).table.select(TOKENS).to_pylist()[0]
    assert got == {k: v for k, v in derive_tokens({k: ev.get(k) for k in TOKENS}).items() if k in TOKENS}


def test_demo_and_proxy_events_fit_the_rule() -> None:
    """Demo data and the proxy's metering fill every detail; the rule keeps them as they are."""
    demo = [e for e in itertools.islice(demo_events(T0 + 90 * 86400), 5000) if e["type"] == "completions"]
    assert len(demo) > 100
    table = validate_events(demo).table
    for name in TOKENS:
        assert table.column(name).to_pylist() == [e[name] if name in e else 0 for e in demo], name
    usage = {"prompt_tokens": 100, "completion_tokens": 20,
             "prompt_tokens_details": {"cached_tokens": 40, "audio_tokens": 15, "image_tokens": 30,
                                       "cached_tokens_details": {"audio_tokens": 5, "image_tokens": 10}},
             "completion_tokens_details": {"image_tokens": 6, "audio_tokens": 4}}
    metered = token_metrics(usage)
    got = validate_events([completion(0, **metered)]).table.select(TOKENS).to_pylist()[0]
    assert got == {k: metered.get(k, 0) for k in TOKENS}
