"""The upstream connection: keep-alive reuse, connections the upstream closed, both transports, and
nothing lost when the server stops right after answering."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest

from openusage.store import open_store
from tests import fake_upstream as fake
from tests.fake_upstream import start_proxy_rig

CHAT = [{"role": "user", "content": "Say hello"}]


def _transport(rig: fake.ProxyRig):  # type: ignore[no-untyped-def]
    (route,) = [r for r in rig.server.server.config.app.routes if getattr(r, "path", "") == "/v1/{path:path}"]
    return route.app._client._transport


def test_connections_are_reused_and_stale_ones_replaced(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "u.duckdb"))
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
    store = open_store(str(tmp_path / "u.duckdb"))
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
    store = open_store(str(tmp_path / "u.duckdb"))
    rig = start_proxy_rig(store, record_interval=30)  # nothing would be committed before the stop
    client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
    for _ in range(20):
        client.embeddings.create(model="text-embedding-3-small", input="x")
    rig.stop()
    assert store._reader().execute("SELECT count(*), sum(input_tokens) FROM events").fetchall() == [  # type: ignore[attr-defined]
        (20, 20 * fake.EMBEDDING_TOKENS)]
    store.close()
