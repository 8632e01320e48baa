"""The proxy's pure parts: usage mapping, the SSE meter, upstream routing, budgets, options."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from openusage.errors import RateLimitError
from openusage.proxy import BudgetGuard, Router, parse_budget, parse_upstream, settings_from_options
from openusage.proxy.budget import load_budgets, month_start
from openusage.proxy.metering import (
    answer_fields,
    image_size,
    multipart_model,
    token_metrics,
    transcription_seconds,
)
from openusage.proxy.sse import StreamMeter
from tests import fake_upstream as fake


# -- token mapping ----------------------------------------------------------------------------------
def test_chat_usage_mapping() -> None:
    assert token_metrics(fake.CHAT_USAGE) == {
        "input_tokens": 25, "output_tokens": 12, "input_cached_tokens": 8, "input_audio_tokens": 3,
        "output_audio_tokens": 2, "input_text_tokens": 14, "input_image_tokens": 0, "input_uncached_tokens": 17,
        "input_cached_text_tokens": 8, "input_cached_audio_tokens": 0, "input_cached_image_tokens": 0,
        "output_text_tokens": 10, "output_image_tokens": 0}


def test_responses_usage_mapping() -> None:
    m = token_metrics(fake.RESPONSES_USAGE)
    assert (m["input_tokens"], m["output_tokens"], m["input_cached_tokens"], m["input_uncached_tokens"],
            m["input_text_tokens"], m["output_text_tokens"]) == (31, 9, 16, 15, 15, 9)


def test_cached_split_by_modality_images_and_cache_writes() -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 20,
             "prompt_tokens_details": {"cached_tokens": 40, "audio_tokens": 15, "image_tokens": 30,
                                       "cache_write_tokens": 12,
                                       "cached_tokens_details": {"audio_tokens": 5, "image_tokens": 10}},
             "completion_tokens_details": {"image_tokens": 6, "audio_tokens": 4}}
    m = token_metrics(usage)
    assert m["input_cached_text_tokens"] == 25 and m["input_cached_audio_tokens"] == 5
    assert m["input_cached_image_tokens"] == 10
    assert (m["input_audio_tokens"], m["input_image_tokens"], m["input_text_tokens"]) == (10, 20, 30)
    assert m["input_uncached_tokens"] == 60 and m["input_cache_write_tokens"] == 12
    assert (m["output_image_tokens"], m["output_audio_tokens"], m["output_text_tokens"]) == (6, 4, 10)


@pytest.mark.parametrize("usage", [None, "junk", [], {"prompt_tokens": -5, "completion_tokens": "7"},
                                   {"prompt_tokens": float("nan"), "completion_tokens": True}])
def test_junk_usage_counts_nothing(usage: object) -> None:
    m = token_metrics(usage)
    assert all(v == 0 for v in m.values())


def test_details_never_exceed_totals() -> None:
    m = token_metrics({"prompt_tokens": 5, "completion_tokens": 2,
                       "prompt_tokens_details": {"cached_tokens": 50, "audio_tokens": 50},
                       "completion_tokens_details": {"audio_tokens": 9}})
    assert (m["input_cached_tokens"], m["input_uncached_tokens"], m["input_audio_tokens"]) == (5, 0, 0)
    assert (m["output_audio_tokens"], m["output_text_tokens"]) == (2, 0)


def test_answer_fields_per_kind() -> None:
    assert answer_fields("/images/edits", {"size": "auto"}, {"data": [{}, {}, {}], "size": "1024x1024"}) == {
        "images": 3, "size": "1024x1024", "source": "image.edit"}
    assert answer_fields("/audio/speech", {"input": "héllo"}, {}) == {"characters": 5}
    assert answer_fields("/audio/speech", {"input": 7}, {}) == {"characters": 0}
    assert answer_fields("/embeddings", {}, {"usage": {"prompt_tokens": 4}, "model": "m"}) == {
        "input_tokens": 4, "model": "m"}
    assert answer_fields("/moderations", {}, "not a dict") == {}
    assert answer_fields("/chat/completions", {}, {"service_tier": "priority"})["service_tier"] == "priority"


def test_sizes_and_seconds() -> None:
    assert image_size("auto", "1536x1024", "512x512") == "512x512"
    assert image_size(None, 5) is None
    assert transcription_seconds({"usage": {"type": "duration", "seconds": 7}}) == 7
    assert transcription_seconds({"duration": 7.2}) == 8
    assert transcription_seconds({"usage": {"type": "tokens", "input_tokens": 9}, "duration": 3}) == 3
    assert transcription_seconds({"duration": -1}) == transcription_seconds({"duration": "x"}) == 0


def test_multipart_model() -> None:
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF\r\n'
            b'--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--b--\r\n')
    assert multipart_model(body) == "whisper-1"
    assert multipart_model(b"--b\r\nno model here\r\n") is None


# -- SSE -------------------------------------------------------------------------------------------
def _chat_stream(with_usage: bool) -> bytes:
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "m-1", "service_tier": "flex"}
    out = fake.sse({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
    out += b"".join(fake.sse({**chunk, "choices": [{"index": 0, "delta": {"content": w}}]}) for w in "abc")
    if with_usage:
        out += fake.sse({**chunk, "choices": [], "usage": fake.STREAM_USAGE})
    return out + b"data: [DONE]\n\n"


@pytest.mark.parametrize("piece", [1, 7, 64, 10_000])
def test_meter_hides_usage_chunk_across_any_split(piece: int) -> None:
    raw = _chat_stream(with_usage=True)
    meter = StreamMeter(hide_usage_chunk=True)
    forwarded = b"".join(meter.feed(raw[i:i + piece]) for i in range(0, len(raw), piece)) + meter.tail()
    assert forwarded == _chat_stream(with_usage=False)
    assert meter.usage == fake.STREAM_USAGE
    assert (meter.model, meter.service_tier, meter.output_events, meter.finished) == ("m-1", "flex", 3, True)


def test_meter_passes_chunks_unchanged_when_not_hiding() -> None:
    raw = _chat_stream(with_usage=True)
    meter = StreamMeter()
    pieces = [raw[i:i + 5] for i in range(0, len(raw), 5)]
    assert [meter.feed(p) for p in pieces] == pieces
    assert meter.tail() == b"" and meter.usage is not None


def test_meter_crlf_comments_and_junk() -> None:
    meter = StreamMeter(hide_usage_chunk=True)
    raw = (b": keep-alive\r\n\r\ndata: not json\r\n\r\nevent: x\r\ndata: [1,2]\r\n\r\n"
           b'data: {"choices": [], "usage": {"prompt_tokens": 3}}\r\n\r\ndata: {"choices": [{"text": "x"}]}')
    out = meter.feed(raw)
    assert out == b": keep-alive\r\n\r\ndata: not json\r\n\r\nevent: x\r\ndata: [1,2]\r\n\r\n"
    assert meter.tail() == b'data: {"choices": [{"text": "x"}]}'
    assert meter.usage == {"prompt_tokens": 3}
    assert meter.output_events == 1 and not meter.finished


def test_meter_reads_responses_completed() -> None:
    meter = StreamMeter()
    done = {"type": "response.completed", "response": {"model": "gpt-x", "service_tier": "default",
                                                        "usage": fake.RESPONSES_USAGE}}
    meter.feed(fake.sse({"type": "response.output_text.delta", "delta": "a"}, "response.output_text.delta"))
    meter.feed(fake.sse(done, "response.completed"))
    assert meter.finished and meter.model == "gpt-x" and meter.output_events == 1
    assert meter.usage == fake.RESPONSES_USAGE


# -- upstreams ---------------------------------------------------------------------------------------
def test_parse_upstream() -> None:
    assert parse_upstream("http://h:8000").base_url == "http://h:8000/v1"
    assert parse_upstream("https://h/openai/v1/", key="k") == parse_upstream("https://h/openai/v1", key="k")
    u = parse_upstream("llama-*=http://h:1/v1")
    assert (u.pattern, u.base_url, u.url_for("/chat/completions")) == ("llama-*", "http://h:1/v1",
                                                                       "http://h:1/v1/chat/completions")


@pytest.mark.parametrize("bad", ["ftp://h", "h:8000", "=http://h", "http://h/v1?x=1", "http://"])
def test_parse_upstream_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_upstream(bad)


def test_router() -> None:
    r = Router([parse_upstream("llama-*=http://a"), parse_upstream("http://d"), parse_upstream("*-mini=http://m")])
    assert r.choose("llama-3").base_url == "http://a/v1"  # type: ignore[union-attr]
    assert r.choose("gpt-4o-mini").base_url == "http://m/v1"  # type: ignore[union-attr]
    assert r.choose(None).base_url == r.choose("gpt-4o").base_url == "http://d/v1"  # type: ignore[union-attr]
    assert Router([parse_upstream("a*=http://a")]).choose("b") is None
    with pytest.raises(ValueError):
        Router([])
    with pytest.raises(ValueError):
        Router([parse_upstream("http://a"), parse_upstream("http://b")])


# -- budgets ---------------------------------------------------------------------------------------
def test_parse_budgets(tmp_path: Path) -> None:
    assert parse_budget("proj_x=100") == ("proj_x", Decimal(100))
    for bad in ("proj_x", "=5", "p=abc", "p=-1", "p=inf"):
        with pytest.raises(ValueError):
            parse_budget(bad)
    f = tmp_path / "b.yaml"
    f.write_text("proj_a: 10\nproj_b: 2.5\n")
    assert load_budgets(str(f)) == {"proj_a": Decimal(10), "proj_b": Decimal("2.5")}
    f.write_text("- not a mapping\n")
    with pytest.raises(ValueError):
        load_budgets(str(f))
    s = settings_from_options(["http://h"], "k", ["proj_a=1"], None)
    assert s.budgets == {"proj_a": Decimal(1)} and s.upstreams[0].key == "k"


def test_month_start() -> None:
    assert month_start(1_764_000_000) == 1_761_955_200  # 2025-11-24 -> 2025-11-01 UTC


def test_budget_guard_caches_spend() -> None:
    calls: list[str] = []
    now = [1_764_000_000.0]

    def spend(project: str, start: int, at: int) -> Decimal:
        calls.append(project)
        return Decimal("99.5") if len(calls) == 1 else Decimal(100)

    guard = BudgetGuard({"p": Decimal(100)}, spend, ttl=5, clock=lambda: now[0])

    async def run() -> None:
        await asyncio.gather(*(guard.check("p") for _ in range(10)))  # one refresh for ten checks
        await guard.check("other")  # no limit: never priced
        now[0] += 6
        with pytest.raises(RateLimitError) as info:
            await guard.check("p")
        assert info.value.to_envelope()["error"]["code"] == "insufficient_quota"

    asyncio.run(run())
    assert calls == ["p", "p"]


# -- the CLI -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["--upstream", "ftp://x"], "not an http(s) URL"),
    (["--upstream", "http://a", "--budget", "p"], "PROJECT=DOLLARS"),
    (["--budget", "p=1"], "add --upstream"),
])
def test_serve_rejects_bad_proxy_options(tmp_path: Path, args: list[str], message: str) -> None:
    from openusage.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "x.duckdb"), *args],
                                env={"OPENUSAGE_ADMIN_KEY": "sk-x"})
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_fake_upstream_answers_parse() -> None:
    """The canned answers are valid JSON of the documented shapes (guards the fake itself)."""
    assert orjson.loads(fake.sse({"a": 1})[6:-2]) == {"a": 1}
    assert fake.answered_model("gpt-4o") == "gpt-4o-2024-08-06" and fake.answered_model(None) == "unknown-model"
