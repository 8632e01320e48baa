"""Anthropic's Usage & Cost Admin API, read as OpenAI Usage API pages so the same mirror copies it.

``openusage sync --from anthropic`` hands :class:`AnthropicUsageSource` to
:func:`openusage.client.mirror.mirror_endpoint`, which asks it for ``usage_completions``,
``usage_web_search_calls`` and ``usage_costs`` pages exactly as it asks OpenAI; the translation
happens here, field by field (docs/sources.md has the table):

* ``GET /v1/organizations/usage_report/messages`` (``starting_at``/``ending_at`` in RFC 3339,
  ``bucket_width``, ``group_by[]``, ``limit``, ``page``/``next_page``) becomes completions results:
  the workspace is the project (``default`` where null); ``input_tokens`` keeps OpenAI's meaning
  (uncached + cache reads + cache writes); ``input_cached_tokens`` is the cache reads; cache writes
  (5-minute and 1-hour) are ``input_cache_write_tokens``; ``server_tool_use.web_search_requests``
  becomes web search calls. Anthropic reports no request counts, so ``num_model_requests`` is 0.
* ``GET /v1/organizations/cost_report`` (daily; ``amount`` a decimal string in cents) becomes
  costs results in dollars, one line item per model and token type (or the cost's description).

Requests carry ``x-api-key`` and ``anthropic-version: 2023-06-01``; 429 and 5xx are retried,
honouring ``retry-after``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import orjson

from ..errors import APIConnectionError, ApiError
from ..spec import ENDPOINTS_BY_NAME, USAGE_LIMITS
from ._base import error_from_response
from .mirror import bounded_http
from .types import Page, parse_page

ANTHROPIC = "https://api.anthropic.com"
VERSION = "2023-06-01"
USAGE_GROUPS = ("workspace_id", "api_key_id", "model", "service_tier", "context_window")
COST_GROUPS = ("workspace_id", "description")
DEFAULT_WORKSPACE = "default"
"""Anthropic's default workspace is reported as null; it is a project like any other here."""
COST_LIMIT = 31
TIERS = {"standard": "default", "batch": "default", "priority": "priority", "flex": "flex"}
Convert = Callable[[dict[str, Any]], "dict[str, Any] | None"]
"""One Anthropic result as an OpenAI result, or None when it has nothing to copy."""


def rfc3339(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unix(text: Any) -> int:
    value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp())


