"""Everything of the client that does no I/O, written once for the sync and async twins.

* configuration (arguments, then ``OPENUSAGE_*``, then ``OPENAI_ADMIN_KEY`` and OpenAI's URL);
* request building and validation (:func:`openusage.query.params.parse_params`, so a bad argument
  fails before it is sent with the message the server would give);
* the retry protocol, as a generator that yields "send this" / "sleep that long" steps and is
  driven by a few lines of sync or async code (the shape of ``httpx._auth``);
* response parsing and the pagination loop, also a generator.

The endpoint methods themselves are generated as code into ``_generated.py`` (see ``_gen.py``).
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

from .. import __version__
from ..errors import APIConnectionError, ApiError, BadRequestError, error_for_status
from ..query.params import parse_params
from ..spec import Endpoint
from ._views import ApiResponse, Page, concat_pages

log = logging.getLogger("openusage.client")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_MAX_RETRIES = 2
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 60.0
"""A ``retry-after`` longer than this is not waited for: the error is raised instead."""
MAX_PAGES = 100_000
"""Safety bound on a pagination loop (a year of 1m buckets at 1,440 per page is 366 pages)."""


class ArgumentError(BadRequestError, ValueError):
    """An argument the API would refuse, caught before sending (same message as the server's 400)."""


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def resolve_base_url(base_url: str | None) -> str:
    """The API root: the argument, ``OPENUSAGE_BASE_URL``, or OpenAI's.  A bare host gets ``/v1``."""
    url = base_url or os.environ.get("OPENUSAGE_BASE_URL") or DEFAULT_BASE_URL
    url = url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL}, got {url!r}")
    if parts.path in ("", "/"):
        url += "/v1"
    return url


def resolve_api_key(api_key: str | None) -> str:
    key = api_key or os.environ.get("OPENUSAGE_API_KEY") or os.environ.get("OPENAI_ADMIN_KEY")
    if not key:
        raise ValueError("No API key: pass api_key=..., or set OPENUSAGE_API_KEY (an openusage server) "
                         "or OPENAI_ADMIN_KEY (an OpenAI organization admin key).")
    return key


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str
    timeout: httpx.Timeout
    max_retries: int
    headers: dict[str, str]
    validate: bool

    @classmethod
    def build(cls, base_url: str | None, api_key: str | None, timeout: float | httpx.Timeout | None,
              max_retries: int, default_headers: Mapping[str, str] | None, validate: bool) -> ClientConfig:
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        key = resolve_api_key(api_key)
        headers = {
            "Authorization": f"Bearer {key}",
            "Accept": "application/json",
            "User-Agent": f"openusage-python/{__version__}",
            **dict(default_headers or {}),
        }
        t = timeout if isinstance(timeout, httpx.Timeout) else (
            DEFAULT_TIMEOUT if timeout is None else httpx.Timeout(timeout))
        return cls(resolve_base_url(base_url), key, t, max_retries, headers, validate)

    def url(self, path: str) -> str:
        return self.base_url + path


# --------------------------------------------------------------------------------------------
# Request building and validation
# --------------------------------------------------------------------------------------------


def _unix(name: str, value: Any) -> str:
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return str(int(dt.timestamp()))
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentError(f"Invalid value for '{name}': expected Unix seconds (int) or a datetime, "
                            f"got {value!r}.", param=name)
    return str(value)


def _array(name: str, value: Any) -> list[str]:
    values = [value] if isinstance(value, str) else list(value)
    for v in values:
        if not isinstance(v, str):
            raise ArgumentError(f"Invalid value for '{name}': expected strings, got {v!r}.", param=name)
    return values


