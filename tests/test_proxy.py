"""The metering proxy end to end: the official ``openai`` SDK -> openusage -> a real fake upstream,
then the Usage API must report exactly what the upstream sent."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from openusage.auth import create_key
from openusage.store import Store
from tests import fake_upstream as fake
from tests.conftest import new_store, tls
from tests.fake_upstream import ProxyRig, start_fake_upstream, start_proxy_rig

BUDGET_PROJECT = "proj_over_budget"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyRig]:
    store = new_store(tmp_path_factory.mktemp("proxy") / "usage.duckdb")
    second = start_fake_upstream()
    r = start_proxy_rig(store, budgets=[f"{BUDGET_PROJECT}=100", "proj_x=1000"],
                        extra_upstreams=[f"llama-*={second.url}"])
    r.second = second  # type: ignore[attr-defined]
    yield r
    r.stop()
    second.stop()
    store.close()


def sdk(rig: ProxyRig, key: str | None = None, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=rig.base_url, api_key=key or rig.key, max_retries=0, **kw)


def usage(rig: ProxyRig, endpoint: str, user: str, expect_requests: int, **params: Any) -> dict[str, Any]:
    """Summed results for one user, once the expected number of requests is recorded (bounded wait)."""
    deadline = time.monotonic() + 10
    with rig.server.client() as c:
        while True:
            r = c.get(f"/v1/organization/usage/{endpoint}",
                      params={"start_time": int(time.time()) - 3600, "bucket_width": "1h", "user_ids": user, **params})
            assert r.status_code == 200, r.text
            results = [res for b in r.json()["data"] for res in b["results"]]
            total = sum(res["num_model_requests"] for res in results)
            if total >= expect_requests or time.monotonic() > deadline:
                break
            time.sleep(0.02)
    assert total == expect_requests, results
    assert len(results) == 1, results
    return results[0]


def events(store: Store, user: str) -> list[dict[str, Any]]:
    """Stored events of one user, straight from the store (for the id markers)."""
    con = store._reader()  # type: ignore[attr-defined]
    rows = con.execute("SELECT id, type, model, num_model_requests, output_tokens FROM events WHERE user_id = ? "
                       "ORDER BY id", [user]).fetchall()
    return [dict(zip(("id", "type", "model", "num_model_requests", "output_tokens"), r, strict=True)) for r in rows]


def user() -> str:
    return f"user-{uuid.uuid4().hex[:10]}"


CHAT = [{"role": "user", "content": "Say hello"}]
COMPLETIONS_GROUPS = {"group_by": ["model", "project_id", "api_key_id", "user_id", "batch", "service_tier"]}


def test_chat_completion_recorded_exactly(rig: ProxyRig) -> None:
    u = user()
    answer = sdk(rig).chat.completions.create(model="gpt-4o", messages=CHAT, user=u, service_tier="flex")
    assert answer.usage is not None and answer.usage.prompt_tokens == 25
    assert answer.model == "gpt-4o-2024-08-06"
    got = usage(rig, "completions", u, 1, **COMPLETIONS_GROUPS)
    key_id = rig.key.split("_")[1]
    assert {k: got[k] for k in ("model", "project_id", "api_key_id", "user_id", "batch", "service_tier")} == {
        "model": "gpt-4o-2024-08-06", "project_id": "proj_x", "api_key_id": key_id, "user_id": u, "batch": False,
        "service_tier": "flex"}
    assert {k: v for k, v in got.items() if k.endswith("_tokens")} == {
        "input_tokens": 25, "output_tokens": 12, "input_cached_tokens": 8, "input_audio_tokens": 3,
        "output_audio_tokens": 2, "input_text_tokens": 14, "input_image_tokens": 0, "input_uncached_tokens": 17,
        "input_cached_text_tokens": 8, "input_cached_audio_tokens": 0, "input_cached_image_tokens": 0,
        "input_cache_write_tokens": 0, "input_cache_write_30m_tokens": 0, "input_cache_write_12h_tokens": 0,
        "output_text_tokens": 10, "output_image_tokens": 0}
    assert [e["id"][:4] for e in events(rig.server.store, u)] == ["pxy-"]


def test_keys_never_cross(rig: ProxyRig) -> None:
    """The upstream sees its own key, never the client's; the client never sees the upstream's."""
    u = user()
    raw = httpx.post(rig.base_url + "/chat/completions", json={"model": "gpt-4o", "messages": CHAT, "user": u},
                     headers={"Authorization": f"Bearer {rig.key}"}, verify=tls())
    assert raw.status_code == 200
    seen = rig.upstream.app.requests[-1]
    assert seen.headers["authorization"] == "Bearer sk-upstream-secret"
    assert rig.key not in repr(seen.headers) and rig.key.encode() not in seen.body
    assert "sk-upstream-secret" not in raw.text and "sk-upstream-secret" not in repr(raw.headers)


def test_stream_without_usage_hides_the_added_chunk(rig: ProxyRig) -> None:
    u = user()
    chunks = list(sdk(rig).chat.completions.create(model="gpt-4o", messages=CHAT, user=u, stream=True))
    assert rig.upstream.app.requests[-1].json()["stream_options"] == {"include_usage": True}
    assert all(c.usage is None and c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "".join(fake.STREAM_WORDS)
    got = usage(rig, "completions", u, 1)
    assert (got["input_tokens"], got["output_tokens"]) == (fake.STREAM_USAGE["prompt_tokens"],
                                                           fake.STREAM_USAGE["completion_tokens"])


def test_stream_with_usage_keeps_the_chunk(rig: ProxyRig) -> None:
    u = user()
    chunks = list(sdk(rig).chat.completions.create(model="gpt-4o-mini", messages=CHAT, user=u, stream=True,
                                                   stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == fake.STREAM_USAGE["prompt_tokens"]
    got = usage(rig, "completions", u, 1, group_by="model")
    assert (got["model"], got["input_tokens"], got["output_tokens"]) == (
        "gpt-4o-mini-2024-07-18", fake.STREAM_USAGE["prompt_tokens"], fake.STREAM_USAGE["completion_tokens"])


def test_legacy_completions_plain_and_stream(rig: ProxyRig) -> None:
    u = user()
    client = sdk(rig)
    client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hello", user=u)
    pieces = list(client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hello", user=u, stream=True))
    assert all(p.usage is None for p in pieces) and len(pieces) == len(fake.STREAM_WORDS)
    got = usage(rig, "completions", u, 2)
    assert (got["input_tokens"], got["output_tokens"]) == (10, 14)


def test_responses_plain_and_stream(rig: ProxyRig) -> None:
    u = user()
    client = sdk(rig)
    resp = client.responses.create(model="gpt-4o", input="Say hello", user=u)
    assert resp.output_text == "".join(fake.STREAM_WORDS)
    kinds = [e.type for e in client.responses.create(model="gpt-4o", input="Say hello", user=u, stream=True)]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "stream_options" not in rig.upstream.app.requests[-1].json()
    got = usage(rig, "completions", u, 2)
    ru = fake.RESPONSES_USAGE
    assert (got["input_tokens"], got["output_tokens"], got["input_cached_tokens"], got["input_text_tokens"],
            got["output_text_tokens"]) == (2 * 31, 2 * 9, 2 * 16, 2 * 15, 2 * 9)
    assert ru["input_tokens"] == 31


def test_embeddings_and_moderations(rig: ProxyRig) -> None:
    u = user()
    client = sdk(rig)
    emb = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], user=u)
    assert list(emb.data[0].embedding) == [0.25, -0.5, 1.0]
    got = usage(rig, "embeddings", u, 1, group_by="model")
    assert (got["input_tokens"], got["model"]) == (2 * fake.EMBEDDING_TOKENS, "text-embedding-3-small")
    client.moderations.create(model="omni-moderation-latest", input="hi", extra_headers={"OpenAI-User": u})
    got = usage(rig, "moderations", u, 1, group_by="model")
    assert (got["input_tokens"], got["model"]) == (0, "omni-moderation-latest")


def test_images_counted_with_size(rig: ProxyRig) -> None:
    u = user()
    out = sdk(rig).images.generate(model="dall-e-3", prompt="a cat", n=2, size="1024x1792", user=u)
    assert len(out.data) == 2
    got = usage(rig, "images", u, 1, group_by=["size", "source", "model"])
    assert (got["images"], got["size"], got["source"], got["model"]) == (2, "1024x1792", "image.generation",
                                                                         "dall-e-3")


def test_speech_counts_characters(rig: ProxyRig) -> None:
    u = user()
    text = "The quick brown fox jumps over the lazy dog."
    audio = sdk(rig).audio.speech.create(model="tts-1", voice="alloy", input=text, extra_headers={"OpenAI-User": u})
    assert audio.content.startswith(b"ID3")
    got = usage(rig, "audio_speeches", u, 1, group_by="model")
    assert (got["characters"], got["model"]) == (len(text), "tts-1")


def test_speech_streamed_as_events_counts_characters(rig: ProxyRig) -> None:
    u = user()
    text = "Streamed speech."
    r = httpx.post(rig.base_url + "/audio/speech", headers={"Authorization": f"Bearer {rig.key}", "OpenAI-User": u},
                   json={"model": "gpt-4o-mini-tts", "voice": "alloy", "input": text, "stream_format": "sse"},
                   verify=tls())
    assert r.status_code == 200 and r.text.count("speech.audio.delta") == 3 and "speech.audio.done" in r.text
    got = usage(rig, "audio_speeches", u, 1, group_by="model")
    assert (got["characters"], got["model"]) == (len(text), "gpt-4o-mini-tts")
    assert [e["id"][:8] for e in events(rig.server.store, u)] != ["pxy-cut-"]


def test_transcription_counts_seconds(rig: ProxyRig) -> None:
    u = user()
    client = sdk(rig)
    wav = io.BytesIO(b"RIFF" + bytes(64))
    wav.name = "a.wav"
    text = client.audio.transcriptions.create(model="whisper-1", file=wav, extra_headers={"OpenAI-User": u})
    assert text.text == "".join(fake.STREAM_WORDS)
    wav.seek(0)
    client.audio.transcriptions.create(model="whisper-1", file=wav, response_format="verbose_json",
                                       extra_headers={"OpenAI-User": u})
    got = usage(rig, "audio_transcriptions", u, 2, group_by="model")
    assert (got["seconds"], got["model"]) == (2 * fake.TRANSCRIPTION_SECONDS, "whisper-1")


def _settled_count(rig: ProxyRig) -> int:
    """The store's event count once the proxy has committed what earlier tests sent through it (it
    commits about once a second): the same count across 1.5 s, waited for at most 15 s."""
    count = rig.server.store.count_events()
    for _ in range(10):
        time.sleep(1.5)
        now = rig.server.store.count_events()
        if now == count:
            break
        count = now
    return count


def test_other_paths_pass_through_unrecorded(rig: ProxyRig) -> None:
    before = _settled_count(rig)
    models = sdk(rig).models.list()
    assert [m.id for m in models.data] == list(fake.MODEL_SNAPSHOTS.values())
    time.sleep(1.5)  # past the proxy's next commit: anything recorded would be counted by now
    assert rig.server.store.count_events() == before
    assert rig.upstream.app.requests[-1].path == "/v1/models"


def test_routes_by_model_glob(rig: ProxyRig) -> None:
    second = rig.second  # type: ignore[attr-defined]
    n_main, n_second = len(rig.upstream.app.requests), len(second.app.requests)
    sdk(rig).chat.completions.create(model="llama-3-8b", messages=CHAT)
    assert (len(rig.upstream.app.requests), len(second.app.requests)) == (n_main, n_second + 1)
    sdk(rig).chat.completions.create(model="gpt-4o", messages=CHAT)
    assert (len(rig.upstream.app.requests), len(second.app.requests)) == (n_main + 1, n_second + 1)


@pytest.mark.parametrize("key", ["ouk_000000000000_wrong", "sk-not-ours", None])
def test_wrong_key_is_401_and_nothing_forwarded(rig: ProxyRig, key: str | None) -> None:
    n = len(rig.upstream.app.requests)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = httpx.post(rig.base_url + "/chat/completions", json={"model": "gpt-4o", "messages": CHAT}, headers=headers,
                   verify=tls())
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        sdk(rig, key=key or "x").chat.completions.create(model="gpt-4o", messages=CHAT)
    assert len(rig.upstream.app.requests) == n


def test_read_key_is_403_and_nothing_forwarded(rig: ProxyRig) -> None:
    read_key = create_key(rig.server.store, "reader", "read").secret
    n = len(rig.upstream.app.requests)
    with pytest.raises(openai.PermissionDeniedError):
        sdk(rig, key=read_key).chat.completions.create(model="gpt-4o", messages=CHAT)
    assert len(rig.upstream.app.requests) == n


def test_admin_key_may_proxy_with_project_header(rig: ProxyRig) -> None:
    u = user()
    sdk(rig, key=rig.server.admin_key).embeddings.create(
        model="text-embedding-3-small", input="x", user=u, extra_headers={"OpenAI-Project": "proj_admin"})
    got = usage(rig, "embeddings", u, 1, group_by=["project_id", "api_key_id"])
    assert (got["project_id"], got["api_key_id"]) == ("proj_admin", "env")
    assert "openai-project" not in rig.upstream.app.requests[-1].headers


@pytest.mark.parametrize("status, error", [(400, openai.BadRequestError), (429, openai.RateLimitError),
                                           (503, openai.InternalServerError)])
def test_upstream_error_passed_back_and_recorded(rig: ProxyRig, status: int, error: type[Exception]) -> None:
    u = user()
    with pytest.raises(error) as info:
        sdk(rig).chat.completions.create(model="gpt-4o", messages=CHAT, user=u,
                                         extra_headers={"x-fake-status": str(status)})
    assert info.value.status_code == status  # type: ignore[attr-defined]
    assert info.value.body == {"message": f"The upstream failed with {status}.",  # type: ignore[attr-defined]
                               "type": "server_error" if status >= 500 else "invalid_request_error",
                               "param": None, "code": f"fake_{status}"}
    assert info.value.response.headers["openai-processing-ms"] == "7"  # type: ignore[attr-defined]
    got = usage(rig, "completions", u, 1)
    assert (got["input_tokens"], got["output_tokens"]) == (0, 0)
    assert [e["id"][:12] for e in events(rig.server.store, u)] == [f"pxy-err-{status}-"]


def test_failed_image_request_counts_no_images(rig: ProxyRig) -> None:
    u = user()
    with pytest.raises(openai.InternalServerError):
        sdk(rig).images.generate(model="dall-e-3", prompt="x", user=u, extra_headers={"x-fake-status": "500"})
    assert usage(rig, "images", u, 1)["images"] == 0


def test_budget_exceeded_is_429_and_not_forwarded(rig: ProxyRig) -> None:
    now = time.time()
    with rig.server.client() as c:
        r = c.post("/v1/usage/events", json={"events": [
            {"id": f"cost-{uuid.uuid4().hex}", "type": "costs", "timestamp": now - 1, "project_id": BUDGET_PROJECT,
             "line_item": "gpt-4o, input", "amount": "150.00"},
            {"id": f"cost-{uuid.uuid4().hex}", "type": "costs", "timestamp": now - 1, "project_id": "proj_x",
             "line_item": "gpt-4o, input", "amount": "150.00"}]})
        assert r.status_code == 200, r.text
    over = create_key(rig.server.store, "over", "proxy", [BUDGET_PROJECT]).secret
    n = len(rig.upstream.app.requests)
    with pytest.raises(openai.RateLimitError) as info:
        sdk(rig, key=over).chat.completions.create(model="gpt-4o", messages=CHAT)
    assert info.value.body["type"] == info.value.body["code"] == "insufficient_quota"  # type: ignore[index]
    assert "monthly budget of $100" in info.value.body["message"]  # type: ignore[index]
    assert len(rig.upstream.app.requests) == n
    sdk(rig).chat.completions.create(model="gpt-4o", messages=CHAT)  # proj_x: 150 of 1000 spent
    assert len(rig.upstream.app.requests) == n + 1


def test_bad_requests(rig: ProxyRig) -> None:
    h = {"Authorization": f"Bearer {rig.key}"}
    n = len(rig.upstream.app.requests)
    r = httpx.post(rig.base_url + "/chat/completions", content=b"{not json",
                   headers={**h, "content-type": "application/json"}, verify=tls())
    assert (r.status_code, r.json()["error"]["type"]) == (400, "invalid_request_error")
    r = httpx.get(rig.server.url + "/v1/organization/nothing-here", headers=h, verify=tls())
    assert r.status_code == 404
    assert len(rig.upstream.app.requests) == n
    r = httpx.post(rig.base_url + "/no/such/path", json={"model": "gpt-4o"}, headers=h,  # the upstream's 404
                   verify=tls())
    assert (r.status_code, r.json()["error"]["message"]) == (404, "Invalid URL (POST /v1/no/such/path)")


def test_unknown_model_without_default_upstream(tmp_path: Any) -> None:
    from openusage.proxy import install, settings_from_options
    from openusage.server.app import ServerSettings
    from tests.conftest import ADMIN_KEY, start_server

    store = new_store(tmp_path / "u.duckdb")
    settings = ServerSettings(admin_key=ADMIN_KEY)
    install(settings, settings_from_options(["gpt-*=http://127.0.0.1:9/v1"]))
    srv = start_server(store, settings)
    try:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ADMIN_KEY, max_retries=0)
        with pytest.raises(openai.NotFoundError) as info:
            client.chat.completions.create(model="claude-3", messages=CHAT)
        assert info.value.body["code"] == "model_not_found"  # type: ignore[index]
        with pytest.raises(openai.APIStatusError) as down:  # nothing listens on port 9
            client.chat.completions.create(model="gpt-4o", messages=CHAT, user="u-down")
        assert (down.value.status_code, down.value.body["code"]) == (502, "upstream_unavailable")  # type: ignore[index]
    finally:
        srv.stop()
    assert store._reader().execute("SELECT id LIKE 'pxy-err-502-%' FROM events").fetchall() == [(True,)]  # type: ignore[attr-defined]
    store.close()
