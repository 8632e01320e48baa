"""The upstream connection: keep-alive reuse, connections the upstream closed, both transports, and
nothing lost when the server stops right after answering."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest

from tests import fake_upstream as fake
from tests.conftest import new_store
from tests.fake_upstream import start_proxy_rig

CHAT = [{"role": "user", "content": "Say hello"}]


def _transport(rig: fake.ProxyRig):  # type: ignore[no-untyped-def]
    (route,) = [r for r in rig.server.app.routes if getattr(r, "path", "") == "/v1/{path:path}"]
    return route.app._client._transport


def test_connections_are_reused_and_stale_ones_replaced(tmp_path: Path) -> None:
    store = new_store(tmp_path / "u.duckdb")
    rig = start_proxy_rig(store, keep_alive_s=1.5)
    try:
        client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
        for _ in range(5):
            client.chat.completions.create(model="gpt-4o", messages=CHAT)
        transport = _transport(rig)
        assert transport.opened == 1  # one keep-alive connection for five requests
        time.sleep(2.5)  # the upstream closes the idle connection
        answer = client.chat.completions.create(model="gpt-4o", messages=CHAT)
        assert answer.usage is not None and answer.usage.prompt_tokens == 25
        assert transport.opened == 2
    finally:
        rig.stop()
        store.close()


@pytest.mark.parametrize("transport", ["fast", "httpx"])
def test_both_transports_meter_the_same(tmp_path: Path, transport: str) -> None:
    store = new_store(tmp_path / "u.duckdb")
    rig = start_proxy_rig(store, transport=transport)
    try:
        client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
        client.chat.completions.create(model="gpt-4o", messages=CHAT, user="t")
        chunks = list(client.chat.completions.create(model="gpt-4o", messages=CHAT, user="t", stream=True))
        assert all(c.usage is None for c in chunks)
        with pytest.raises(openai.APIError, match="ended the stream early"):
            list(client.chat.completions.create(model="gpt-4o", messages=CHAT, user="t", stream=True,
                                                extra_headers={"x-fake-die-after": "3"}))
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o", messages=CHAT, user="t",
                                           extra_headers={"x-fake-status": "502"})
    finally:
        rig.stop()  # the shutdown hook hands the gathered events to the writer before it drains
    rows = store._reader().execute(  # type: ignore[attr-defined]
        "SELECT split_part(id, '-', 2), input_tokens, output_tokens FROM events ORDER BY input_tokens, output_tokens"
    ).fetchall()
    store.close()
    assert [r[1:] for r in rows] == [(0, 0), (0, 2), (19, 8), (25, 12)]
    assert [r[0] for r in rows][:2] == ["err", "cut"] and rows[2][0] == rows[3][0]  # the last two: pxy-<process>-n


def test_stop_right_after_answers_loses_nothing(tmp_path: Path) -> None:
    store = new_store(tmp_path / "u.duckdb")
    rig = start_proxy_rig(store, record_interval=30)  # nothing would be committed before the stop
    client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
    for _ in range(20):
        client.embeddings.create(model="text-embedding-3-small", input="x")
    rig.stop()
    assert store._reader().execute("SELECT count(*), sum(input_tokens) FROM events").fetchall() == [  # type: ignore[attr-defined]
        (20, 20 * fake.EMBEDDING_TOKENS)]
    store.close()


def test_large_binary_answer_and_cookies_not_kept(tmp_path: Path) -> None:
    """A 6 MB speech answer arrives whole (read paused and resumed on the way); a cookie the upstream
    sets reaches its caller but is never replayed for the next one."""
    store = new_store(tmp_path / "u.duckdb")
    rig = start_proxy_rig(store)
    try:
        client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
        size = 6 * 1024 * 1024
        raw = client.audio.speech.with_raw_response.create(
            model="tts-1", voice="alloy", input="hi",
            extra_headers={"x-fake-audio-bytes": str(size), "x-fake-set-cookie": "session=secret"})
        assert len(raw.content) == size and raw.content.startswith(b"ID3")
        assert raw.headers["content-length"] == str(size)
        assert raw.headers["set-cookie"] == "session=secret; Path=/"
        other = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)  # another caller
        other.models.list()
        assert "cookie" not in rig.upstream.app.requests[-1].headers
    finally:
        rig.stop()
        store.close()


def test_client_leaving_before_its_body_forwards_nothing(tmp_path: Path) -> None:
    import socket

    store = new_store(tmp_path / "u.duckdb")
    rig = start_proxy_rig(store)
    try:
        port = int(rig.server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {rig.key}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"model\":".encode())
            time.sleep(0.2)
        time.sleep(0.2)
        assert rig.upstream.app.requests == []
        client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
        assert client.embeddings.create(model="m", input="x").usage.prompt_tokens == fake.EMBEDDING_TOKENS
    finally:
        rig.stop()
        store.close()


@pytest.mark.parametrize("transport", ["fast", "httpx"])
def test_upstream_silence_beyond_the_read_timeout(tmp_path: Path, transport: str) -> None:
    store = new_store(tmp_path / "u.duckdb")
    rig = start_proxy_rig(store, transport=transport, read_timeout=0.3)
    try:
        client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="gpt-4o", messages=CHAT, user="slow",
                                           extra_headers={"x-fake-delay": "1.5"})
        assert (info.value.status_code, info.value.body["code"]) == (504, "upstream_unavailable")  # type: ignore[index]
        with pytest.raises(openai.APIError, match="ended the stream early"):
            list(client.chat.completions.create(model="gpt-4o", messages=CHAT, user="slow", stream=True,
                                                extra_headers={"x-fake-hold": "1.5"}))
    finally:
        rig.stop()
    ids = [r[0] for r in store._reader().execute("SELECT id FROM events ORDER BY ts_us").fetchall()]  # type: ignore[attr-defined]
    store.close()
    assert [i.split("-")[1] for i in ids] == ["err", "cut"] and ids[0].startswith("pxy-err-504-")


def test_budget_counts_priced_usage_of_the_proxy_itself(tmp_path: Path) -> None:
    """No cost lines imported: the spend is the proxied usage priced from the catalog (gpt-4o)."""
    store = new_store(tmp_path / "u.duckdb")
    rig = start_proxy_rig(store, budgets=["proj_x=0.0001"], budget_ttl=0)
    try:
        client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
        client.chat.completions.create(model="gpt-4o", messages=CHAT)  # $0 spent so far: allowed
        deadline = time.monotonic() + 10
        with rig.server.client() as c:
            while True:
                page = c.get("/v1/organization/costs", params={"start_time": int(time.time()) - 86400,
                                                               "project_ids": "proj_x"}).json()
                spent = sum(float(r["amount"]["value"]) for b in page["data"] for r in b["results"])
                if spent > 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        assert spent > 0.0001  # 25 input and 12 output tokens of gpt-4o-2024-08-06
        n = len(rig.upstream.app.requests)
        with pytest.raises(openai.RateLimitError, match="monthly budget"):
            client.chat.completions.create(model="gpt-4o", messages=CHAT)
        assert len(rig.upstream.app.requests) == n
    finally:
        rig.stop()
        store.close()