def _n(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def completions_result(r: dict[str, Any]) -> dict[str, Any]:
    """One messages usage result as an OpenAI completions result."""
    cache = r.get("cache_creation") or {}
    writes = _n(cache.get("ephemeral_5m_input_tokens")) + _n(cache.get("ephemeral_1h_input_tokens"))
    uncached, reads, output = _n(r.get("uncached_input_tokens")), _n(r.get("cache_read_input_tokens")), _n(
        r.get("output_tokens"))
    tier = r.get("service_tier")
    return {
        "object": "organization.usage.completions.result",
        "project_id": r.get("workspace_id") or DEFAULT_WORKSPACE,
        "api_key_id": r.get("api_key_id"),
        "model": r.get("model"),
        "batch": tier == "batch",
        "service_tier": TIERS.get(tier, tier) if isinstance(tier, str) else None,
        "input_tokens": uncached + reads + writes,
        "output_tokens": output,
        "input_cached_tokens": reads,
        "input_uncached_tokens": uncached,
        "input_text_tokens": uncached,
        "input_cached_text_tokens": reads,
        "input_cache_write_tokens": writes,
        "output_text_tokens": output,
        "num_model_requests": 0,
    }


def web_search_result(r: dict[str, Any]) -> dict[str, Any] | None:
    searches = _n((r.get("server_tool_use") or {}).get("web_search_requests"))
    if not searches:
        return None
    return {"object": "organization.usage.web_searches.result", "num_requests": searches, "num_model_requests": 0,
            "project_id": r.get("workspace_id") or DEFAULT_WORKSPACE, "api_key_id": r.get("api_key_id"),
            "model": r.get("model")}


def cost_result(r: dict[str, Any]) -> dict[str, Any] | None:
    """One cost report result (cents, as a decimal string) as an OpenAI costs result in dollars."""
    try:
        cents = Decimal(str(r.get("amount")))
    except InvalidOperation:
        return None
    if not cents.is_finite() or str(r.get("currency") or "USD").upper() != "USD":
        return None
    what = r.get("token_type") or r.get("cost_type")
    if r.get("model") and what:
        line = f"{r['model']}, {str(what).replace('_', ' ')}"
    else:
        line = str(r.get("description") or what or "anthropic")
    return {"object": "organization.costs.result", "amount": {"value": float(cents / 100), "currency": "usd"},
            "line_item": line, "project_id": r.get("workspace_id") or DEFAULT_WORKSPACE}


class AnthropicUsageSource:
    """The Usage API methods :func:`mirror_endpoint` calls, answered from Anthropic's Admin API."""

    endpoints = ("completions", "web_search_calls", "costs")

    def __init__(self, api_key: str, base_url: str | None = None, max_retries: int = 5,
                 timeout: float = 60.0, http: httpx.Client | None = None) -> None:
        self.base_url = (base_url or ANTHROPIC).rstrip("/")
        self.max_retries = max_retries
        self._http = http or bounded_http(timeout=timeout)
        self._headers = {"x-api-key": api_key, "anthropic-version": VERSION, "accept": "application/json"}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AnthropicUsageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        url = f"{self.base_url}/v1/organizations/{path}"
        for attempt in range(self.max_retries + 1):
            try:
                r = self._http.get(url, params=tuple(params), headers=self._headers)
            except httpx.HTTPError as exc:
                if attempt == self.max_retries:
                    raise APIConnectionError(f"Anthropic's Admin API did not answer: {exc}") from None
                time.sleep(min(2.0**attempt * 0.5, 8.0))
                continue
            if r.status_code == 429 or r.status_code >= 500:
                if attempt < self.max_retries:
                    time.sleep(_retry_after(r.headers.get("retry-after"), attempt))
                    continue
            if r.status_code != 200:
                raise _error(r)
            try:
                body = r.json()
            except ValueError:
                raise ApiError("Anthropic's Admin API answered with a body that is not JSON.") from None
            if not isinstance(body, dict):
                raise _unexpected()
            return body
        raise AssertionError("unreachable")  # pragma: no cover

    def _report(self, path: str, start: int, end_time: int | None, first: list[tuple[str, str]],
                groups: tuple[str, ...], page: str | None) -> dict[str, Any]:
        """One page of a report: both reports take the range, groups and cursor alike; ``first``
        holds what differs (width, limit)."""
        params = [("starting_at", rfc3339(start)), *first]
        if end_time is not None:
            params.append(("ending_at", rfc3339(end_time)))
        params += [("group_by[]", g) for g in groups]
        if page:
            params.append(("page", page))
        return self._get(path, params)

    def _messages(self, start: int, end_time: int | None, bucket_width: str | None, limit: int | None,
                  page: str | None) -> dict[str, Any]:
        width = bucket_width or "1d"
        first = [("bucket_width", width), ("limit", str(limit or USAGE_LIMITS[width][1]))]
        return self._report("usage_report/messages", start, end_time, first, USAGE_GROUPS, page)

    def _page(self, name: str, body: dict[str, Any], convert: Convert) -> Page[Any]:
        """An Anthropic report page as an OpenAI page; a body of another shape is one clear error
        rather than whatever a missing field would raise deep inside."""
        data = body.get("data") or []
        cursor = body.get("next_page")
        if not isinstance(data, list) or not (cursor is None or isinstance(cursor, str)):
            raise _unexpected()
        try:
            buckets = [_bucket(b, convert) for b in data]
        except (AttributeError, KeyError, TypeError, ValueError):
            raise _unexpected() from None
        raw = {"object": "page", "data": buckets, "has_more": bool(body.get("has_more")), "next_page": cursor}
        return parse_page(raw, ENDPOINTS_BY_NAME[name])

    def usage_completions(self, start_time: int, end_time: int | None = None, bucket_width: str | None = None,
                          group_by: Any = None, limit: int | None = None, page: str | None = None,
                          **_: Any) -> Page[Any]:
        return self._page("completions", self._messages(start_time, end_time, bucket_width, limit, page),
                          completions_result)

    def usage_web_search_calls(self, start_time: int, end_time: int | None = None, bucket_width: str | None = None,
                               group_by: Any = None, limit: int | None = None, page: str | None = None,
                               **_: Any) -> Page[Any]:
        return self._page("web_search_calls", self._messages(start_time, end_time, bucket_width, limit, page),
                          web_search_result)

    def usage_costs(self, start_time: int, end_time: int | None = None, bucket_width: str | None = None,
                    group_by: Any = None, limit: int | None = None, page: str | None = None,
                    **_: Any) -> Page[Any]:
        first = [("limit", str(min(limit or COST_LIMIT, COST_LIMIT)))]
        return self._page("costs", self._report("cost_report", start_time, end_time, first, COST_GROUPS, page),
                          cost_result)


def _bucket(b: dict[str, Any], convert: Convert) -> dict[str, Any]:
    """One report bucket as an OpenAI bucket; raises on a bucket of another shape (a result that is
    not an object is not skipped: the copy would silently miss usage)."""
    raw = b.get("results") or []
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise TypeError("results are not a list of objects")
    results = [x for x in (convert(r) for r in raw) if x]
    return {"object": "bucket", "start_time": unix(b["starting_at"]), "end_time": unix(b["ending_at"]),
            "results": results}


def _unexpected() -> ApiError:
    return ApiError("Anthropic's Admin API answered with an unexpected body.")


def _retry_after(value: str | None, attempt: int) -> float:
    try:
        return min(max(float(value), 0.0), 60.0) if value is not None else min(2.0**attempt * 0.5, 8.0)
    except ValueError:
        return min(2.0**attempt * 0.5, 8.0)


def _error(r: httpx.Response) -> ApiError:
    """Anthropic's envelope ``{"type": "error", "error": {"type", "message"}}`` as our error."""
    try:
        body = r.json()
        err = body.get("error") if isinstance(body, dict) else None
        message = f"Anthropic: {err.get('type')}: {err.get('message')}" if isinstance(err, dict) else r.text[:500]
    except ValueError:
        message = r.text[:500]
    envelope = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return error_from_response(r.status_code, r.headers, orjson.dumps(envelope))


__all__ = ["ANTHROPIC", "AnthropicUsageSource", "completions_result", "cost_result", "web_search_result"]
