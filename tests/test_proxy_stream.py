"""Streaming through the proxy: no buffering, a client that leaves, an upstream that dies midway."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests import fake_upstream as fake
from tests.conftest import new_store
from tests.fake_upstream import ProxyRig, start_proxy_rig

pytestmark = pytest.mark.timing

CHAT = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyRig]:
    store = new_store(tmp_path_factory.mktemp("proxy-stream") / "usage.duckdb")
    r = start_proxy_rig(store)
    yield r
    r.stop()
    store.close()


def stored(rig: ProxyRig, user: str, n: int = 1) -> list[dict[str, Any]]:
    """The user's events once ``n`` are stored (bounded wait)."""
    cols = ("id", "model", "num_model_requests", "input_tokens", "output_tokens", "output_text_tokens")
    deadline = time.monotonic() + 10
    while True:
        rows = rig.server.store._reader().execute(  # type: ignore[attr-defined]
            f"SELECT {', '.join(cols)} FROM events WHERE user_id = ?", [user]).fetchall()
        if len(rows) >= n or time.monotonic() > deadline:
            return [dict(zip(cols, r, strict=True)) for r in rows]
        time.sleep(0.02)


def first_chunk_and_total(url: str, key: str | None, body: dict[str, Any], headers: dict[str, str]) -> tuple[float,
                                                                                                             float]:
    """Seconds to the first SSE event and to the end of the stream, over a raw HTTP stream."""
    h = {**headers, **({"Authorization": f"Bearer {key}"} if key else {})}
    t0 = time.perf_counter()
    first = None
    with httpx.stream("POST", url + "/chat/completions", json=body, headers=h, timeout=30) as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            if first is None and b"data:" in chunk:
                first = time.perf_counter() - t0
    assert first is not None
    return first, time.perf_counter() - t0


@pytest.mark.parametrize("include_usage", [False, True])
def test_first_chunk_is_not_held_back(rig: ProxyRig, include_usage: bool) -> None:
    """The upstream sends one event, then waits 1 s: the client must have it long before the end."""
    body: dict[str, Any] = {"model": "gpt-4o", "messages": CHAT, "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    hold = {"x-fake-hold": "1.0"}
    direct_first, direct_total = first_chunk_and_total(rig.upstream.url, None, body, hold)
    proxy_first, proxy_total = first_chunk_and_total(rig.base_url, rig.key, body, hold)
    assert direct_total >= 1.0 and proxy_total >= 1.0
    assert proxy_first < 0.5, (proxy_first, direct_first)
    assert proxy_first - direct_first < 0.3


def test_slow_first_token_with_the_sdk(rig: ProxyRig) -> None:
    u = f"u-{uuid.uuid4().hex[:8]}"
    client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
    t0 = time.perf_counter()
    stream = client.chat.completions.create(model="gpt-4o", messages=CHAT, stream=True, user=u,
                                            extra_headers={"x-fake-first-delay": "0.3", "x-fake-hold": "0.6"})
    it = iter(stream)
    next(it)
    first = time.perf_counter() - t0
    rest = list(it)
    total = time.perf_counter() - t0
    assert 0.3 <= first < 0.75 and total >= 0.9
    assert len(rest) == len(fake.STREAM_WORDS) + 1
    (ev,) = stored(rig, u)
    assert ev["id"].startswith("pxy-") and not ev["id"].startswith("pxy-cut-")
    assert (ev["input_tokens"], ev["output_tokens"]) == (19, len(fake.STREAM_WORDS))


def test_client_disconnect_mid_stream(rig: ProxyRig) -> None:
    u = f"u-{uuid.uuid4().hex[:8]}"
    gone_before = rig.upstream.app.disconnects
    body = {"model": "gpt-4o", "messages": CHAT, "stream": True, "user": u}
    headers = {"Authorization": f"Bearer {rig.key}", "x-fake-chunk-delay": "0.15"}
    with httpx.stream("POST", rig.base_url + "/chat/completions", json=body, headers=headers, timeout=30) as r:
        received = b""
        for chunk in r.iter_bytes():
            received += chunk
            if received.count(b"data:") >= 3:
                break
    # the proxy noticed and let go of the upstream stream, which saw its client leave
    deadline = time.monotonic() + 5
    while rig.upstream.app.disconnects == gone_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rig.upstream.app.disconnects == gone_before + 1
    (ev,) = stored(rig, u)
    assert ev["id"].startswith("pxy-cut-")
    assert ev["num_model_requests"] == 1 and ev["model"] == "gpt-4o-2024-08-06"
    assert 2 <= ev["output_tokens"] < len(fake.STREAM_WORDS)
    assert ev["output_text_tokens"] == ev["output_tokens"] and ev["input_tokens"] == 0


def test_upstream_dies_midway(rig: ProxyRig) -> None:
    u = f"u-{uuid.uuid4().hex[:8]}"
    client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
    seen: list[str] = []
    with pytest.raises(openai.APIError, match="ended the stream early"):
        for chunk in client.chat.completions.create(model="gpt-4o", messages=CHAT, stream=True, user=u,
                                                    extra_headers={"x-fake-die-after": "4"}):
            seen.append(chunk.choices[0].delta.content or "")
    assert "".join(seen) == "".join(fake.STREAM_WORDS[:3])
    (ev,) = stored(rig, u)
    assert ev["id"].startswith("pxy-cut-")
    assert (ev["num_model_requests"], ev["model"], ev["input_tokens"], ev["output_tokens"]) == (
        1, "gpt-4o-2024-08-06", 0, 3)


def test_responses_stream_dies_midway(rig: ProxyRig) -> None:
    u = f"u-{uuid.uuid4().hex[:8]}"
    client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
    kinds: list[str] = []
    with pytest.raises(openai.APIError):
        for event in client.responses.create(model="gpt-4o", input="hi", stream=True, user=u,
                                             extra_headers={"x-fake-die-after": "3"}):
            kinds.append(event.type)
    assert kinds == ["response.created", "response.output_text.delta", "response.output_text.delta"]
    (ev,) = stored(rig, u)
    assert ev["id"].startswith("pxy-cut-") and (ev["output_tokens"], ev["model"]) == (2, "gpt-4o-2024-08-06")


def test_stream_of_completed_requests_all_recorded(rig: ProxyRig) -> None:
    """Many streams at once: each one event, none double counted, totals exact."""
    import concurrent.futures

    u = f"u-{uuid.uuid4().hex[:8]}"
    client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)

    def one(_: int) -> int:
        return len(list(client.chat.completions.create(model="gpt-4o", messages=CHAT, stream=True, user=u)))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(24))) == {len(fake.STREAM_WORDS) + 2}
    evs = stored(rig, u, 24)
    assert len(evs) == 24 and len({e["id"] for e in evs}) == 24
    assert sum(e["input_tokens"] for e in evs) == 24 * fake.STREAM_USAGE["prompt_tokens"]
