"""A real local HTTP server speaking the OpenAI protocol, with canned but protocol-correct answers.

It stands in for a model server (vLLM, Ollama, OpenAI itself) in the proxy's tests and bench.  Every
answer's ``usage`` comes from the constants below, so a test can compare what the Usage API reports
with exactly what the upstream sent.  It is a bare ASGI app (no framework) so that, in the bench, it
is faster than anything put in front of it.

Knobs, per request (headers, which pass through the proxy unchanged):

* ``x-fake-status: 503``: answer with that status and an OpenAI error envelope;
* ``x-fake-delay: S``: wait S seconds before answering at all;
* ``x-fake-die-after: N``: in a stream, send N events, then drop the connection mid-stream;
* ``x-fake-first-delay: S``: wait S seconds before the first streamed event (slow first token);
* ``x-fake-hold: S``: after the first streamed event, wait S seconds before the rest;
* ``x-fake-chunk-delay: S``: wait S seconds between streamed events;
* ``x-fake-audio-bytes: N``: the size of a speech answer; ``x-fake-set-cookie: a=b``: set a cookie;
* ``x-fake-model-json: "..."``: a chat answer's ``model`` (and ``service_tier``), as a JSON string
  (so that it may hold what a header cannot, such as NUL).

``FakeUpstream.requests`` lists what arrived (path, headers, body); ``disconnects`` counts streams
the client abandoned.  Run alone: ``python tests/fake_upstream.py --port 9100`` (for the bench).
"""

from __future__ import annotations

import asyncio
import base64
import re
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CREATED = 1_764_000_000
STREAM_WORDS = ("Hello", " there", ",", " how", " can", " I", " help", "?")
CHAT_USAGE = {
    "prompt_tokens": 25, "completion_tokens": 12, "total_tokens": 37,
    "prompt_tokens_details": {"cached_tokens": 8, "audio_tokens": 3},
    "completion_tokens_details": {"reasoning_tokens": 4, "audio_tokens": 2, "accepted_prediction_tokens": 0,
                                  "rejected_prediction_tokens": 0},
}
STREAM_USAGE = {
    "prompt_tokens": 19, "completion_tokens": len(STREAM_WORDS), "total_tokens": 19 + len(STREAM_WORDS),
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
}
COMPLETION_USAGE = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
RESPONSES_USAGE = {
    "input_tokens": 31, "input_tokens_details": {"cached_tokens": 16},
    "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 5}, "total_tokens": 40,
}
EMBEDDING_TOKENS = 6
TRANSCRIPTION_SECONDS = 7
MODEL_SNAPSHOTS = {"gpt-4o": "gpt-4o-2024-08-06", "gpt-4o-mini": "gpt-4o-mini-2024-07-18"}
"""The upstream answers with a dated snapshot of these names, as OpenAI does."""


def answered_model(requested: str | None) -> str:
    return MODEL_SNAPSHOTS.get(requested or "", requested or "unknown-model")


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def serve_lifespan(receive: Receive, send: Send) -> None:
    """The ASGI lifespan protocol for an app with nothing to start or stop."""
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


