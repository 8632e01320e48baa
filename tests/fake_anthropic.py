"""A real local HTTP server speaking Anthropic's Usage & Cost Admin API, for ``sync --from anthropic``.

Shapes follow Anthropic's API reference (platform.claude.com/docs/en/api/admin-api/usage-cost):

* ``GET /v1/organizations/usage_report/messages``: query ``starting_at``/``ending_at`` (RFC 3339),
  ``bucket_width`` (1m/1h/1d), ``group_by[]``, ``limit``, ``page``; the answer
  ``{"data": [{"starting_at", "ending_at", "results": [{"uncached_input_tokens",
  "cache_creation": {"ephemeral_1h_input_tokens", "ephemeral_5m_input_tokens"},
  "cache_read_input_tokens", "output_tokens", "server_tool_use": {"web_search_requests"},
  "api_key_id", "workspace_id", "model", "service_tier", "context_window"}]}], "has_more",
  "next_page"}`` (the reference's example response, field for field);
* ``GET /v1/organizations/cost_report``: daily buckets whose results are
  ``{"currency": "USD", "amount": "123.78912", "workspace_id", "description", "cost_type",
  "context_window", "model", "service_tier", "token_type"}``, ``amount`` a decimal string in cents;
* headers ``x-api-key`` and ``anthropic-version: 2023-06-01``; errors in Anthropic's envelope
  ``{"type": "error", "error": {"type": "authentication_error", "message": ...}}``.

The data is generated per day from :func:`usage_rows` and :func:`cost_rows`, so a test computes the
expected totals from the same functions, independently of openusage's translation.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from tests.fake_upstream import serve_lifespan

KEY = "sk-ant-admin01-test"
DAY = 86400


def usage_rows(day_start: int) -> list[dict[str, Any]]:
    """The messages usage of one UTC day, grouped by workspace, key, model, tier and context window."""
    n = (day_start // DAY) % 7 + 1
    return [
        {"uncached_input_tokens": 1500 * n, "cache_creation": {"ephemeral_1h_input_tokens": 1000 * n,
                                                                "ephemeral_5m_input_tokens": 500 * n},
         "cache_read_input_tokens": 200 * n, "output_tokens": 500 * n, "server_tool_use": {"web_search_requests": n},
         "api_key_id": "apikey_01Rj2N8SVvo6BePZj99NhmiT", "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
         "model": "claude-sonnet-4-20250514", "service_tier": "standard", "context_window": "0-200k"},
        {"uncached_input_tokens": 300 * n, "cache_creation": None, "cache_read_input_tokens": 0,
         "output_tokens": 90 * n, "server_tool_use": {"web_search_requests": 0},
         "api_key_id": None, "workspace_id": None, "model": "claude-3-5-haiku-20241022", "service_tier": "batch",
         "context_window": "0-200k"},
    ]


def cost_rows(day_start: int) -> list[dict[str, Any]]:
    n = (day_start // DAY) % 7 + 1
    return [
        {"currency": "USD", "amount": f"{123.78912 * n:.5f}", "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
         "description": "Claude Sonnet 4 Usage - Input Tokens", "cost_type": "tokens", "context_window": "0-200k",
         "model": "claude-sonnet-4-20250514", "service_tier": "standard", "token_type": "uncached_input_tokens"},
        {"currency": "USD", "amount": "1000", "workspace_id": None, "description": "Web Search Usage",
         "cost_type": "web_search", "context_window": None, "model": None, "service_tier": None,
         "token_type": None},
    ]


def _time(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeAnthropic:
    throttle_first: int = 1
    """How many requests answer 429 (with ``retry-after: 0``) before the real answers."""
    requests: list[tuple[str, list[tuple[str, str]], dict[str, str]]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await serve_lifespan(receive, send)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        query = parse_qsl(scope["query_string"].decode(), keep_blank_values=True)
        self.requests.append((scope["path"], query, headers))
        if headers.get("x-api-key") != KEY:
            return await _send(send, 401, {"type": "error", "error": {"type": "authentication_error",
                                                                      "message": "invalid x-api-key"}})
        if headers.get("anthropic-version") != "2023-06-01":
            return await _send(send, 400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                      "message": "anthropic-version required"}})
        if self.throttle_first > 0:
            self.throttle_first -= 1
            return await _send(send, 429, {"type": "error", "error": {"type": "rate_limit_error",
                                                                      "message": "slow down"}},
                               [(b"retry-after", b"0")])
        if scope["path"] == "/v1/organizations/usage_report/messages":
            width = {"1d": DAY, "1h": 3600, "1m": 60}[dict(query).get("bucket_width", "1d")]
            rows = usage_rows if width == DAY else (lambda start: [])
            return await _send(send, 200, _pages(query, width, rows, 31))
        if scope["path"] == "/v1/organizations/cost_report":
            return await _send(send, 200, _pages(query, DAY, cost_rows, 31))
        await _send(send, 404, {"type": "error", "error": {"type": "not_found_error", "message": "no such path"}})


def _pages(query: list[tuple[str, str]], width: int, rows: Any, max_limit: int) -> dict[str, Any]:
    q = dict(query)
    start = _time(q["starting_at"])
    end = _time(q["ending_at"]) if "ending_at" in q else int(time.time())
    limit = min(int(q.get("limit", "7")), max_limit)
    if "page" in q:
        start = int(base64.b64decode(q["page"]).decode())
    starts = list(range(start - start % width, end, width))
    page, rest = starts[:limit], starts[limit:]
    data = [{"starting_at": _iso(s), "ending_at": _iso(s + width), "results": rows(s)} for s in page]
    nxt = base64.b64encode(str(rest[0]).encode()).decode() if rest else None
    return {"data": data, "has_more": bool(rest), "next_page": nxt}


async def _send(send: Any, status: int, body: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = orjson.dumps(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": payload})


@dataclass
class RunningAnthropic:
    url: str
    app: FakeAnthropic
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        from tests.conftest import stop_uvicorn

        stop_uvicorn(self.server, self.thread)


def start_fake_anthropic() -> RunningAnthropic:
    from tests.conftest import run_uvicorn

    app = FakeAnthropic()
    server, thread, port = run_uvicorn(app, None, "fake Anthropic server", log_level="critical")
    return RunningAnthropic(f"http://127.0.0.1:{port}", app, server, thread)