def build_items(endpoint: Endpoint, args: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The query string of one request as (name, value) pairs; arrays as repeated names."""
    items: list[tuple[str, str]] = []
    arrays = set(endpoint.array_params)
    for name in endpoint.parameters:
        value = args.get(name)
        if value is None:
            continue
        if name in ("start_time", "end_time"):
            items.append((name, _unix(name, value)))
        elif name in arrays:
            items.extend((name, v) for v in _array(name, value))
        elif isinstance(value, bool):
            items.append((name, "true" if value else "false"))
        elif name == "limit":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ArgumentError(f"Invalid value for 'limit': expected an integer, got {value!r}.", param="limit")
            items.append((name, str(value)))
        else:
            items.append((name, str(value)))
    return items


def validate_items(endpoint: Endpoint, items: list[tuple[str, str]]) -> None:
    """Refuse what the server would refuse, with its message (cursors are not decoded: they are opaque)."""
    try:
        parse_params(endpoint, items)
    except BadRequestError as exc:
        raise ArgumentError(exc.message, param=exc.param, code=exc.code) from None


# --------------------------------------------------------------------------------------------
# Responses and errors
# --------------------------------------------------------------------------------------------


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> ApiError:
    """The :mod:`openusage.errors` class for a status, with OpenAI's error fields when present."""
    cls = error_for_status(status)
    parsed: Any = None
    message = f"HTTP {status}"
    fields: dict[str, Any] = {}
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        message = f"HTTP {status}: {text[:500]}" if text else message
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        err = parsed["error"]
        message = str(err.get("message") or message)
        fields = {"param": err.get("param"), "code": err.get("code")}
        if isinstance(err.get("type"), str):
            fields["type"] = err["type"]
    return cls(message, status=status, headers=dict(headers), body=parsed, **fields)


def parse_response(endpoint: Endpoint, response: httpx.Response) -> ApiResponse[Any]:
    if response.status_code != 200:
        raise error_from_response(response.status_code, response.headers, response.content)
    try:
        raw = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ApiError(f"The answer from {response.request.url} is not JSON.", status=200,
                       headers=dict(response.headers)) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise ApiError(f"The answer from {response.request.url} is not a page of buckets.", status=200,
                       headers=dict(response.headers), body=raw)
    from .types import parse_page  # the generated result classes (not needed to generate them)

    return ApiResponse(response.status_code, response.headers, parse_page(raw, endpoint))


# --------------------------------------------------------------------------------------------
# Retries: one protocol, driven by the sync and the async client
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sleep:
    seconds: float


RETRY_STATUSES = frozenset({408, 409, 429})


def should_retry(response: httpx.Response) -> bool:
    hint = response.headers.get("x-should-retry")
    if hint == "true":
        return True
    if hint == "false":
        return False
    return response.status_code in RETRY_STATUSES or response.status_code >= 500


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, ``retry-after`` seconds or HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped at 8 s, each less up to 25%."""
    delay: float = min(INITIAL_RETRY_DELAY * 2**attempt, MAX_RETRY_DELAY)
    jitter = rng.random() if rng is not None else random.random()
    return delay * (1 - 0.25 * jitter)


def retry_delay(attempt: int, headers: Mapping[str, str] | None) -> float:
    asked = retry_after(headers) if headers is not None else None
    if asked is not None and asked <= MAX_RETRY_AFTER:
        return asked
    return backoff(attempt)


SendStep = httpx.Request | Sleep
Outcome = httpx.Response | Exception
SendFlow = Generator[SendStep, Outcome | None, httpx.Response]


def send_flow(request: httpx.Request, max_retries: int) -> SendFlow:
    """Yield the request, receive the response (or the transport error); retry as the answer allows.

    The driver sends each yielded request, sleeps on each :class:`Sleep`, and feeds back what
    happened.  The flow returns the final response, or raises :class:`APIConnectionError`.
    """
    for attempt in range(max_retries + 1):
        outcome = yield request
        last = attempt == max_retries
        if isinstance(outcome, Exception):
            if last:
                kind = "timed out" if isinstance(outcome, httpx.TimeoutException) else "failed"
                raise APIConnectionError(f"Request to {request.url} {kind}: {outcome}") from outcome
            delay = retry_delay(attempt, None)
            log.info("%s %s failed (%s); retrying in %.2f s", request.method, request.url, outcome, delay)
            yield Sleep(delay)
            continue
        assert isinstance(outcome, httpx.Response)
        if last or not should_retry(outcome):
            return outcome
        asked = retry_after(outcome.headers)
        if asked is not None and asked > MAX_RETRY_AFTER:
            return outcome  # the server wants a long pause: let the caller decide
        delay = retry_delay(attempt, outcome.headers)
        log.info("%s %s answered %s; retrying in %.2f s", request.method, request.url, outcome.status_code, delay)
        yield Sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def next_step(flow: SendFlow, outcome: Outcome | None) -> SendStep | httpx.Response:
    """Feed ``outcome`` to :func:`send_flow`: its next step, or the response it ends with."""
    try:
        return flow.send(outcome)
    except StopIteration as done:
        response: httpx.Response = done.value
        return response


def pages_flow(items: list[tuple[str, str]]) -> Generator[list[tuple[str, str]], Page[Any], None]:
    """Yield the query of each page; receive the page; stop after the last one (bounded)."""
    page = yield items
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        cursor = page.next_page
        if not page.has_more or not cursor:
            return
        if cursor in seen:
            raise ApiError(f"The server returned the cursor {cursor!r} twice; stopping instead of looping.")
        seen.add(cursor)
        page = yield [(k, v) for k, v in items if k != "page"] + [("page", cursor)]
    raise ApiError(f"More than {MAX_PAGES} pages: narrow the time range.")


HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)


class BaseClient(Generic[HttpT]):
    """State and pure helpers shared by :class:`UsageApi` and :class:`AsyncUsageApi`, whose
    ``httpx`` client (``HttpT``) is the one thing the constructor does not share."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 timeout: float | httpx.Timeout | None = None, max_retries: int = DEFAULT_MAX_RETRIES,
                 default_headers: Mapping[str, str] | None = None, http_client: HttpT | None = None,
                 validate: bool = True) -> None:
        self._config = ClientConfig.build(base_url, api_key, timeout, max_retries, default_headers, validate)
        self._owns_http = http_client is None
        self._http: HttpT = http_client if http_client is not None else self._new_http()

    def _new_http(self) -> HttpT:
        """The ``httpx`` client made when none is passed in (closed with the API client)."""
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def max_retries(self) -> int:
        return self._config.max_retries

    def _items(self, endpoint: Endpoint, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        items = build_items(endpoint, args)
        if self._config.validate:
            validate_items(endpoint, items)
        return items

    def _request(self, method: str, path: str, params: list[tuple[str, str]] | None = None,
                 content: bytes | None = None, headers: Mapping[str, str] | None = None) -> httpx.Request:
        query = None if params is None else tuple(params)  # a tuple: httpx's type for repeated names
        return self._http.build_request(method, self._config.url(path), params=query, content=content,
                                        headers={**self._config.headers, **dict(headers or {})},
                                        timeout=self._config.timeout)

    def _events_request(self, events: Iterable[Mapping[str, Any]]) -> httpx.Request:
        """``POST /v1/usage/events`` of openusage's ingestion API with ``events``."""
        return self._request("POST", "/usage/events", content=orjson.dumps({"events": list(events)}),
                             headers={"Content-Type": "application/json"})

    @staticmethod
    def _concat(pages: list[Page[Any]], endpoint: Endpoint) -> Page[Any]:
        return concat_pages(pages, endpoint)


def ingest_answer(response: httpx.Response) -> dict[str, int]:
    if response.status_code != 200:
        raise error_from_response(response.status_code, response.headers, response.content)
    answer: dict[str, int] = orjson.loads(response.content)
    return answer