@dataclass
class FakeUpstream:
    """The ASGI app; one instance per server so tests can read what it saw."""

    requests: list[Seen] = field(default_factory=list)
    disconnects: int = 0
    streams_finished: int = 0
    record: bool = True
    """The bench turns this off so the list does not grow for a million requests."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await serve_lifespan(receive, send)
        body = b""
        more = True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        if self.record:
            self.requests.append(Seen(scope["method"], path, headers, body))
        if "x-fake-delay" in headers:
            await asyncio.sleep(float(headers["x-fake-delay"]))
        status = headers.get("x-fake-status")
        if status:
            code = int(status)
            err = {"error": {"message": f"The upstream failed with {code}.", "type": "server_error" if code >= 500
                             else "invalid_request_error", "param": None, "code": f"fake_{code}"}}
            await _send(send, code, orjson.dumps(err), extra=[(b"openai-processing-ms", b"7")])
            return
        handler = ROUTES.get((scope["method"], path))
        if handler is None:
            err = {"error": {"message": f"Invalid URL ({scope['method']} {path})", "type": "invalid_request_error",
                             "param": None, "code": None}}
            await _send(send, 404, orjson.dumps(err))
            return
        await handler(self, headers, body, receive, send)

    # -- streaming -----------------------------------------------------------------------------
    async def stream(self, headers: dict[str, str], events: list[bytes], receive: Receive, send: Send) -> None:
        """Send SSE events with the timing knobs; stop early when the client goes away."""
        die_after = int(headers.get("x-fake-die-after", "-1"))
        first_delay = float(headers.get("x-fake-first-delay", "0"))
        hold = float(headers.get("x-fake-hold", "0"))
        gap = float(headers.get("x-fake-chunk-delay", "0"))
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream; charset=utf-8"),
                                    (b"x-request-id", b"req_fake_stream")]})
            for i, event in enumerate(events):
                delay = first_delay if i == 0 else hold if i == 1 else gap
                if delay and await _wait(gone, delay):
                    self.disconnects += 1
                    return
                if gone.is_set():
                    self.disconnects += 1
                    return
                if i == die_after:
                    raise ConnectionAbortedError("the fake upstream dies mid-stream (x-fake-die-after)")
                await send({"type": "http.response.body", "body": event, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            self.streams_finished += 1
        finally:
            watcher.cancel()


async def _wait(gone: asyncio.Event, seconds: float) -> bool:
    """Sleep, waking early (True) if the client disconnects."""
    try:
        await asyncio.wait_for(gone.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def _send(send: Send, status: int, body: bytes, ctype: bytes = b"application/json",
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + (data if isinstance(data, bytes) else orjson.dumps(data)) + b"\n\n"


def _include_usage(req: dict[str, Any]) -> bool:
    opts = req.get("stream_options") or {}
    return bool(opts.get("include_usage"))


# -- endpoints ---------------------------------------------------------------------------------
Handler = Callable[[FakeUpstream, dict[str, str], bytes, Receive, Send], Awaitable[None]]


async def chat(up: FakeUpstream, headers: dict[str, str], body: bytes, receive: Receive, send: Send) -> None:
    req = orjson.loads(body)
    model = answered_model(req.get("model"))
    tier = req.get("service_tier") or "default"
    if "x-fake-model-json" in headers:
        model = tier = orjson.loads(headers["x-fake-model-json"])
    base = {"id": "chatcmpl-fake", "created": CREATED, "model": model, "service_tier": tier,
            "system_fingerprint": "fp_fake"}
    if not req.get("stream"):
        answer = {**base, "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "".join(STREAM_WORDS), "refusal": None},
             "logprobs": None, "finish_reason": "stop"}], "usage": CHAT_USAGE}
        await _send(send, 200, orjson.dumps(answer))
        return
    with_usage = _include_usage(req)
    chunk = {**base, "object": "chat.completion.chunk"}
    extra = {"usage": None} if with_usage else {}
    events = [sse({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                         "logprobs": None, "finish_reason": None}], **extra})]
    events += [sse({**chunk, "choices": [{"index": 0, "delta": {"content": w}, "logprobs": None,
                                          "finish_reason": None}], **extra}) for w in STREAM_WORDS]
    events.append(sse({**chunk, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
                       **extra}))
    if with_usage:
        events.append(sse({**chunk, "choices": [], "usage": STREAM_USAGE}))
    events.append(b"data: [DONE]\n\n")
    await up.stream(headers, events, receive, send)


async def completions(up: FakeUpstream, headers: dict[str, str], body: bytes, receive: Receive, send: Send) -> None:
    req = orjson.loads(body)
    base = {"id": "cmpl-fake", "object": "text_completion", "created": CREATED, "model": answered_model(req["model"])}
    if not req.get("stream"):
        answer = {**base, "choices": [{"text": " world", "index": 0, "logprobs": None, "finish_reason": "stop"}],
                  "usage": COMPLETION_USAGE}
        await _send(send, 200, orjson.dumps(answer))
        return
    events = [sse({**base, "choices": [{"text": w, "index": 0, "logprobs": None, "finish_reason": None}]})
              for w in STREAM_WORDS]
    if _include_usage(req):
        events.append(sse({**base, "choices": [], "usage": COMPLETION_USAGE}))
    events.append(b"data: [DONE]\n\n")
    await up.stream(headers, events, receive, send)


def _response_object(req: dict[str, Any], status: str, usage: Any) -> dict[str, Any]:
    text = "".join(STREAM_WORDS)
    return {
        "id": "resp_fake", "object": "response", "created_at": CREATED, "status": status, "error": None,
        "incomplete_details": None, "instructions": None, "max_output_tokens": None,
        "model": answered_model(req.get("model")), "parallel_tool_calls": True, "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None}, "service_tier": req.get("service_tier") or "default",
        "store": True, "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto",
        "tools": [], "top_p": 1.0, "truncation": "disabled", "user": None, "metadata": {},
        "output": [] if status != "completed" else [
            {"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": text, "annotations": []}]}],
        "usage": usage,
    }


async def responses(up: FakeUpstream, headers: dict[str, str], body: bytes, receive: Receive, send: Send) -> None:
    req = orjson.loads(body)
    if not req.get("stream"):
        await _send(send, 200, orjson.dumps(_response_object(req, "completed", RESPONSES_USAGE)))
        return
    events = [sse({"type": "response.created", "sequence_number": 0,
                   "response": _response_object(req, "in_progress", None)}, "response.created")]
    for i, w in enumerate(STREAM_WORDS):
        events.append(sse({"type": "response.output_text.delta", "sequence_number": i + 1, "item_id": "msg_fake",
                           "output_index": 0, "content_index": 0, "delta": w, "logprobs": []},
                          "response.output_text.delta"))
    events.append(sse({"type": "response.completed", "sequence_number": len(STREAM_WORDS) + 1,
                       "response": _response_object(req, "completed", RESPONSES_USAGE)}, "response.completed"))
    await up.stream(headers, events, receive, send)


async def embeddings(up: FakeUpstream, headers: dict[str, str], body: bytes, receive: Receive, send: Send) -> None:
    req = orjson.loads(body)
    inputs = req["input"] if isinstance(req["input"], list) else [req["input"]]
    vector = [0.25, -0.5, 1.0]
    packed = base64.b64encode(struct.pack("<3f", *vector)).decode()
    data = [{"object": "embedding", "index": i,
             "embedding": packed if req.get("encoding_format") == "base64" else vector} for i in range(len(inputs))]
    tokens = EMBEDDING_TOKENS * len(inputs)
    answer = {"object": "list", "data": data, "model": answered_model(req.get("model")),
              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    await _send(send, 200, orjson.dumps(answer))


async def moderations(up: FakeUpstream, headers: dict[str, str], body: bytes, receive: Receive, send: Send) -> None:
    req = orjson.loads(body)
    answer = {"id": "modr-fake", "model": answered_model(req.get("model") or "omni-moderation-latest"),
              "results": [{"flagged": False, "categories": {"violence": False}, "category_scores": {"violence": 0.01},
                           "category_applied_input_types": {"violence": ["text"]}}]}
    await _send(send, 200, orjson.dumps(answer))


PNG_1PX = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()


async def images(up: FakeUpstream, headers: dict[str, str], body: bytes, receive: Receive, send: Send) -> None:
    req = orjson.loads(body)
    n = int(req.get("n") or 1)
    answer = {"created": CREATED, "data": [{"b64_json": PNG_1PX, "revised_prompt": req.get("prompt")}] * n,
              "size": req.get("size") or "1024x1024", "quality": req.get("quality") or "standard",
              "output_format": "png"}
    if str(req.get("model", "")).startswith("gpt-image"):  # gpt-image models report their tokens
        answer["usage"] = {"input_tokens": 50, "input_tokens_details": {"text_tokens": 40, "image_tokens": 10},
                           "output_tokens": 4160 * n, "total_tokens": 50 + 4160 * n}
    await _send(send, 200, orjson.dumps(answer))


async def speech(up: FakeUpstream, headers: dict[str, str], body: bytes, receive: Receive, send: Send) -> None:
    if orjson.loads(body).get("stream_format") == "sse":
        chunk = base64.b64encode(b"ID3\x04\x00").decode()
        events = [sse({"type": "speech.audio.delta", "audio": chunk}) for _ in range(3)]
        events.append(sse({"type": "speech.audio.done",
                           "usage": {"input_tokens": 4, "output_tokens": 30, "total_tokens": 34}}))
        await up.stream(headers, events, receive, send)
        return
    size = int(headers.get("x-fake-audio-bytes", "2048"))
    audio = (b"ID3\x04\x00" + bytes(range(256)) * (size // 256 + 1))[:size]
    cookie = headers.get("x-fake-set-cookie")
    await _send(send, 200, audio, ctype=b"audio/mpeg",
                extra=[(b"set-cookie", cookie.encode() + b"; Path=/")] if cookie else None)


_FORMAT = re.compile(rb'name="response_format"\r\n\r\n([^\r\n]*)\r\n')


async def transcriptions(up: FakeUpstream, headers: dict[str, str], body: bytes, receive: Receive,
                         send: Send) -> None:
    m = _FORMAT.search(body)
    fmt = m.group(1).decode() if m else "json"
    text = "".join(STREAM_WORDS)
    if fmt == "verbose_json":
        answer: dict[str, Any] = {"task": "transcribe", "language": "english", "duration": TRANSCRIPTION_SECONDS,
                                  "text": text, "segments": []}
    else:
        answer = {"text": text, "usage": {"type": "duration", "seconds": TRANSCRIPTION_SECONDS}}
    await _send(send, 200, orjson.dumps(answer))


async def models(up: FakeUpstream, headers: dict[str, str], body: bytes, receive: Receive, send: Send) -> None:
    data = [{"id": m, "object": "model", "created": CREATED, "owned_by": "fake"} for m in MODEL_SNAPSHOTS.values()]
    await _send(send, 200, orjson.dumps({"object": "list", "data": data}))


ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/v1/chat/completions"): chat,
    ("POST", "/v1/completions"): completions,
    ("POST", "/v1/responses"): responses,
    ("POST", "/v1/embeddings"): embeddings,
    ("POST", "/v1/moderations"): moderations,
    ("POST", "/v1/images/generations"): images,
    ("POST", "/v1/audio/speech"): speech,
    ("POST", "/v1/audio/transcriptions"): transcriptions,
    ("GET", "/v1/models"): models,
}


# -- running it ----------------------------------------------------------------------------------
@dataclass
class RunningUpstream:
    url: str
    """Base URL including ``/v1``, as an OpenAI client takes it."""
    app: FakeUpstream
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        from tests.conftest import stop_uvicorn

        stop_uvicorn(self.server, self.thread)


def start_fake_upstream(port: int = 0, keep_alive_s: float = 5) -> RunningUpstream:
    """Serve a fresh :class:`FakeUpstream` on loopback from a thread (uvicorn, its own event loop);
    idle connections are closed after ``keep_alive_s``."""
    from tests.conftest import run_uvicorn

    app = FakeUpstream()
    server, thread, port = run_uvicorn(app, port or None, "fake upstream", log_level="critical",
                                       timeout_keep_alive=keep_alive_s)
    return RunningUpstream(f"http://127.0.0.1:{port}/v1", app, server, thread)


def main() -> None:
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    app = FakeUpstream(record=False)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="critical", access_log=False)


if __name__ == "__main__":
    main()


# -- openusage in front of it (shared by the proxy tests and the bench) ---------------------------
@dataclass
class ProxyRig:
    """A fake upstream, an openusage server proxying to it, and a proxy key for ``project``."""

    upstream: RunningUpstream
    server: Any
    key: str
    project: str

    @property
    def base_url(self) -> str:
        return self.server.url + "/v1"

    def stop(self) -> None:
        self.server.stop()
        self.upstream.stop()


def start_proxy_rig(store: Any, project: str = "proj_x", upstream_key: str | None = "sk-upstream-secret",
                    budgets: list[str] | None = None, extra_upstreams: list[str] | None = None,
                    transport: str = "fast", keep_alive_s: float = 5, record_interval: float = 0.05,
                    read_timeout: float = 600, budget_ttl: float = 5) -> ProxyRig:
    from openusage.auth import create_key
    from openusage.proxy import install, settings_from_options
    from openusage.server.app import ServerSettings
    from tests.conftest import ADMIN_KEY, start_server

    upstream = start_fake_upstream(keep_alive_s=keep_alive_s)
    settings = ServerSettings(admin_key=ADMIN_KEY)
    proxy = settings_from_options([*(extra_upstreams or []), upstream.url], upstream_key, budgets)
    proxy.transport = transport  # type: ignore[assignment]
    proxy.record_interval = record_interval
    proxy.read_timeout = read_timeout
    proxy.budget_ttl = budget_ttl
    install(settings, proxy)
    server = start_server(store, settings)
    key = create_key(store, "proxy test", "proxy", [project]).secret
    return ProxyRig(upstream, server, key, project)
