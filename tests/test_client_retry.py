"""Retries, timeouts, configuration and connection errors, proven on a small real HTTP server on
loopback that answers from a script (429 with retry-after, then 200 ...)."""

from __future__ import annotations

import email.utils
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest

from openusage import (
    APIConnectionError,
    AsyncUsageApi,
    InternalServerError,
    PermissionDeniedError,
    RateLimitError,
    UsageApi,
)
from openusage.client._base import MAX_RETRY_DELAY, backoff, resolve_base_url, retry_after
from tests.conftest import tls

pytestmark = pytest.mark.timing

PAGE = {"object": "page", "data": [{"object": "bucket", "start_time": 1730419200, "end_time": 1730505600,
                                    "results": [{"object": "organization.usage.embeddings.result",
                                                 "input_tokens": 16, "num_model_requests": 2,
                                                 "project_id": None, "user_id": None, "api_key_id": None,
                                                 "model": None}]}],
        "has_more": False, "next_page": None}


@dataclass
class Step:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    drop: bool = False
    """Close the connection without answering."""


@dataclass
class Recorded:
    at: float
    path: str
    headers: dict[str, str]


class ScriptedServer:
    """Answers each request with the next step of its script (the last step repeats)."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.requests: list[Recorded] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.requests.append(Recorded(time.monotonic(), self.path, {k.lower(): v for k, v in
                                                                             self.headers.items()}))
                step = owner.steps[min(len(owner.requests), len(owner.steps)) - 1]
                if step.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body = orjson.dumps(step.body if step.body is not None else PAGE)
                self.send_response(step.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in step.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def gaps(self) -> list[float]:
        return [b.at - a.at for a, b in zip(self.requests, self.requests[1:], strict=False)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[Any]:
    servers: list[ScriptedServer] = []

    def make(*steps: Step) -> ScriptedServer:
        s = ScriptedServer(list(steps))
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


ERROR_429 = {"error": {"message": "Rate limit reached", "type": "rate_limit_error", "param": None,
                       "code": "rate_limit_exceeded"}}


def test_429_with_retry_after_seconds_then_200(scripted: Any, caplog: pytest.LogCaptureFixture) -> None:
    srv = scripted(Step(429, {"retry-after": "1"}, ERROR_429), Step(200))
    with caplog.at_level("INFO", logger="openusage.client"), UsageApi(srv.url, "sk-x") as api:
        started = time.monotonic()
        page = api.usage_embeddings(1730419200)
        elapsed = time.monotonic() - started
    assert page.to_dict() == PAGE
    assert len(srv.requests) == 2
    assert 1.0 <= srv.gaps()[0] < 2.0 and elapsed >= 1.0
    assert srv.requests[0].path == srv.requests[1].path == "/v1/organization/usage/embeddings?start_time=1730419200"
    assert srv.requests[0].headers["authorization"] == "Bearer sk-x"
    assert [r.getMessage().split(" answered ")[1] for r in caplog.records] == ["429; retrying in 1.00 s"]


def test_retry_after_ms_and_http_date(scripted: Any) -> None:
    date = email.utils.formatdate(time.time() + 1, usegmt=True)
    srv = scripted(Step(503, {"retry-after-ms": "300"}), Step(429, {"retry-after": date}), Step(200))
    with UsageApi(srv.url, "sk-x", max_retries=3) as api:
        api.usage_embeddings(1730419200)
    assert len(srv.requests) == 3
    first, second = srv.gaps()
    assert 0.3 <= first < 0.9
    assert 0.0 <= second < 1.9  # an HTTP date one second ahead, whole seconds: waits up to a second


def test_gives_up_after_max_retries_with_the_error(scripted: Any) -> None:
    srv = scripted(Step(500, {"retry-after-ms": "10", "x-request-id": "req_1"},
                        {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}))
    with UsageApi(srv.url, "sk-x", max_retries=2) as api, pytest.raises(InternalServerError) as info:
        api.usage_embeddings(1730419200)
    assert len(srv.requests) == 3
    assert info.value.status == 500 and info.value.message == "boom" and info.value.request_id == "req_1"


def test_429_that_stays_is_a_rate_limit_error_with_retry_after(scripted: Any) -> None:
    srv = scripted(Step(429, {"retry-after": "0"}, ERROR_429))
    with UsageApi(srv.url, "sk-x", max_retries=1) as api, pytest.raises(RateLimitError) as info:
        api.usage_embeddings(1730419200)
    assert len(srv.requests) == 2
    assert info.value.code == "rate_limit_exceeded" and info.value.retry_after == 0.0


def test_no_retry_on_4xx_or_when_the_server_says_so(scripted: Any) -> None:
    srv = scripted(Step(403, {}, {"error": {"message": "no", "type": "invalid_request_error", "param": None,
                                            "code": None}}))
    with UsageApi(srv.url, "sk-x") as api, pytest.raises(PermissionDeniedError):
        api.usage_embeddings(1730419200)
    assert len(srv.requests) == 1
    srv2 = scripted(Step(503, {"x-should-retry": "false"}, {"oops": 1}))
    with UsageApi(srv2.url, "sk-x") as api, pytest.raises(InternalServerError) as info:
        api.usage_embeddings(1730419200)
    assert len(srv2.requests) == 1 and info.value.status == 503 and info.value.body == {"oops": 1}


def test_a_long_retry_after_is_not_waited_for(scripted: Any) -> None:
    srv = scripted(Step(429, {"retry-after": "3600"}, ERROR_429))
    with UsageApi(srv.url, "sk-x") as api, pytest.raises(RateLimitError) as info:
        api.usage_embeddings(1730419200)
    assert len(srv.requests) == 1 and info.value.retry_after == 3600.0


def test_dropped_connection_is_retried_then_reported(scripted: Any) -> None:
    srv = scripted(Step(drop=True), Step(200))
    with UsageApi(srv.url, "sk-x") as api:
        assert api.usage_embeddings(1730419200).to_dict() == PAGE
    assert len(srv.requests) == 2
    srv2 = scripted(Step(drop=True))
    with UsageApi(srv2.url, "sk-x", max_retries=1) as api, pytest.raises(APIConnectionError):
        api.usage_embeddings(1730419200)
    assert len(srv2.requests) == 2


def test_refused_connection_and_timeout() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with UsageApi(f"http://127.0.0.1:{port}", "sk-x", max_retries=0) as api:
        with pytest.raises(APIConnectionError, match="failed"):
            api.usage_embeddings(1730419200)
    with socket.socket() as listener:  # accepts, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with UsageApi(url, "sk-x", max_retries=0, timeout=0.3) as api, pytest.raises(APIConnectionError,
                                                                                      match="timed out"):
            api.usage_embeddings(1730419200)


async def test_async_retries_the_same_way(scripted: Any) -> None:
    srv = scripted(Step(429, {"retry-after-ms": "200"}, ERROR_429), Step(502, {"retry-after-ms": "100"}), Step(200))
    async with AsyncUsageApi(srv.url, "sk-x", max_retries=2) as api:
        info = await api.usage_embeddings_with_http_info(1730419200)
    assert info.status_code == 200 and info.data.to_dict() == PAGE
    assert len(srv.requests) == 3
    assert srv.gaps()[0] >= 0.2 and srv.gaps()[1] >= 0.1


def test_custom_headers_and_injected_client(scripted: Any) -> None:
    srv = scripted(Step(200))
    http = httpx.Client(verify=tls())
    api = UsageApi(srv.url, "sk-x", default_headers={"OpenAI-Organization": "org_1"}, http_client=http)
    with api:
        api.usage_embeddings(1730419200)
    assert srv.requests[0].headers["openai-organization"] == "org_1"
    assert srv.requests[0].headers["user-agent"].startswith("openusage-python/")
    assert not http.is_closed  # not ours to close
    http.close()
    owned = UsageApi(srv.url, "sk-x")
    with owned:
        pass
    assert owned._http.is_closed


def test_configuration_from_arguments_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENUSAGE_BASE_URL", "OPENUSAGE_API_KEY", "OPENAI_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="No API key"):
        UsageApi()
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin")
    api = UsageApi()
    assert api.base_url == "https://api.openai.com/v1" and api._config.api_key == "sk-admin"
    monkeypatch.setenv("OPENUSAGE_BASE_URL", "http://localhost:8787")
    monkeypatch.setenv("OPENUSAGE_API_KEY", "ouk_1_2")
    api = UsageApi()
    assert api.base_url == "http://localhost:8787/v1" and api._config.api_key == "ouk_1_2"
    api = UsageApi("https://proxy.example/openai/v1/", "k")
    assert api.base_url == "https://proxy.example/openai/v1" and api._config.api_key == "k"
    for bad in ("localhost:8787", "ftp://x"):
        with pytest.raises(ValueError, match="base_url"):
            resolve_base_url(bad)
    with pytest.raises(ValueError, match="max_retries"):
        UsageApi(api_key="k", max_retries=-1)


def test_backoff_and_retry_after_parsing() -> None:
    assert [round(backoff(a, _Fixed(0.0)), 3) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, MAX_RETRY_DELAY]
    assert backoff(2, _Fixed(1.0)) == 1.5  # jitter takes off up to 25%
    assert retry_after({"retry-after": "2.5"}) == 2.5
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


class _Fixed:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value
