"""The proxy's events skip the recorder's ``clean`` (over a quarter of recording one on the event loop): every
string they hold must already be one the store takes.  Property: for any upstream answer strings and any
client strings the proxy lets through, the event is a fixed point of ``clean`` and converts to its struct."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from openusage.errors import ApiError
from openusage.ingest.events import EVENT_STRUCTS
from openusage.proxy.forward import _Call, _dimensions
from openusage.proxy.metering import METERED, answer_fields
from openusage.proxy.recorder import clean

TEXT = st.one_of(st.none(), st.integers(), st.text(max_size=20),
                 st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\x00\x01\x85\u009b\ud800"),
                         max_size=700))


@settings(max_examples=300, deadline=None)
@given(model=TEXT, tier=TEXT, requested=TEXT, user=TEXT, project=TEXT,
       path=st.sampled_from(sorted(METERED)))
def test_proxy_events_are_clean_as_built(model: Any, tier: Any, requested: Any, user: Any, project: Any,
                                         path: str) -> None:
    kind = METERED[path]
    request: dict[str, Any] = {"model": requested, "user": user}
    req_model = requested if isinstance(requested, str) else None
    try:
        project_id, user_id = _dimensions(kind, req_model, request, project if isinstance(project, str) else None,
                                          None)
    except ApiError:
        return  # refused with a 400 before anything is forwarded or recorded
    call = _Call(path, path, kind, time.time(), project_id or None, "key_x", user_id or None, req_model or None,
                 request)
    answer = {"model": model, "service_tier": tier,
              "usage": {"prompt_tokens": 3, "completion_tokens": 2, "input_tokens": 3, "output_tokens": 2}}
    for event in (call.event("pxy-", answer_fields(path, request, answer)), call.failed(502)):
        assert clean(event) == {k: v for k, v in event.items() if v is not None}
        msgspec.convert(event, EVENT_STRUCTS[kind])  # raises if the store's schema refuses a string


def test_empty_strings_are_no_dimension() -> None:
    request = {"model": "", "user": ""}
    project, user = _dimensions("completions", "", request, "", None)
    call = _Call("/chat/completions", "/chat/completions", "completions", time.time(), project or None, "key_x",
                 user or None, None, request)
    event = call.event("pxy-", answer_fields("/chat/completions", request, {"model": "\x00\x01", "service_tier": ""}))
    assert (event["project_id"], event["user_id"], event["model"]) == (None, None, None)
    assert "service_tier" not in event


def _reference_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        return 0
    return 2**62 if value >= 2**62 else int(value)  # infinity included


def _reference_token_metrics(usage: dict[str, Any]) -> dict[str, int]:
    """The mapping written plainly with min/max, as token_metrics was before it was tuned."""
    responses = "input_tokens" in usage or "output_tokens" in usage
    total_in = _reference_int(usage.get("input_tokens" if responses else "prompt_tokens"))
    total_out = _reference_int(usage.get("output_tokens" if responses else "completion_tokens"))

    def details(*names: str) -> dict[str, Any]:
        return next((usage[n] for n in names if isinstance(usage.get(n), dict)), {})

    din = details(*(("input_tokens_details", "prompt_tokens_details") if responses
                    else ("prompt_tokens_details", "input_tokens_details")))
    dout = details(*(("output_tokens_details", "completion_tokens_details") if responses
                     else ("completion_tokens_details", "output_tokens_details")))
    cached = min(_reference_int(din.get("cached_tokens")), total_in)
    split = din.get("cached_tokens_details")
    c_audio = _reference_int(split.get("audio_tokens")) if isinstance(split, dict) else 0
    c_image = _reference_int(split.get("image_tokens")) if isinstance(split, dict) else 0
    c_text = max(cached - c_audio - c_image, 0) if isinstance(split, dict) else cached
    uncached = total_in - cached
    a_in = min(max(_reference_int(din.get("audio_tokens")) - c_audio, 0), uncached)
    i_in = min(max(_reference_int(din.get("image_tokens")) - c_image, 0), uncached - a_in)
    a_out = min(_reference_int(dout.get("audio_tokens")), total_out)
    i_out = min(_reference_int(dout.get("image_tokens")), total_out - a_out)
    out = {"input_tokens": total_in, "output_tokens": total_out, "input_cached_tokens": cached,
           "input_audio_tokens": a_in, "output_audio_tokens": a_out, "input_text_tokens": uncached - a_in - i_in,
           "input_image_tokens": i_in, "input_uncached_tokens": uncached, "input_cached_text_tokens": c_text,
           "input_cached_audio_tokens": c_audio, "input_cached_image_tokens": c_image,
           "output_text_tokens": total_out - a_out - i_out, "output_image_tokens": i_out}
    write = _reference_int(din.get("cache_write_tokens") or din.get("cache_creation_tokens"))
    if write:
        out["input_cache_write_tokens"] = write
    return out


COUNT = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**63), st.floats(allow_nan=True), st.text(max_size=3),
                  st.integers(0, 50))
DETAILS = st.one_of(st.none(), st.integers(), st.dictionaries(
    st.sampled_from(["cached_tokens", "audio_tokens", "image_tokens", "cache_write_tokens", "cache_creation_tokens",
                     "cached_tokens_details"]),
    st.one_of(COUNT, st.dictionaries(st.sampled_from(["audio_tokens", "image_tokens"]), COUNT)), max_size=6))
USAGE = st.dictionaries(st.sampled_from(["input_tokens", "output_tokens", "prompt_tokens", "completion_tokens",
                                         "input_tokens_details", "prompt_tokens_details", "output_tokens_details",
                                         "completion_tokens_details"]),
                        st.one_of(COUNT, DETAILS), max_size=8)


def test_an_infinite_count_is_the_largest() -> None:
    """Infinity has no int (an OverflowError before); orjson refuses it in answers, other callers may not."""
    from openusage.proxy.metering import token_metrics

    assert token_metrics({"prompt_tokens": float("inf"), "completion_tokens": 1})["input_tokens"] == 2**62


@settings(max_examples=1000, deadline=None)
@given(usage=USAGE)
def test_token_metrics_match_the_plain_reference(usage: dict[str, Any]) -> None:
    from openusage.proxy.metering import token_metrics

    assert token_metrics(usage) == _reference_token_metrics(usage)
